using System.Diagnostics;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Docker;

/// <summary>
/// A docker session's life between calls, against the real engine: hibernation and resume, failures the server notices
/// by itself (OOM kill, a hung helper), restart on failure, disk quotas, and leftovers reaped while the server runs.
/// The engine is driven through the docker CLI, independent of the server's own client.
/// </summary>
public sealed class DockerLifecycleTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [DockerFact]
    public async Task AHibernatedSessionResumesOnTheNextCallWithItsCwdEnvAndWorkspace()
    {
        // Given a session that changed directory, exported a variable and wrote a file, on a server hibernating after 2 s
        using var dataDir = new TempDirectory("docker-hibernate");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--hibernate-after", "2", "--idle-after", "1"]);
        var sessionId = await server.CreateSessionAsync("docker");
        await server.RunAsync(sessionId, "mkdir -p work && cd work && export GREETING=hello && echo kept > file.txt");
        var container = await ContainerOfAsync(sessionId);

        // When it has been idle long enough
        Assert.True(await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "hibernated", Patience), "the session was never hibernated");
        // (the state changes first, so the engine's report of the stop is not taken for a failure: the stop follows)
        var stopped = await Poll.UntilAsync(async () => (await DockerAsync("inspect", "-f", "{{.State.Running}}", container)).Trim() == "false", Patience);
        var listed = await server.ListedSessionAsync(sessionId);
        var output = await server.RunAsync(sessionId, "pwd; echo $GREETING; cat file.txt; touch /tmp/writable && echo tmp-ok");

        // Then the container was stopped, the list said what a resume keeps, and the next call found everything as left
        Assert.True(stopped, "the container was never stopped");
        Assert.Contains("the next command resumes it", listed.Text("status_detail"));
        Assert.Equal("/workspace/work\nhello\nkept\ntmp-ok\n", output);
        Assert.Equal("true", (await DockerAsync("inspect", "-f", "{{.State.Running}}", container)).Trim());
        var events = await server.EventsAsync(sessionId);
        Assert.Contains("session_hibernated", events);
        Assert.Contains("session_woken", events);
        Assert.Contains("resume_ms", events);
    }

    [DockerFact]
    public async Task AContainerOomKilledBetweenCallsIsReportedAsOomByAnAuditedEvent()
    {
        // Given a session with the smallest memory limit
        using var dataDir = new TempDirectory("docker-oom");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--health-interval", "1"]);
        var created = await server.CallAsync("session_create", new { backend = "docker", memory_mb = 16 });
        var sessionId = created.Text("session_id");

        // When a job makes the container's init the OOM killer's choice and then allocates past the limit
        await server.CallAsync("session_exec", new
        {
            session_id = sessionId,
            command = "echo 1000 > /proc/1/oom_score_adj; dd bs=64M count=1 if=/dev/zero of=/dev/null",
            background = true,
        });

        // Then the session is lost, and says it was OOM, without any further command on it
        Assert.True(await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "lost", Patience), "the session was never marked lost");
        var detail = (await server.ListedSessionAsync(sessionId)).Text("status_detail");
        Assert.Contains("OOM-killed", detail);
        Assert.Contains("16 MiB", detail);
        var events = await server.EventsAsync(sessionId);
        Assert.Contains("session_lost", events);
        Assert.Contains("OOM-killed", events);
        Assert.Contains("exit code 137", events);
    }

    [DockerFact]
    public async Task AHelperThatStopsAnsweringIsDetectedAndTheSessionMarkedLost()
    {
        // Given a session whose helper the host freezes (SIGSTOP)
        using var dataDir = new TempDirectory("docker-hang");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--health-interval", "1"]);
        var sessionId = await server.CreateSessionAsync("docker");
        var helper = await HelperPidAsync(await ContainerOfAsync(sessionId));
        using (Process.Start("kill", ["-STOP", helper.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
        }
        try
        {
            // When / Then the liveness check notices, with no call on the session
            Assert.True(await Poll.UntilAsync(async () => await server.StatusAsync(sessionId) == "lost", Patience), "the hung helper was never noticed");
            Assert.Contains("stopped answering", (await server.ListedSessionAsync(sessionId)).Text("status_detail"));
            Assert.Contains("session_lost", await server.EventsAsync(sessionId));
        }
        finally
        {
            using var resume = Process.Start("kill", ["-CONT", helper.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await resume.WaitForExitAsync();
            await server.CallAsync("session_destroy", new { session_id = sessionId });
        }
    }

    [DockerFact]
    public async Task RestartOnFailureRecreatesAKilledContainerOnTheSameWorkspaceAndSaysSo()
    {
        // Given a session with restart on-failure that has state and a file
        using var dataDir = new TempDirectory("docker-restart");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--health-interval", "1"]);
        var created = await server.CallAsync("session_create", new { backend = "docker", restart = "on-failure" });
        var sessionId = created.Text("session_id");
        Assert.Contains("restart on-failure", (await server.CallRawAsync("session_list", null, null)).Content.OfType<ModelContextProtocol.Protocol.TextContentBlock>().First().Text);
        await server.RunAsync(sessionId, "mkdir sub && cd sub && export KEPT=yes && echo data > /workspace/sub/f");
        var before = await ContainerOfAsync(sessionId);

        // When the container is killed from outside
        await DockerAsync("kill", before);

        // Then a new container runs the session, with its workspace, cwd and env, and the event says why
        Assert.True(await Poll.UntilAsync(async () => (await server.EventsAsync(sessionId)).Contains("session_restarted", StringComparison.Ordinal), Patience), "the session was never restarted");
        var after = await ContainerOfAsync(sessionId);
        Assert.NotEqual(before, after);
        Assert.Equal("running", await server.StatusAsync(sessionId));
        Assert.Equal("/workspace/sub\nyes\ndata\n", await server.RunAsync(sessionId, "pwd; echo $KEPT; cat f"));
        var events = await server.EventsAsync(sessionId);
        Assert.Contains("signal 9", events);
        Assert.Contains("on-failure", events);
        await server.CallAsync("session_destroy", new { session_id = sessionId });
    }

    [DockerFact]
    public async Task ADiskQuotaRefusesWritesPastItsLimitWhileAnotherSessionKeepsWorking()
    {
        RequireQuotas();
        // Given a session with a 16 MiB quota and one without
        using var dataDir = new TempDirectory("docker-quota");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var limited = (await server.CallAsync("session_create", new { backend = "docker", disk_mb = 16 })).Text("session_id");
        var other = await server.CreateSessionAsync("docker");
        try
        {
            // When the limited one writes 40 MiB
            var filled = await server.ExecAsync(limited, "dd if=/dev/zero of=big bs=1M count=40 2>&1; df -k /workspace | tail -1");
            var write = await server.CallErrorAsync("session_write_file", new { session_id = limited, path = "more.txt", content = new string('x', 1 << 20) });
            var otherWrite = await server.CallAsync("session_write_file", new { session_id = other, path = "big.txt", content = new string('y', 4 << 20) });

            // Then its writes fail with ENOSPC and a clear note; the other session is untouched
            Assert.Contains("No space left on device", filled.Text("stdout"));
            Assert.Contains("disk quota of 16 MiB is reached", filled.Text("note"));
            Assert.Contains("No space left on device", write, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("disk_mb", write);
            Assert.Equal(4 << 20, otherWrite["bytes"]!.GetValue<int>());
            Assert.Equal("ok\n", await server.RunAsync(other, "test -s big.txt && echo ok"));
        }
        finally
        {
            await server.CallAsync("session_destroy", new { session_id = limited });
            await server.CallAsync("session_destroy", new { session_id = other });
        }
        // And destroying it unmounted and removed its filesystem
        Assert.DoesNotContain(limited, File.ReadAllText("/proc/self/mountinfo"));
    }

    [DockerFact]
    public async Task ALeftoverContainerIsReapedWhileTheServerRunsNotOnlyAtItsStart()
    {
        // Given a running server with no grace, and then a container labelled as its own with no session behind it
        using var dataDir = new TempDirectory("docker-reap");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--docker-orphan-grace", "0"]);
        var session = await server.CreateSessionAsync("docker");
        var job = (await server.CallAsync("session_exec", new { session_id = session, command = "sleep 14; echo survived", background = true })).Text("job_id");
        var orphan = (await DockerAsync("run", "-d", "--network", "none", "--label", "session-mcp.session=s-00000000",
            "--label", $"session-mcp.data-dir={dataDir.Path}", DockerTestImage.Name, "sleep", "600")).Trim();
        try
        {
            // When / Then it is gone within the reaping interval (10 s at least), with the server's session untouched:
            // a job that runs across the reap goes on to its end (reaping while the server runs never sweeps live sessions)
            Assert.True(await Poll.UntilAsync(async () => (await DockerAsync("ps", "-aq", "--no-trunc", "--filter", $"id={orphan}")).Trim().Length == 0, Patience), "the leftover container was never reaped");
            Assert.Equal("ok\n", await server.RunAsync(session, "echo ok"));
            var output = await server.CallAsync("session_job_output", new { session_id = session, job_id = job, wait_ms = 30_000 });
            Assert.Contains("survived", output.ToJsonString());
        }
        finally
        {
            await DockerAsync("rm", "-f", orphan);
        }
    }

    internal static void RequireQuotas()
    {
        Assert.True(Environment.UserName == "root" && File.Exists("/dev/loop-control") && (File.Exists("/usr/sbin/mke2fs") || File.Exists("/sbin/mke2fs")),
            "disk quota tests need root, loop devices and e2fsprogs (bash .ci/start-docker.sh installs e2fsprogs)");
    }

    private static async Task<string> ContainerOfAsync(string sessionId) =>
        (await DockerAsync("ps", "-aq", "--no-trunc", "--filter", $"label=session-mcp.session={sessionId}")).Trim();

    /// <summary>The host PID of the session's helper (<c>sh -s</c>, attached by the server).</summary>
    private static async Task<int> HelperPidAsync(string container)
    {
        var top = await DockerAsync("top", container, "-eo", "pid,args");
        var line = top.Split('\n').Skip(1).Single(l => l.TrimEnd().EndsWith(" -s", StringComparison.Ordinal));
        return int.Parse(line.Trim().Split(' ', 2)[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static async Task<string> DockerAsync(params string[] arguments)
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
        Assert.True(process.ExitCode == 0, $"docker {string.Join(' ', arguments)} failed: {await stderr}");
        return await stdout;
    }
}
