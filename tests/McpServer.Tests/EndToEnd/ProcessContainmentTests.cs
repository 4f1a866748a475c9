using System.Globalization;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Local commands cannot outlive a timeout or a destroy by leaving their process session or shedding the session's
/// marker, and a fork bomb stays in its session: the process limit stops it, the kill ends it, the session recovers.
/// </summary>
public sealed class ProcessContainmentTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [CgroupFact]
    public async Task AChildThatStartedItsOwnProcessSessionDiesWithTheTimedOutCommand()
    {
        // Given a session whose command puts a child in a new process session (out of reach of a process-session kill)
        var id = await Server.CreateSessionAsync(Backends.Local);
        var seconds = UniqueSeconds();

        // When the command times out
        var result = await Server.ExecAsync(id, $"setsid sleep {seconds} & sleep 1000", timeoutMs: 1500);

        // Then the escaped child is dead too
        Assert.True(result["timed_out"]!.GetValue<bool>(), result.ToJsonString());
        var gone = await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds).Count == 0, TimeSpan.FromSeconds(5));
        Assert.True(gone, $"'setsid sleep {seconds}' survived the timeout: pids {string.Join(", ", LocalProcesses.FindByCommandLine("sleep", seconds))}");
    }

    [CgroupFact]
    public async Task AProcessThatDroppedTheSessionMarkerDiesWithItsSession()
    {
        // Given a session that left a background process without the marker variable destroy looks for
        var id = await Server.CreateSessionAsync(Backends.Local);
        var seconds = UniqueSeconds();
        await Server.RunAsync(id, $"env -u SESSION_MCP_SESSION sleep {seconds} >/dev/null 2>&1 &");
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds).Count == 1, TimeSpan.FromSeconds(5)), "the sleep never started");

        // When the session is destroyed
        await Server.CallAsync("session_destroy", new { session_id = id });

        // Then that process is dead
        var gone = await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds).Count == 0, TimeSpan.FromSeconds(5));
        Assert.True(gone, $"'sleep {seconds}' without the marker survived the destroy: pids {string.Join(", ", LocalProcesses.FindByCommandLine("sleep", seconds))}");
    }

    [CgroupFact(needsPidsController: true)]
    public async Task AForkBombHitsTheSessionLimitIsKilledByTheTimeoutAndTheSessionRecovers()
    {
        // Given two sessions, and a FIFO the bomb's shell will block on (opening it waits for a writer, without a fork)
        var id = await Server.CreateSessionAsync(Backends.Local);
        var other = await Server.CreateSessionAsync(Backends.Local);
        await Server.RunAsync(id, "mkfifo never");

        // When a fork bomb runs into a 2 s timeout
        var result = await Server.ExecAsync(id, "b(){ b|b& }; b; read x < never", timeoutMs: 2000);

        // Then it timed out, the note names the process limit, and the session and its neighbour work
        Assert.True(result["timed_out"]!.GetValue<bool>(), result.ToJsonString());
        Assert.Contains("process limit", result["note"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
        Assert.Equal("ok\n", await Server.RunAsync(id, "echo ok"));
        Assert.Equal("fine\n", await Server.RunAsync(other, "echo fine"));
    }

    [CgroupFact(needsPidsController: true)]
    public async Task AForkBombWhoseShellExitsIsKilledOnceItHitsTheLimit()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);
        var other = await Server.CreateSessionAsync(Backends.Local);

        // When the classic fork bomb runs: its first shell returns at once, its background pipelines multiply
        var result = await Server.ExecAsync(id, "b(){ b|b& }; b", timeoutMs: 2000);

        // Then the call says the session hit its process limit and the bomb was killed; the sessions work
        Assert.Contains("process limit", result["note"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
        Assert.Equal("ok\n", await Server.RunAsync(id, "echo ok"));
        Assert.Equal("fine\n", await Server.RunAsync(other, "echo fine"));
    }

    // A sleep no other test (or earlier run) uses, so /proc can be searched by command line alone.
    private static string UniqueSeconds() => (100_000 + Random.Shared.Next(800_000)).ToString(CultureInfo.InvariantCulture);
}
