using System.Diagnostics;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Docker;

/// <summary>
/// The session lifecycle on containers taken from the warm pool, against the real engine: such a container keeps the
/// pool's labels (not the session's) and gets its session's name only after the create, so the server must know it by
/// the container id in the session's state: for its engine events, for reaping, for a hibernated session's stop. A
/// session with a disk quota never takes a pool container (its quota is mounted before the container binds it).
/// </summary>
public sealed class WarmPoolLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [DockerFact]
    public async Task APooledSessionsContainerThatDiesIsNoticedByItsEngineEventThoughItHasThePoolsLabels()
    {
        // Given a session served from the warm pool, on a server that checks no helper (only engine events can tell)
        using var dataDir = new TempDirectory("pool-died");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--backend", "docker", "--docker-pool-size", "1", "--health-interval", "0"]);
        var (sessionId, container) = await PooledSessionAsync(server, dataDir.Path);
        Assert.Equal("ok\n", await server.RunAsync(sessionId, "echo ok"));
        // (the server follows the engine's events from a moment after its first docker session exists)
        await Task.Delay(TimeSpan.FromSeconds(3));

        // When its container is killed from outside
        await DockerLifecycleTests.DockerAsync("kill", container);

        // Then the session is marked lost by the engine's die event (no call and no session_list needed), with the signal
        Assert.True(await Poll.UntilAsync(async () => (await server.EventsAsync(sessionId)).Contains("session_lost", StringComparison.Ordinal), Patience),
            "the pooled session's death was never noticed");
        Assert.Contains("signal 9", await server.EventsAsync(sessionId));
    }

    [DockerFact]
    public async Task APooledSessionHibernatesSurvivesAReapAndResumesWithItsCwdEnvAndWorkspace()
    {
        // Given a pooled session with state, on a server hibernating after 2 s and reaping with no grace (every 10 s)
        using var dataDir = new TempDirectory("pool-hibernate");
        await using var server = await ServerProcess.StartAsync(dataDir.Path,
            ["--backend", "docker", "--docker-pool-size", "1", "--hibernate-after", "2", "--idle-after", "1", "--docker-orphan-grace", "0"]);
        var (sessionId, container) = await PooledSessionAsync(server, dataDir.Path);
        await server.RunAsync(sessionId, "mkdir -p work && cd work && export GREETING=hello && echo kept > file.txt");

        // When it is hibernated (its container stopped) and a reap runs meanwhile
        // (polled with session_list: a call on the session itself, even session_replay, keeps it awake)
        Assert.True(await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "hibernated", Patience), "the session was never hibernated");
        Assert.True(await Poll.UntilAsync(async () => (await TryDockerAsync("inspect", "-f", "{{.State.Running}}", container)).Output.Trim() == "false", Patience),
            "the container was never stopped");
        await Task.Delay(TimeSpan.FromSeconds(12));

        // Then the stopped pool container was not taken for a leftover, and the next call finds everything as it was
        Assert.Equal(0, (await TryDockerAsync("inspect", container)).ExitCode);
        Assert.Equal("/workspace/work\nhello\nkept\n", await server.RunAsync(sessionId, "pwd; echo $GREETING; cat file.txt"));
        Assert.Contains("session_woken", await server.EventsAsync(sessionId));
    }

    [DockerFact]
    public async Task ASessionWithADiskQuotaIsCreatedColdBesideAReadyPoolAndItsQuotaHolds()
    {
        DockerLifecycleTests.RequireQuotas();
        // Given a server whose pool has a container ready
        using var dataDir = new TempDirectory("pool-quota");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--backend", "docker", "--docker-pool-size", "1"]);
        var pooled = await ReadyPoolContainerAsync(dataDir.Path);

        // When a session asks for a 16 MiB quota and writes 40 MiB
        var sessionId = (await server.CallAsync("session_create", new { backend = "docker", disk_mb = 16 })).Text("session_id");
        try
        {
            var container = await ContainerNamedAsync($"session-mcp-{sessionId}");
            var filled = await server.ExecAsync(sessionId, "dd if=/dev/zero of=big bs=1M count=40 2>&1");

            // Then it got a container of its own, the pool's is still idle, and the quota refused the write
            Assert.NotEqual(pooled, container);
            Assert.Contains($"session-mcp-pool-", (await DockerLifecycleTests.DockerAsync("inspect", "-f", "{{.Name}}", pooled)).Trim());
            Assert.Contains("No space left on device", filled.Text("stdout"));
        }
        finally
        {
            await server.CallAsync("session_destroy", new { session_id = sessionId });
        }
    }

    /// <summary>
    /// A docker session that took the pool's ready container (its id), retried if the pool's helper was not attached
    /// yet when the session was asked for (the server then creates one cold, which these tests are not about).
    /// </summary>
    private static async Task<(string SessionId, string Container)> PooledSessionAsync(ServerProcess server, string dataDir)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var pooled = await ReadyPoolContainerAsync(dataDir);
            var sessionId = await server.CreateSessionAsync("docker");
            var container = await ContainerNamedAsync($"session-mcp-{sessionId}");
            if (container == pooled)
            {
                return (sessionId, container);
            }
            await server.CallAsync("session_destroy", new { session_id = sessionId });
        }
        Assert.Fail("no docker session was served from the warm pool in 5 attempts");
        return default;
    }

    /// <summary>The id of a running pool container of this data directory, after a moment for its helper to attach.</summary>
    private static async Task<string> ReadyPoolContainerAsync(string dataDir)
    {
        string? id = null;
        Assert.True(await Poll.UntilAsync(async () =>
        {
            var listed = await TryDockerAsync("ps", "--no-trunc", "--filter", $"label=session-mcp.data-dir={dataDir}", "--format", "{{.ID}} {{.Names}}");
            id = listed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' ', 2))
                .FirstOrDefault(parts => parts.Length == 2 && parts[1].StartsWith("session-mcp-pool-", StringComparison.Ordinal))?[0];
            return id is not null;
        }, Patience), "the warm pool never had a container ready");
        await Task.Delay(TimeSpan.FromSeconds(2));
        return id!;
    }

    /// <summary>A container's id by name; the rename of a pool container to its session's name is not awaited by the server.</summary>
    private static async Task<string> ContainerNamedAsync(string name)
    {
        string? id = null;
        Assert.True(await Poll.UntilAsync(async () =>
        {
            var inspect = await TryDockerAsync("inspect", "-f", "{{.Id}}", name);
            id = inspect.ExitCode == 0 ? inspect.Output.Trim() : null;
            return id is not null;
        }, Patience), $"no container was ever named {name}");
        return id!;
    }

    private static async Task<(int ExitCode, string Output)> TryDockerAsync(params string[] arguments)
    {
        DockerRequirement.ThrowIfUnavailable();
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await stderr;
        return (process.ExitCode, await stdout);
    }
}
