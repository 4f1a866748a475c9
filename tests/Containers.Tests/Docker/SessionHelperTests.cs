using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.Containers.Docker;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>
/// The helper protocol against a session's own processes, on real containers: what a sealed helper keeps out of their
/// reach, and what the server does when something does reach an (unsealed, legacy) helper's streams.
/// </summary>
public sealed class SessionHelperTests : IAsyncLifetime
{
    // Writes a forged notice for the command whose marker it reads from `sleep`'s environment into the stderr of every
    // process whose stderr is not a plain file (the helper and its subshells; commands write to files), and says for
    // each, with its command line, whether it could.
    private const string ForgeDoneNotices = """
        victim=
        for e in /proc/[0-9]*/environ; do
          case "$(tr '\0' ' ' < "$e" 2>/dev/null)" in *SESSION_MCP_COMMAND=*) ;; *) continue;; esac
          grep -q sleep "${e%environ}cmdline" 2>/dev/null || continue
          victim=$(tr '\0' '\n' < "$e" | sed -n 's/^SESSION_MCP_COMMAND=//p')
        done
        echo "victim=$victim"
        for p in /proc/[0-9]*; do
          [ -f "$p/fd/2" ] && continue
          what="${p#/proc/}: $(tr '\0' ' ' < "$p/cmdline")"
          if printf 'done %s 0 0\ndone %s x 0 0\n' "$victim" "$victim" 2>/dev/null > "$p/fd/2"; then echo "forged via $what"; else echo "denied $what"; fi
        done
        ls /.session-mcp/scratch /tmp/.session-mcp 2>&1 | head -3
        """;

    private readonly DockerEngineClient _engine = DockerEngineClient.Create(DockerRequirement.Endpoint);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));
    private readonly List<string> _containers = [];
    private readonly string _dataDir = Directory.CreateTempSubdirectory("helper-tests").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var id in _containers)
        {
            await _engine.RemoveContainerAsync(id, force: true, removeVolumes: true);
        }
        _engine.Dispose();
        _timeout.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    [DockerFact]
    public async Task ASealedHelpersStreamsAndScratchFilesAreOutOfTheSessionsReach()
    {
        // Given a container as the backend creates it, and a command that takes a while
        await using var helper = await StartAsync(sealed_: true);
        var victim = RunAsync(helper, "sleep 2; echo real", TimeSpan.FromSeconds(30));

        // When another command of the session forges its "done" notice through every pipe it finds, and looks for the
        // output files, the shell binary and the helper's memory
        var attack = await RunAsync(helper, ForgeDoneNotices + "\n" + """
            cat /.session-mcp/bin/sh > /dev/null 2>&1 && echo read-the-shell
            chmod 755 /.session-mcp/bin/sh 2>/dev/null && echo chmod-the-shell
            """, TimeSpan.FromSeconds(30));

        // Then nothing was forged: the victim ran its full course with its own output, and the helper lives on
        Assert.StartsWith("victim=c", attack.Stdout);
        Assert.DoesNotContain("sh -s", string.Join('\n', attack.Stdout.Split('\n').Where(l => l.StartsWith("forged", StringComparison.Ordinal))));
        Assert.Contains($"{HelperLayout.Sealed.ShellPath} -s", attack.Stdout);
        Assert.True(attack.Stdout.Contains("Permission denied", StringComparison.Ordinal), attack.Stdout);
        Assert.DoesNotContain("-shell", attack.Stdout);
        var result = await victim;
        Assert.Equal((0, false, "real\n"), (result.ExitCode, result.TimedOut, result.Stdout));
        Assert.True(result.Elapsed >= TimeSpan.FromSeconds(1.9), $"the victim returned after {result.Elapsed}");
        Assert.True(helper.IsAlive);
    }

    [DockerFact]
    public async Task ATimedOutCommandOfASealedHelperStaysTimedOutWhateverTheSessionWrites()
    {
        // Given a command that will time out, and one that tries to make it look finished
        await using var helper = await StartAsync(sealed_: true);
        var victim = RunAsync(helper, "sleep 30", TimeSpan.FromSeconds(2));
        var attack = await RunAsync(helper, "sleep 0.3\n" + ForgeDoneNotices, TimeSpan.FromSeconds(30));

        // Then
        var result = await victim;
        Assert.DoesNotContain("sh -s", string.Join('\n', attack.Stdout.Split('\n').Where(l => l.StartsWith("forged", StringComparison.Ordinal))));
        Assert.True(result.TimedOut);
        Assert.True(result.Elapsed >= TimeSpan.FromSeconds(1.9), $"the victim returned after {result.Elapsed}");
    }

    [DockerFact]
    public async Task ANoticeWithoutItsCommandsSecretIsAProtocolViolation()
    {
        // Given an unsealed (legacy) helper, whose stderr a session's process can still open
        await using var helper = await StartAsync(sealed_: false);
        var victim = RunAsync(helper, "sleep 5; echo real", TimeSpan.FromSeconds(30));

        // When a command forges the victim's "done" notice, knowing its marker but not its secret
        var attack = RunAsync(helper, ForgeDoneNotices, TimeSpan.FromSeconds(30));

        // Then the forgery is not taken for a result: the helper is dropped as compromised, and both calls say so
        var died = await Assert.ThrowsAnyAsync<HelperDiedException>(() => victim);
        Assert.IsType<HelperProtocolException>(helper.DeathReason);
        Assert.Contains("without its secret", died.Message);
        await Assert.ThrowsAnyAsync<HelperDiedException>(() => attack);
    }

    [DockerFact]
    public async Task AFloodOfAnUnsealedHelpersStderrIsCutOffAsAProtocolViolation()
    {
        // Given an unsealed helper
        await using var helper = await StartAsync(sealed_: false);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        // When a command pours 200 MB into the helper's stderr through /proc
        var flood = RunAsync(helper, "HP=$(cut -d' ' -f4 /proc/$PPID/stat); head -c 200000000 /dev/zero | tr '\\0' a > /proc/$HP/fd/2", TimeSpan.FromSeconds(60));

        // Then the helper is dropped at the first over-long line, and the server held on to none of it
        await Assert.ThrowsAnyAsync<HelperDiedException>(() => flood);
        Assert.IsType<HelperProtocolException>(helper.DeathReason);
        var grown = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(grown < 16L * 1024 * 1024, $"managed memory grew by {grown / 1024} KiB");
    }

    private async Task<SessionHelper> StartAsync(bool sealed_)
    {
        var workspace = Directory.CreateDirectory(Path.Combine(_dataDir, $"w{_containers.Count}")).FullName;
        File.SetUnixFileMode(workspace, (UnixFileMode)0x1FF);
        var options = new DockerBackendOptions { DataDir = _dataDir, MaxCpus = Environment.ProcessorCount };
        var request = ContainerSpec.Build(options, new NewSessionSpec("s-helpertest", null, new Dictionary<string, string>(), null, null, null, null), DockerTestImage.Name, "1000:1000", workspace, HelperShell.HostDirectory(_dataDir, "test"));
        if (!sealed_)
        {
            request.Labels = new Dictionary<string, string>();
            request.HostConfig!.Binds = [request.HostConfig.Binds[0]];
            request.HostConfig.Tmpfs = new Dictionary<string, string> { ["/tmp"] = "rw,mode=1777" };
        }
        var id = await _engine.CreateContainerAsync(request, cancellationToken: _timeout.Token);
        _containers.Add(id);
        if (sealed_)
        {
            await HelperShell.EnsureAsync(_engine, id, HelperShell.HostDirectory(_dataDir, "test"), _timeout.Token);
        }
        await _engine.StartContainerAsync(id, _timeout.Token);
        return await SessionHelper.StartAsync(_engine, id, sealed_ ? HelperLayout.Sealed : HelperLayout.Legacy, NullLogger.Instance, _timeout.Token);
    }

    private async Task<(int ExitCode, bool TimedOut, string Stdout, TimeSpan Elapsed)> RunAsync(SessionHelper helper, string command, TimeSpan timeout)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var stdout = new OutputCapture(1 << 20);
        var result = await helper.RunAsync("/workspace", command, null, new Dictionary<string, string> { ["PATH"] = "/bin" }, timeout, stdout, new OutputCapture(1 << 20), _timeout.Token);
        return (result.ExitCode, result.TimedOut, stdout.GetText(), System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }
}
