using System.Globalization;
using System.Text;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// The daemon and the stdio relay, with real processes: clients (<c>serve --daemon auto</c>) that share one daemon per
/// data directory, jobs that outlive the client that started them, one daemon per directory, stop, status and restart.
/// Every test stops the daemons it started (<see cref="DaemonDirectory"/>), and kills them should stopping fail.
/// </summary>
public sealed class DaemonTests
{
    private static readonly string[] Auto = ["--daemon", "auto"];

    [Fact]
    public async Task TwoClientsStartedAtOnceShareOneDaemon()
    {
        // Given a data directory no daemon serves
        await using var data = new DaemonDirectory();

        // When two clients start on it at the same moment
        var starting = new[] { ServerProcess.StartAsync(data.Path, Auto), ServerProcess.StartAsync(data.Path, Auto) };
        await using var first = await starting[0];
        await using var second = await starting[1];

        // Then one of them started one daemon, which both talk to: a session created by one is listed by the other
        Assert.Single(new[] { first, second }, client => client.StandardError.Contains("started the daemon", StringComparison.Ordinal));
        var daemon = Assert.Single(data.DaemonProcesses());
        Assert.Equal(daemon, data.PidFromFile());
        var id = await first.CreateSessionAsync(Backends.Local, name: "shared");
        var listed = (await second.CallAsync("session_list"))["sessions"]!.AsArray();
        Assert.Contains(listed, s => s!.Text("session_id") == id);
        Assert.Equal("shared\n", await second.RunAsync(id, "echo shared"));
        // The socket is its owner's only
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(System.IO.Path.Combine(data.Path, "daemon.sock")));
    }

    [Fact]
    public async Task AJobOutlivesTheClientThatStartedItAndTheNextClientReadsAllItsOutput()
    {
        // Given a client that started a background job in the daemon
        await using var data = new DaemonDirectory();
        string id;
        string job;
        await using (var first = await ServerProcess.StartAsync(data.Path, Auto))
        {
            id = await first.CreateSessionAsync(Backends.Local);
            var started = await first.CallAsync("session_exec", new { session_id = id, background = true, command = "for i in $(seq 1 30); do echo $i; sleep 0.1; done" });
            job = started.Text("job_id");

            // When the client is killed while the job runs
            await first.KillAsync();
        }

        // Then a new client reaches the same daemon and reads the job's whole output once it exits
        await using var second = await ServerProcess.StartAsync(data.Path, Auto);
        Assert.DoesNotContain("started the daemon", second.StandardError, StringComparison.Ordinal);
        var output = await second.CallAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 30_000 });
        Assert.Equal("exited", output.Text("state"));
        Assert.Equal(0, output["exit_code"]!.GetValue<int>());
        Assert.Equal(string.Concat(Enumerable.Range(1, 30).Select(i => $"{i}\n")), output.Text("output"));
    }

    [Fact]
    public async Task AClientKilledMidCallHasTheCallCancelledAndAudited()
    {
        // Given a client waiting for a foreground command in the daemon
        await using var data = new DaemonDirectory();
        await using var first = await ServerProcess.StartAsync(data.Path, Auto);
        var id = await first.CreateSessionAsync(Backends.Local);
        var call = first.CallRawAsync("session_exec", new { session_id = id, command = "sleep 77" }, null);
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "77").Count == 1, TimeSpan.FromSeconds(30)), "the command did not start");

        // When the client is killed
        await first.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => call);

        // Then the daemon does not wait out the command for a client that is gone: the call ends as cancelled, audited
        Assert.True(
            await Poll.UntilAsync(
                async () => (await ServerCli.ExportAsync(data.Path)).Any(e => e["tool"]?.GetValue<string>() == "session_exec" && e["outcome"]?.GetValue<string>() == "cancelled"),
                TimeSpan.FromSeconds(30)),
            "the call of the killed client was not audited as cancelled");
        await using var second = await ServerProcess.StartAsync(data.Path, Auto);
        Assert.Equal("alive\n", await second.RunAsync(id, "echo alive"));
    }

    [Fact]
    public async Task ASecondDaemonOnTheSameDataDirectoryRefusesToStart()
    {
        // Given a running daemon (started by a client)
        await using var data = new DaemonDirectory();
        await using var client = await ServerProcess.StartAsync(data.Path, Auto);
        var daemon = data.PidFromFile();

        // When another daemon is started by hand on the same directory
        var second = await ServerCli.RunAsync(data.Path, ["daemon"]);

        // Then it exits at once, saying which daemon runs, and the first keeps serving
        Assert.True(second.ExitCode == 1, second.ToString());
        Assert.Contains($"a daemon already runs for {data.Path} (pid {daemon})", second.Stderr, StringComparison.Ordinal);
        Assert.Equal([daemon], data.DaemonProcesses());
        await client.CallAsync("session_list");
    }

    [Fact]
    public async Task StatusReportsTheDaemonAndStopEndsItAndItsClients()
    {
        // Given a daemon with one client and one session
        await using var data = new DaemonDirectory();
        await using var client = await ServerProcess.StartAsync(data.Path, Auto);
        await client.CreateSessionAsync(Backends.Local);
        var daemon = data.PidFromFile();

        // When its status is asked, then it is stopped
        var running = await ServerCli.RunAsync(data.Path, ["daemon", "status"]);
        var stopped = await ServerCli.RunAsync(data.Path, ["daemon", "stop"]);
        var after = await ServerCli.RunAsync(data.Path, ["daemon", "status"]);

        // Then status named it, stop waited for it to end, and the relay of its client ended with it
        Assert.True(running.ExitCode == 0, running.ToString());
        Assert.Contains($"running: pid {daemon}", running.Stdout, StringComparison.Ordinal);
        Assert.Contains($"socket: {data.Path}/daemon.sock (answers)", running.Stdout, StringComparison.Ordinal);
        Assert.Contains("sessions: 1 (1 running)", running.Stdout, StringComparison.Ordinal);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.Contains($"stopped the daemon of {data.Path} (pid {daemon})", stopped.Stdout, StringComparison.Ordinal);
        Assert.Empty(data.DaemonProcesses());
        Assert.False(File.Exists(System.IO.Path.Combine(data.Path, "daemon.sock")));
        Assert.True(after.ExitCode == 3, after.ToString());
        Assert.Contains("not running", after.Stdout, StringComparison.Ordinal);
        Assert.True(await Poll.UntilAsync(() => client.HasExited, TimeSpan.FromSeconds(10)), "the relay outlived its daemon");
    }

    [Fact]
    public async Task AServerInItsClientsProcessAndADaemonNeverShareADataDirectory()
    {
        // Given a server running in its client's process
        await using var data = new DaemonDirectory();
        var inProcess = await ServerProcess.StartAsync(data.Path, ["--daemon", "never"]);

        // When a daemon is started on its data directory, and again once that server is gone
        var refused = await ServerCli.RunAsync(data.Path, ["daemon"]);
        await inProcess.DisposeAsync();
        await using var client = await ServerProcess.StartAsync(data.Path, Auto);
        var secondInProcess = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(data.Path, ["--daemon", "never"]));

        // Then the first is refused (each would take the other's sessions for a crash's leftovers), the second runs, and
        // a server in its own process is refused beside it
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("a server in its client's process (serve --daemon never) uses", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains($"a daemon serves {data.Path} (pid {data.PidFromFile()})", secondInProcess.Message, StringComparison.Ordinal);
        await client.CallAsync("session_list");
    }

    [Fact]
    public async Task RequireFailsClearlyWhenNoDaemonRuns()
    {
        // Given a data directory no daemon serves
        await using var data = new DaemonDirectory();

        // When a client insists on a daemon
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ServerProcess.StartAsync(data.Path, ["--daemon", "require"]));

        // Then it fails, saying how to get one, and starts none
        Assert.Contains("no daemon answers", failure.Message, StringComparison.Ordinal);
        Assert.Contains("session-mcp daemon --data-dir", failure.Message, StringComparison.Ordinal);
        Assert.Empty(data.DaemonProcesses());
    }

    [Fact]
    public async Task ARestartedDaemonKeepsItsSessionsAndReportsTheJobsItStoppedAsLost()
    {
        // Given a daemon with a session running a job that has written some output
        await using var data = new DaemonDirectory();
        string id;
        string job;
        await using (var first = await ServerProcess.StartAsync(data.Path, Auto))
        {
            id = await first.CreateSessionAsync(Backends.Local, name: "kept");
            await first.RunAsync(id, "mkdir -p kept && cd kept && export KEPT=yes");
            job = (await first.CallAsync("session_exec", new { session_id = id, command = "echo before; sleep 100", background = true })).Text("job_id");
            var seen = await first.CallAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 10_000, until = "before" });
            Assert.Equal("before\n", seen.Text("output"));
        }

        // When the daemon is stopped and a client starts a new one
        var stopped = await ServerCli.RunAsync(data.Path, ["daemon", "stop"]);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        await using var second = await ServerProcess.StartAsync(data.Path, Auto);

        // Then the session carries on where it was, and the job it was running is lost, its output kept
        Assert.Contains("started the daemon", second.StandardError, StringComparison.Ordinal);
        var listed = (await second.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!.Text("session_id") == id)!;
        Assert.Equal("running", listed.Text("status"));
        var lines = (await second.RunAsync(id, "pwd; echo $KEPT")).Split('\n');
        Assert.EndsWith("/kept", lines[0], StringComparison.Ordinal);
        Assert.Equal("yes", lines[1]);
        var jobs = (await second.CallAsync("session_jobs", new { session_id = id }))["jobs"]!.AsArray();
        Assert.Equal("lost", Assert.Single(jobs)!.Text("state"));
        var output = await second.CallAsync("session_job_output", new { session_id = id, job_id = job });
        Assert.Equal("before\n", output.Text("output"));
        Assert.Empty(LocalProcesses.Find(id, "sleep", "100"));
    }

    [Fact]
    public async Task AttachShowsATerminalLiveAndForwardsKeysOnlyWithWrite()
    {
        // Given an agent's terminal in the daemon
        await using var data = new DaemonDirectory();
        await using var agent = await ServerProcess.StartAsync(data.Path, Auto);
        var id = await agent.CreateSessionAsync(Backends.Local);
        var terminal = (await agent.CallAsync("session_terminal_open", new { session_id = id, cols = 60, rows = 10 })).Text("terminal_id");
        await agent.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo before-attach", keys = new[] { "Enter" } });

        // When a person attaches read-only, types, and the agent goes on
        var viewer = Attach(data.Path, id, terminal, write: false);
        Assert.True(await Poll.UntilAsync(() => viewer.Output.Contains("before-attach", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), $"the screen never showed: {viewer.Output}");
        await viewer.TypeAsync("echo typed-by-viewer\r");
        await agent.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo from-the-agent", keys = new[] { "Enter" } });

        // Then the viewer sees the agent's work live, and its keys went nowhere; Ctrl-] detaches
        Assert.True(await Poll.UntilAsync(() => viewer.Output.Contains("from-the-agent\r\n", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), $"live output never came: {viewer.Output}");
        Assert.DoesNotContain("typed-by-viewer", (await agent.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal })).Text("screen"));
        Assert.Equal(0, await viewer.DetachAsync());

        // And with --write the person's keys reach the terminal
        var writer = Attach(data.Path, id, terminal, write: true);
        Assert.True(await Poll.UntilAsync(() => writer.Output.Contains("from-the-agent", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), $"the screen never showed: {writer.Output}");
        await writer.TypeAsync("echo typed-$((6*7))\r");
        Assert.True(await Poll.UntilAsync(async () => (await agent.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal })).Text("screen").Contains("typed-42", StringComparison.Ordinal), TimeSpan.FromSeconds(20)), "the person's keys never reached the terminal");
        Assert.Equal(0, await writer.DetachAsync());

        // And the daemon's live state lists the terminal
        var jobs = await ServerCli.RunAsync(data.Path, ["jobs", id]);
        Assert.Equal(0, jobs.ExitCode);
        Assert.Matches($@"{terminal}\s+terminal\s+running", jobs.Stdout);
    }

    private static AttachedViewer Attach(string dataDir, string sessionId, string terminal, bool write)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { ServerProcess.ServerDll, "attach", sessionId, terminal, "--data-dir", dataDir })
        {
            start.ArgumentList.Add(argument);
        }
        if (write)
        {
            start.ArgumentList.Add("--write");
        }
        return new AttachedViewer(System.Diagnostics.Process.Start(start)!);
    }

    /// <summary>A running <c>session-mcp attach</c>, its output collected as it comes.</summary>
    private sealed class AttachedViewer
    {
        private readonly System.Diagnostics.Process _process;
        private readonly StringBuilder _output = new();

        public AttachedViewer(System.Diagnostics.Process process)
        {
            _process = process;
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            _ = Task.Run(async () =>
            {
                var buffer = new char[4096];
                int read;
                while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0)
                {
                    lock (_output)
                    {
                        _output.Append(buffer, 0, read);
                    }
                }
            });
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public async Task TypeAsync(string keys)
        {
            await _process.StandardInput.WriteAsync(keys);
            await _process.StandardInput.FlushAsync();
        }

        /// <summary>Ctrl-], then the exit code.</summary>
        public async Task<int> DetachAsync()
        {
            await TypeAsync("\u001d");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                throw new TimeoutException("attach did not detach on Ctrl-]");
            }
            return _process.ExitCode;
        }
    }

    /// <summary>
    /// A fresh data directory whose daemons are stopped on dispose (<c>daemon stop</c>), and killed if that fails, so no
    /// test leaves a daemon behind.
    /// </summary>
    internal sealed class DaemonDirectory : IAsyncDisposable
    {
        private readonly TempDirectory _directory = new("daemon");

        public string Path => _directory.Path;

        /// <summary>The pid the daemon wrote into daemon.pid.</summary>
        public int PidFromFile() =>
            int.Parse(File.ReadLines(System.IO.Path.Combine(Path, "daemon.pid")).First(), NumberStyles.None, CultureInfo.InvariantCulture);

        /// <summary>Live processes running <c>session-mcp daemon --data-dir</c> this directory (as a client starts it).</summary>
        public IReadOnlyList<int> DaemonProcesses()
        {
            var marker = Encoding.UTF8.GetBytes($"\0daemon\0--data-dir\0{Path}\0");
            var found = new List<int>();
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(System.IO.Path.GetFileName(directory), out var pid))
                {
                    continue;
                }
                try
                {
                    // A zombie's cmdline is empty: only live processes match.
                    if (File.ReadAllBytes(System.IO.Path.Combine(directory, "cmdline")).AsSpan().IndexOf(marker) >= 0)
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // It ended while we looked.
                }
            }
            return found;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (DaemonProcesses().Count > 0)
                {
                    await ServerCli.RunAsync(Path, ["daemon", "stop"]).ConfigureAwait(false);
                }
            }
            finally
            {
                foreach (var pid in DaemonProcesses())
                {
                    try
                    {
                        System.Diagnostics.Process.GetProcessById(pid).Kill(entireProcessTree: true);
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        // Gone meanwhile.
                    }
                }
                _directory.Dispose();
            }
        }
    }
}
