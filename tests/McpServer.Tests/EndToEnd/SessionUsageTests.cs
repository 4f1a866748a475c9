using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>session_list says what each running session uses now: processes, resident memory, CPU time.</summary>
public sealed class SessionUsageTests
{
    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ARunningJobShowsInTheSessionsProcessesAndMemory(string backend)
    {
        // Given a session running a job that holds 20 MiB, and one doing nothing
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var busy = await server.CreateSessionAsync(backend);
        var idle = await server.CreateSessionAsync(backend);
        await server.CallAsync("session_exec", new { session_id = busy, command = "x=$(seq 1 3000000); sleep 60", background = true });

        // When the sessions are listed (the job has started its processes)
        System.Text.Json.Nodes.JsonNode? busyUse = null;
        var seen = await Poll.UntilAsync(async () =>
        {
            var listed = (await server.CallAsync("session_list"))["sessions"]!.AsArray();
            busyUse = listed.Single(s => s!["session_id"]!.GetValue<string>() == busy)!["resources"];
            return busyUse is not null && busyUse["memory_bytes"]!.GetValue<long>() > 10_000_000;
        }, TimeSpan.FromSeconds(20));
        Assert.True(seen, busyUse?.ToJsonString() ?? "no resources listed");
        var idleUse = (await server.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == idle)!["resources"];

        // Then the busy one shows its processes and the memory they hold; the idle one far less
        Assert.True(busyUse!["processes"]!.GetValue<int>() >= 2, busyUse.ToJsonString());
        Assert.True(idleUse is null || idleUse["memory_bytes"]!.GetValue<long>() < busyUse["memory_bytes"]!.GetValue<long>() / 2, idleUse?.ToJsonString());
    }

    [DockerFact]
    public async Task ARunningContainerSessionShowsItsLastHealthCheck()
    {
        // (A local session has no container or helper to check: it shows no health.)
        const string backend = Backends.Docker;
        // Given a server that checks every session each second
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path, ["--health-interval", "1"]);
        var id = await server.CreateSessionAsync(backend);

        // When it has been checked
        System.Text.Json.Nodes.JsonNode? health = null;
        var checkedOnce = await Poll.UntilAsync(async () =>
        {
            health = (await server.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == id)!["health"];
            return health is not null;
        }, TimeSpan.FromSeconds(20));

        // Then session_list says it answered, and when
        Assert.True(checkedOnce, "no health check was reported");
        Assert.Equal("ok", health!["state"]!.GetValue<string>());
        Assert.True(DateTimeOffset.Parse(health["checked_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-1));
    }
}
