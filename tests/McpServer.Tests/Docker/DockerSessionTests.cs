using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Docker.DotNet.Models;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Docker;

/// <summary>What only the docker backend has: hardening, container faults, restarts, the engine going away, orphans.</summary>
public sealed class DockerSessionTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly ServerFixture _fixture;
    private readonly DockerEngineClient _engine = DockerEngineClient.Create();

    public DockerSessionTests(ServerFixture fixture) => _fixture = fixture;

    private ServerProcess Server => _fixture.Server;

    public void Dispose() => _engine.Dispose();

    [DockerFact]
    public async Task SessionContainerIsHardenedByDefault()
    {
        // Given
        var sessionId = await Server.CreateSessionAsync("docker");

        // When
        var inspect = await _engine.InspectContainerAsync(await ContainerOfAsync(sessionId));
        var inside = await Server.RunAsync(sessionId, "id -u; grep CapEff /proc/self/status; ls /sys/class/net; touch /etc/x 2>&1 || echo ro-root");

        // Then
        Assert.True(inspect.State!.Running);
        Assert.NotEqual("0", inspect.Config!.User!.Split(':')[0]);
        Assert.NotEqual("root", inspect.Config!.User);
        Assert.Contains("ALL", inspect.HostConfig!.CapDrop!);
        Assert.Contains("no-new-privileges", inspect.HostConfig!.SecurityOpt!);
        Assert.Equal("none", inspect.HostConfig!.NetworkMode);
        Assert.True(inspect.HostConfig!.Memory > 0);
        Assert.Equal(inspect.HostConfig!.Memory, inspect.HostConfig!.MemorySwap);
        Assert.True(inspect.HostConfig!.NanoCPUs > 0);
        Assert.True(inspect.HostConfig!.PidsLimit > 0);
        Assert.True(inspect.HostConfig!.ReadonlyRootfs);
        Assert.Contains(inspect.HostConfig!.Binds!, b => b.EndsWith(":/workspace:rw", StringComparison.Ordinal));
        // Made for it, or taken from the warm pool (whose labels it keeps): either way it has its session's name.
        Assert.Equal($"/session-mcp-{sessionId}", inspect.Name);
        Assert.True(inspect.Config!.Labels!.TryGetValue("session-mcp.session", out var label) ? label == sessionId : inspect.Config.Labels.ContainsKey("session-mcp.pool"));
        Assert.Equal(_fixture.DataDir, inspect.Config!.Labels!["session-mcp.data-dir"]);
        var lines = inside.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual("0", lines[0]);
        Assert.Equal("CapEff:\t0000000000000000", lines[1]);
        Assert.Equal("lo", lines[2]);
        Assert.Equal("ro-root", lines[^1]);
    }

    [DockerFact]
    public async Task PerSessionLimitsApplyWithinTheConfiguredMaxima()
    {
        // When
        var created = await Server.CallAsync("session_create", new { backend = "docker", memory_mb = 256, pids_limit = 100, cpus = 0.5 });
        var tooMuch = await Server.CallErrorAsync("session_create", new { backend = "docker", memory_mb = 1_000_000 });
        var network = await Server.CallErrorAsync("session_create", new { backend = "docker", network = "bridge" });

        // Then
        var inspect = await _engine.InspectContainerAsync(await ContainerOfAsync(created.Text("session_id")));
        Assert.Equal(256L * 1024 * 1024, inspect.HostConfig!.Memory);
        Assert.Equal(100, inspect.HostConfig!.PidsLimit);
        Assert.Equal(500_000_000, inspect.HostConfig!.NanoCPUs);
        Assert.Contains("memory_mb must be between", tooMuch);
        Assert.Contains("not allowed", network);
    }

    [DockerFact]
    public async Task MissingImageIsNamedInTheError()
    {
        var error = await Server.CallErrorAsync("session_create", new { backend = "docker", image = "session-mcp/does-not-exist:1" });

        Assert.Contains("session-mcp/does-not-exist:1", error);
        Assert.Contains("not found", error);
    }

    [DockerFact]
    public async Task SymlinksPlantedInsideTheContainerCannotReachHostFiles()
    {
        // Given: links from inside the container to the host's (and the container's) /etc, a file and a directory
        var sessionId = await Server.CreateSessionAsync("docker");
        var passwdBefore = SHA256.HashData(File.ReadAllBytes("/etc/passwd"));
        await Server.RunAsync(sessionId, "ln -s /etc/passwd x && ln -s /etc etc && ln -s ../../../../../../etc/passwd rel && mkdir d && ln -s /workspace/d inside && echo ok > d/f");

        // When / Then: every access through an outside link is refused
        foreach (var path in new[] { "x", "etc/passwd", "rel", "/workspace/x", "etc/hostname" })
        {
            Assert.Contains("outside", await Server.CallErrorAsync("session_read_file", new { session_id = sessionId, path }));
            Assert.Contains("outside", await Server.CallErrorAsync("session_write_file", new { session_id = sessionId, path, content = "pwned\n" }));
            Assert.Contains("outside", await Server.CallErrorAsync("session_edit_file", new { session_id = sessionId, path, old_string = "root", new_string = "pwned" }));
        }
        Assert.Contains("outside", await Server.CallErrorAsync("session_write_file", new { session_id = sessionId, path = "etc/new-file", content = "x" }));

        // Then: the host is untouched, and links that stay inside the workspace work
        Assert.Equal(passwdBefore, SHA256.HashData(File.ReadAllBytes("/etc/passwd")));
        Assert.False(File.Exists("/etc/new-file"));
        var read = await Server.CallAsync("session_read_file", new { session_id = sessionId, path = "inside/f" });
        Assert.Contains("ok", read.Text("content"));
        await Server.CallAsync("session_write_file", new { session_id = sessionId, path = "inside/g", content = "new\n" });
        Assert.Equal("new\n", await Server.RunAsync(sessionId, "cat d/g"));
    }

    [DockerFact]
    public async Task TimeoutKillsTheWholeTreeInsideTheContainer()
    {
        // Given
        var sessionId = await Server.CreateSessionAsync("docker");

        // When
        var result = await Server.ExecAsync(sessionId, "sleep 1001 & (sleep 1002 & wait) & echo started; wait", timeoutMs: 1000);

        // Then
        Assert.True(result["timed_out"]!.GetValue<bool>());
        Assert.Contains("started", result.Text("stdout"));
        var ps = await Server.RunAsync(sessionId, "ps -o args");
        Assert.DoesNotContain("sleep 1001", ps);
        Assert.DoesNotContain("sleep 1002", ps);
        Assert.Equal("ok\n", await Server.RunAsync(sessionId, "echo ok"));
    }

    [DockerFact]
    public async Task TimeoutAlsoKillsProcessesThatLeftTheCommandsTree()
    {
        // Given a command whose child is re-parented to PID 1 (its parent shell exits at once)
        var sessionId = await Server.CreateSessionAsync("docker");

        // When
        var result = await Server.ExecAsync(sessionId, "sh -c 'sleep 1003 &'; sleep 100", timeoutMs: 1000);

        // Then
        Assert.True(result["timed_out"]!.GetValue<bool>());
        Assert.DoesNotContain("sleep 1003", await Server.RunAsync(sessionId, "ps -o args"));
    }

    [DockerFact]
    public async Task TimeoutKillsWhatShedTheMarkerOrLeftTheSessionButSparesAnotherLiveCommandAndOlderBackgroundWork()
    {
        // Given a background process an earlier command left running, and a command running beside the one that will
        // time out, which starts children that shed every trace of it: the marker variable, its process tree
        // (re-parented to PID 1) and its session (setsid)
        var sessionId = await Server.CreateSessionAsync("docker");
        await Server.RunAsync(sessionId, "sh -c 'sleep 1007 >/dev/null 2>&1 &'");
        var other = Server.ExecAsync(sessionId, "sleep 4; echo alive", timeoutMs: 30_000);
        var container = await ContainerOfAsync(sessionId);
        Assert.True(await Poll.UntilAsync(async () => (await PsAsync(container)).Contains("sleep 4", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), "the other command never started");

        // When it times out
        var result = await Server.ExecAsync(
            sessionId, "env -u SESSION_MCP_COMMAND sh -c 'sleep 1004 &'; setsid sh -c 'sleep 1005 &'; (sh -c 'sleep 1006 &' &); sleep 100", timeoutMs: 1500);

        // Then none of them is left (seen from outside the helper), the other command ran on to its end, and what was
        // running before the command started was not its doing and is left alone
        Assert.True(result["timed_out"]!.GetValue<bool>());
        var ps = await PsAsync(container);
        Assert.DoesNotContain("sleep 1004", ps);
        Assert.DoesNotContain("sleep 1005", ps);
        Assert.DoesNotContain("sleep 1006", ps);
        Assert.Contains("sleep 1007", ps);
        var survivor = await other;
        Assert.Equal(0, survivor["exit_code"]!.GetValue<int>());
        Assert.Equal("alive\n", survivor.Text("stdout"));
    }

    [DockerTheory]
    [InlineData("b(){ b|b& }; b; sleep 100", 3000)]
    [InlineData("b(){ b|b& }; b", 30_000)]
    public async Task AForkBombHitsTheContainersPidLimitIsKilledAndTheSessionRecovers(string bomb, int timeoutMs)
    {
        // Given a session with a small PID limit, and another session
        var created = await Server.CallAsync("session_create", new { backend = "docker", pids_limit = 64 });
        var id = created.Text("session_id");
        var other = await Server.CreateSessionAsync("docker");

        // When a fork bomb runs (blocking until its timeout, or returning at once while its pipelines multiply)
        var result = await Server.ExecAsync(id, bomb, timeoutMs: timeoutMs);

        // Then the call names the process limit, the bomb is gone, and both sessions work
        Assert.Contains("process limit (64 processes", result["note"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
        Assert.Equal("ok\n", await Server.RunAsync(id, "echo ok"));
        Assert.Equal("fine\n", await Server.RunAsync(other, "echo fine"));
    }

    [DockerFact]
    public async Task FloodingTheHelpersStreamsThroughProcIsDeniedAndKeepsTheServerBounded()
    {
        // Given a server of its own (to read its memory) with two docker sessions
        using var dataDir = new TempDirectory("docker-flood");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var attacked = await server.CreateSessionAsync("docker");
        var bystander = await server.CreateSessionAsync("docker");
        await server.RunAsync(attacked, "mkdir -p w && cd w && export KEEP=1");
        var rssBefore = RssBytes(server.Pid);

        // When a command writes 200 MB into its helper's stderr through /proc
        var attack = await server.CallRawAsync("session_exec", new
        {
            session_id = attacked,
            command = "HP=$(cut -d\" \" -f4 /proc/$PPID/stat); head -c 200000000 /dev/zero | tr '\\0' a > /proc/$HP/fd/2",
            timeout_ms = 60_000,
        }, null);

        // Then the sealed helper's streams were closed to it, the server's memory stayed bounded, the other session
        // never noticed, and the attacked session goes on with the same helper and its state
        Assert.Contains("Permission denied", ServerProcess.TextOf(attack));
        var grown = RssBytes(server.Pid) - rssBefore;
        Assert.True(grown < 100L * 1024 * 1024, $"the server grew by {grown / (1024 * 1024)} MiB (attack result: {ServerProcess.TextOf(attack)})");
        Assert.Equal("ok\n", await server.RunAsync(bystander, "echo ok"));
        var next = await server.ExecAsync(attacked, "pwd; echo $KEEP");
        Assert.EndsWith("/w\n1\n", next.Text("stdout"));
        Assert.Null(next["note"]);
        Assert.DoesNotContain("head -c", await PsAsync(await ContainerOfAsync(attacked)));
    }

    [DockerFact]
    public async Task ACommandLeftRunningByAKilledServerIsKilledAtRestart()
    {
        // Given a docker session running a command that would write a marker later
        using var dataDir = new TempDirectory("docker-kill9");
        string id;
        await using (var first = await ServerProcess.StartAsync(dataDir.Path))
        {
            id = await first.CreateSessionAsync("docker");
            var running = first.ExecAsync(id, "sleep 6; echo late > marker", timeoutMs: 60_000);
            var container = await ContainerOfAsync(id);
            Assert.True(await Poll.UntilAsync(async () => (await PsAsync(container)).Contains("sleep 6", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), "the sleep never started");

            // When the server is SIGKILLed mid-call and a new one starts on the same data directory
            await first.KillAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => running);
        }
        await using var second = await ServerProcess.StartAsync(dataDir.Path);
        await second.CallAsync("session_list");

        // Then the orphaned command is gone and never writes its marker; the session still works
        Assert.DoesNotContain("sleep 6", await PsAsync(await ContainerOfAsync(id)));
        await Task.Delay(TimeSpan.FromSeconds(7));
        Assert.Equal("absent\n", await second.RunAsync(id, "test -e marker && echo present || echo absent"));
        var events = await ServerCli.ExportAsync(dataDir.Path);
        Assert.Single(events, e => e["outcome"]?.GetValue<string>() == "interrupted");
    }

    [DockerFact]
    public async Task EachCommandIsItsOwnShell()
    {
        var sessionId = await Server.CreateSessionAsync("docker");

        var first = await Server.RunAsync(sessionId, "echo $$");
        var second = await Server.RunAsync(sessionId, "echo $$");
        var killedItself = await Server.ExecAsync(sessionId, "kill -9 $$");
        var after = await Server.ExecAsync(sessionId, "echo still here; type __smcp_run >/dev/null 2>&1 || echo no helper functions");

        Assert.NotEqual(first, second);
        Assert.Equal(137, killedItself["exit_code"]!.GetValue<int>());
        Assert.Equal("still here\nno helper functions\n", after.Text("stdout"));
        Assert.Null(after["note"]);
    }

    [DockerFact]
    public async Task AFullTmpOrAFullScratchNeverHangsTheSession()
    {
        // Given a session: its /tmp and the helper's scratch tmpfs (which holds command outputs) are a share of its memory
        var created = await Server.CallAsync("session_create", new { backend = "docker", memory_mb = 256 });
        var sessionId = created.Text("session_id");

        // When each is filled in turn
        var tmpFull = await Server.ExecAsync(sessionId, "dd if=/dev/zero of=/tmp/fill bs=1M count=300 2>&1; echo after-dd");
        var whileTmpFull = await Server.RunAsync(sessionId, "rm -f /tmp/fill; echo freed");
        var scratchFull = await Server.ExecAsync(sessionId, "dd if=/dev/zero of=/.session-mcp/scratch/fill bs=1M count=300 2>&1; echo after-dd");
        var whileScratchFull = await Server.ExecAsync(sessionId, "echo hidden");
        var freed = await Server.ExecAsync(sessionId, "rm -f /.session-mcp/scratch/fill; echo freed");
        var next = await Server.RunAsync(sessionId, "echo next");

        // Then every call returned, a full scratch is named as the reason for missing output, and the session is still
        // usable and not lost
        Assert.Contains("No space left", tmpFull.Text("stdout"));
        Assert.Equal("freed\n", whileTmpFull);
        Assert.NotNull(scratchFull["exit_code"]);
        Assert.True(whileScratchFull.Text("stderr").Contains("could not create its scratch files", StringComparison.Ordinal), scratchFull.ToJsonString() + whileScratchFull.ToJsonString());
        Assert.Equal("freed\n", freed.Text("stdout"));
        Assert.Equal("next\n", next);
        var listed = await Server.CallAsync("session_list");
        Assert.Equal("running", listed["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == sessionId)!.Text("status"));
    }

    [DockerFact]
    public async Task ACommandKilledForMemoryIsReportedAsOomWithTheLimit()
    {
        // Given a session with 64 MiB
        var created = await Server.CallAsync("session_create", new { backend = "docker", memory_mb = 64 });
        var sessionId = created.Text("session_id");

        // When a command holds 200 MiB in a shell variable
        var result = await Server.ExecAsync(sessionId, "x=$(head -c 200m /dev/zero | tr '\\0' a); echo survived");

        // Then it is reported as killed for memory, with the limit, and the session keeps working
        Assert.Equal(137, result["exit_code"]!.GetValue<int>());
        var note = result.Text("note");
        Assert.Contains("out of memory", note);
        Assert.Contains("OOM", note);
        Assert.Contains("64 MiB", note);
        Assert.Equal("ok\n", await Server.RunAsync(sessionId, "echo ok"));
        Assert.Null((await Server.ExecAsync(sessionId, "kill -9 $$"))["note"]);
    }

    [DockerFact]
    public async Task ContainerKilledUnderASessionMakesItLost()
    {
        // Given
        var sessionId = await Server.CreateSessionAsync("docker");
        var container = await ContainerOfAsync(sessionId);
        var running = Server.CallRawAsync("session_exec", new { session_id = sessionId, command = "sleep 30" }, null);

        // When
        await _engine.KillContainerAsync(container);
        var inFlight = ServerProcess.TextOf(await running);
        var next = await Server.CallErrorAsync("session_exec", new { session_id = sessionId, command = "true" });

        // Then
        Assert.Contains("lost", next);
        Assert.Contains("container", next);
        Assert.Contains("container", inFlight);
        var listed = await Server.CallAsync("session_list");
        var session = listed["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == sessionId)!;
        Assert.Equal("lost", session.Text("status"));
        Assert.Contains("container", session.Text("status_detail"));
        var replay = await Server.CallAsync("session_replay", new { session_id = sessionId, format = "events" });
        Assert.Contains(replay["events"]!.AsArray(), e => e!.Text("kind") == "session_lost");
    }

    [DockerFact]
    public async Task HelperKilledInsideTheContainerIsReestablished()
    {
        // Given
        var sessionId = await Server.CreateSessionAsync("docker");
        await Server.RunAsync(sessionId, "mkdir -p w && cd w && export KEEP=1");

        // When: every helper shell in the container is killed behind the server's back
        await _engine.RunExecAsync(await ContainerOfAsync(sessionId), ["sh", "-c", "kill -9 $(ps -o pid,args | awk '$2 ~ /sh$/ && $3 == \"-s\" && NF == 3 { print $1 }')"]);
        var result = await ExecEventuallyAsync(sessionId, "pwd; echo $KEEP");

        // Then
        Assert.EndsWith("/w\n1\n", result.Text("stdout"));
        Assert.Contains("restarted", result.Text("note"));
    }

    [DockerFact]
    public async Task RestartReattachesRunningContainersAndMarksVanishedOnesLost()
    {
        using var dataDir = new TempDirectory("docker-restart");
        string kept, removed, hostnameBefore;
        await using (var first = await ServerProcess.StartAsync(dataDir.Path))
        {
            kept = await first.CreateSessionAsync("docker");
            removed = await first.CreateSessionAsync("docker");
            await first.RunAsync(kept, "mkdir -p src && cd src && export A=1");
            hostnameBefore = await first.RunAsync(kept, "hostname");
        }
        // While the server is down, one container disappears.
        await _engine.RemoveContainerAsync(await ContainerOfAsync(removed), force: true);

        await using var second = await ServerProcess.StartAsync(dataDir.Path);
        var listed = await second.CallAsync("session_list");
        string Status(string id) => listed["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == id)!.Text("status");

        Assert.Equal("running", Status(kept));
        Assert.Equal("lost", Status(removed));
        Assert.Equal(hostnameBefore, await second.RunAsync(kept, "hostname"));
        Assert.Matches(@"/src\n1\n$", await second.RunAsync(kept, "pwd; echo $A"));
        Assert.Contains("lost", await second.CallErrorAsync("session_exec", new { session_id = removed, command = "true" }));
        Assert.Empty(await _engine.ListContainersAsync(new Dictionary<string, string?> { ["session-mcp.session"] = removed }, all: true));
    }

    [DockerFact]
    public async Task EngineUnavailableFailsFastAndSessionsWorkAgainWhenItReturns()
    {
        using var dataDir = new TempDirectory("docker-engine");
        await using var proxy = new EngineProxy(Path.Combine(dataDir.Path, "engine.sock"));
        proxy.Start();
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--docker-host", proxy.Endpoint]);
        var docker = await server.CreateSessionAsync("docker");
        var local = await server.CreateSessionAsync("local");
        await server.RunAsync(docker, "export BACK=yes");

        // When the engine goes away
        await proxy.StopAsync();
        var started = DateTime.UtcNow;
        var down = await server.CallErrorAsync("session_exec", new { session_id = docker, command = "true" });
        var failedAfter = DateTime.UtcNow - started;
        var create = await server.CallErrorAsync("session_create", new { backend = "docker" });

        // Then docker calls fail fast and clearly, local sessions are unaffected
        Assert.Contains("not reachable", down);
        Assert.Contains("not reachable", create);
        Assert.True(failedAfter < TimeSpan.FromSeconds(10), $"failing took {failedAfter}");
        Assert.Equal("fine\n", await server.RunAsync(local, "echo fine"));

        // When it returns, the session works again with its state
        proxy.Start();
        Assert.Equal("yes\n", await server.RunAsync(docker, "echo $BACK"));
    }

    [Fact]
    public async Task EngineDownAtStartUpLeavesLocalSessionsWorkingAndDockerCallsFailFast()
    {
        // Given a server whose engine endpoint does not answer from the start
        using var dataDir = new TempDirectory("docker-down");
        await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--docker-host", "unix://" + Path.Combine(dataDir.Path, "no-engine.sock")]);

        // When
        var started = DateTime.UtcNow;
        var error = await server.CallErrorAsync("session_create", new { backend = "docker" });
        var failedAfter = DateTime.UtcNow - started;
        var local = await server.CreateSessionAsync("local");

        // Then
        Assert.Contains("Docker engine not reachable at unix://", error);
        Assert.True(failedAfter < TimeSpan.FromSeconds(5), $"failing took {failedAfter}");
        Assert.Equal("ok\n", await server.RunAsync(local, "echo ok"));
    }

    [DockerFact]
    public async Task OrphanContainersOfThisDataDirAreReapedAtStartUp()
    {
        // Given: a container labelled as ours with no session behind it, and one of another server
        using var dataDir = new TempDirectory("docker-orphans");
        var orphan = await StartLabelledContainerAsync(dataDir.Path);
        var foreign = await StartLabelledContainerAsync("/somewhere/else");
        try
        {
            // When
            await using var server = await ServerProcess.StartAsync(dataDir.Path, ["--docker-orphan-grace", "0"]);
            await server.CallAsync("session_list");

            // Then
            await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => _engine.InspectContainerAsync(orphan));
            Assert.True((await _engine.InspectContainerAsync(foreign)).State!.Running);
        }
        finally
        {
            await _engine.RemoveContainerAsync(foreign, force: true);
        }
    }

    private async Task<string> StartLabelledContainerAsync(string dataDir)
    {
        DockerRequirement.ThrowIfUnavailable();
        var id = await _engine.CreateContainerAsync(new CreateContainerParameters
        {
            Image = DockerTestImage.Name,
            Cmd = ["sleep", "600"],
            Labels = new Dictionary<string, string> { ["session-mcp.session"] = "s-00000000", ["session-mcp.data-dir"] = dataDir },
            HostConfig = new HostConfig { NetworkMode = "none" },
        });
        await _engine.StartContainerAsync(id);
        return id;
    }

    /// <summary>The container's processes, listed by an exec of its own (not through the session's helper).</summary>
    private async Task<string> PsAsync(string containerId) =>
        (await _engine.RunExecAsync(containerId, ["ps", "-o", "pid,args"])).Stdout;

    private static long RssBytes(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;

    // By name: a container from the warm pool keeps the pool's labels but takes its session's name (just after the create).
    private async Task<string> ContainerOfAsync(string sessionId)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return (await _engine.InspectContainerAsync($"session-mcp-{sessionId}")).ID;
            }
            catch (DockerContainerNotFoundException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>The first exec after a helper dies may race the helper's death; the one after must succeed.</summary>
    private async Task<JsonNode> ExecEventuallyAsync(string sessionId, string command)
    {
        var first = await Server.CallRawAsync("session_exec", new { session_id = sessionId, command }, null);
        if (first.IsError != true)
        {
            return JsonNode.Parse(first.StructuredContent!.Value.GetRawText())!;
        }
        return await Server.ExecAsync(sessionId, command);
    }
}
