using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Docker;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// States, hibernation, disk quotas and session count limits on local sessions, through the real server over stdio
/// (every result checked against its tool's output schema, as the TypeScript SDK would).
/// </summary>
public sealed class SessionLifecycleStateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ASessionWithoutCallsTurnsIdleThenHibernatedAndTheNextCallResumesItWithItsState()
    {
        // Given a session with a cwd and an exported variable, on a server that calls 1 s idle and hibernates after 3 s
        using var dataDir = new TempDirectory("local-hibernate");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--idle-after", "1", "--hibernate-after", "3"]);
        var sessionId = await server.CreateSessionAsync("local");
        await server.RunAsync(sessionId, "mkdir -p a/b && cd a/b && export MARK=kept && echo x > f");

        // When nothing is called on it
        var sawIdle = await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "idle", Patience);
        var sawHibernated = await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "hibernated", Patience);
        var output = await server.RunAsync(sessionId, "pwd; echo $MARK; cat f");

        // Then it went idle, then hibernated, and the next call found it as it was and running again
        Assert.True(sawIdle, "the session never showed as idle");
        Assert.True(sawHibernated, "the session was never hibernated");
        Assert.EndsWith("/a/b\nkept\nx\n", output);
        Assert.Equal("running", await server.StatusAsync(sessionId));
        var events = (await server.CallAsync("session_replay", new { session_id = sessionId, format = "events" })).ToJsonString();
        Assert.Contains("session_hibernated", events);
        Assert.Contains("a local session keeps no process between commands", events);
        Assert.Contains("session_woken", events);
    }

    [Fact]
    public async Task ASessionWithARunningJobIsNeverHibernated()
    {
        // Given a session running a job, on a server that hibernates after 1 s
        using var dataDir = new TempDirectory("local-job-awake");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--idle-after", "1", "--hibernate-after", "1"]);
        var sessionId = await server.CreateSessionAsync("local");
        var job = await server.CallAsync("session_exec", new { session_id = sessionId, command = "sleep 4; echo done", background = true });

        // When the job runs longer than the hibernation time
        var hibernatedWhileRunning = await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "hibernated", TimeSpan.FromSeconds(3));

        // Then it stayed running (not even idle) while the job ran, and hibernates once the job is done
        Assert.False(hibernatedWhileRunning);
        Assert.True(await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "hibernated", Patience));
        Assert.NotNull(job["job_id"]);
    }

    [Fact]
    public async Task SessionCountLimitsNameTheLimitAndHowToFreeASlot()
    {
        // Given a server allowing 2 sessions per owner
        using var dataDir = new TempDirectory("local-limits");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--max-sessions-per-owner", "2", "--max-sessions", "5"]);
        var first = await server.CreateSessionAsync("local");
        await server.CreateSessionAsync("local");

        // When a third is asked for, then one is destroyed and another asked for
        var refused = await server.CallErrorAsync("session_create", new { backend = "local" });
        await server.CallAsync("session_destroy", new { session_id = first });
        var afterFreeing = await server.CreateSessionAsync("local");

        // Then the refusal named the limit and the way out, and destroying a session freed its slot
        Assert.Contains("limit of 2 sessions", refused);
        Assert.Contains("--max-sessions-per-owner", refused);
        Assert.Contains("session_destroy", refused);
        Assert.StartsWith("s-", afterFreeing);
    }

    [Fact]
    public async Task ALocalDiskQuotaRefusesWritesPastItsLimitWhileAnotherSessionKeepsWorking()
    {
        DockerLifecycleTests.RequireQuotas();
        // Given a local session with a 16 MiB quota and one without
        using var dataDir = new TempDirectory("local-quota");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var created = await server.CallAsync("session_create", new { backend = "local", disk_mb = 16 });
        var limited = created.Text("session_id");
        var other = await server.CreateSessionAsync("local");
        try
        {
            // When the limited one fills its quota
            var filled = await server.ExecAsync(limited, "dd if=/dev/zero of=big bs=1M count=40 2>&1");
            var write = await server.CallErrorAsync("session_write_file", new { session_id = limited, path = "more.txt", content = new string('x', 1 << 20) });
            var otherWrite = await server.CallAsync("session_write_file", new { session_id = other, path = "big.txt", content = new string('y', 4 << 20) });
            var listed = (await server.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == limited)!;

            // Then it is refused with ENOSPC and said so, and the other session is untouched
            Assert.Equal(16, created["disk_mb"]!.GetValue<long>());
            Assert.Contains("No space left on device", filled.Text("stdout"));
            Assert.Contains("disk quota of 16 MiB is reached", filled.Text("note"));
            Assert.Contains("No space left on device", write, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(4 << 20, otherWrite["bytes"]!.GetValue<int>());
            Assert.Equal(16, listed["disk_mb"]!.GetValue<long>());
        }
        finally
        {
            await server.CallAsync("session_destroy", new { session_id = limited });
            await server.CallAsync("session_destroy", new { session_id = other });
        }
        Assert.DoesNotContain(limited, File.ReadAllText("/proc/self/mountinfo"));
    }

    [Fact]
    public async Task AQuotaTooSmallOrARestartPolicyOnALocalSessionIsRefusedBeforeAnythingIsMade()
    {
        // Given / When
        using var dataDir = new TempDirectory("local-quota-small");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var refused = await server.CallErrorAsync("session_create", new { backend = "local", disk_mb = 1 });
        var noRestart = await server.CallErrorAsync("session_create", new { backend = "local", restart = "on-failure" });

        // Then
        Assert.Contains("disk_mb must be at least 8", refused);
        Assert.Contains("restart applies to sessions with a container", noRestart);
        Assert.Empty((await server.CallAsync("session_list"))["sessions"]!.AsArray());
    }
}
