using System.Globalization;
using System.Text;
using SessionMcp.Containers.Local;
using SessionMcp.Containers.Local.Native;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Local;

public sealed class PtyTests
{
    // Deadlines, not delays: each wait ends as soon as its event (output, exit, /proc state) arrives.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private static readonly TerminalSize Standard = new(80, 24);

    [Fact]
    public async Task TtyPrintsTheTerminalsDevice()
    {
        // Given
        await using var terminal = Start("tty");
        var screen = new Screen(terminal);

        // When
        var exitCode = await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline);
        await screen.Completion.WaitAsync(Deadline);

        // Then: the terminal is the process's stdin (tty reads fd 0), and its line discipline turned \n into \r\n
        Assert.Matches("^/dev/pts/[0-9]+$", terminal.TerminalPath);
        Assert.Equal(terminal.TerminalPath + "\r\n", screen.Text);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task TheTerminalIsTheControllingTerminalOfANewSession()
    {
        // Given: fields 6 and 7 of /proc/self/stat are the session and the controlling terminal's device number
        await using var terminal = Start("sh", "-c", "cut -d' ' -f6 /proc/$$/stat; stat -c '%t %T' $(tty); cut -d' ' -f7 /proc/$$/stat");
        var screen = new Screen(terminal);

        // When
        await screen.Completion.WaitAsync(Deadline);

        // Then
        var lines = screen.Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(terminal.Pid.ToString(CultureInfo.InvariantCulture), lines[0]);
        var majorMinor = lines[1].Split(' ').Select(hex => int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        var ttyNr = int.Parse(lines[2], CultureInfo.InvariantCulture);
        Assert.Equal((majorMinor[0], majorMinor[1]), ((ttyNr >> 8) & 0xFF, (ttyNr & 0xFF) | ((ttyNr >> 12) & 0xFFF00)));
    }

    [Fact]
    public async Task SttySizeShowsTheInitialSizeAndTheSizeAfterAResize()
    {
        // Given
        await using var terminal = Start(new TerminalSize(80, 24), "sh", "-c", "stty size; read x; stty size");
        var screen = new Screen(terminal);
        await screen.WaitForAsync(text => text.Contains("24 80\r\n", StringComparison.Ordinal));

        // When
        terminal.Resize(new TerminalSize(132, 50));
        await terminal.WriteAsync("\n"u8.ToArray(), CancellationToken.None);
        await screen.Completion.WaitAsync(Deadline);

        // Then
        Assert.Equal("24 80\r\n\r\n50 132\r\n", screen.Text);
        Assert.Equal(new TerminalSize(132, 50), terminal.Size);
    }

    [Fact]
    public async Task AnInteractiveShellRunsWhatIsTyped()
    {
        // Given
        await using var terminal = Start("sh");
        var screen = new Screen(terminal);

        // When
        await terminal.WriteAsync("echo h''i\n"u8.ToArray(), CancellationToken.None);
        await screen.WaitForAsync(text => text.Contains("hi\r\n", StringComparison.Ordinal));
        await terminal.WriteAsync("exit 4\n"u8.ToArray(), CancellationToken.None);

        // Then: the typed line was echoed (before or after the prompt: the shell may not have printed it yet), and
        // the command's output ("hi" appears in the echo only as h''i) came
        Assert.Equal(4, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
        await screen.Completion.WaitAsync(Deadline);
        Assert.Contains("echo h''i\r\n", screen.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CtrlCInterruptsTheForegroundProcess()
    {
        // Given: sleep is exec'd by the time Start returns (posix_spawn waits for the exec)
        await using var terminal = Start("sleep", "100");
        _ = new Screen(terminal);

        // When
        await terminal.WriteAsync(new byte[] { 0x03 }, CancellationToken.None);

        // Then: SIGINT
        Assert.Equal(128 + 2, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
    }

    [Fact]
    public async Task CtrlCInAnInteractiveShellStopsTheForegroundCommandAndTheShellGoesOn()
    {
        // Given an interactive shell running sleep in the foreground
        await using var terminal = Start("sh");
        var screen = new Screen(terminal);
        await terminal.WriteAsync("sleep 100\n"u8.ToArray(), CancellationToken.None);
        int? sleeper = null;
        Assert.True(LocalTestEnvironment.WaitUntil(() => (sleeper = FindInSession(terminal.Pid, "sleep")) is not null, Deadline), "sleep never started");

        // When
        await terminal.WriteAsync(new byte[] { 0x03 }, CancellationToken.None);

        // Then: sleep is gone and the shell reads the next line
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(sleeper!.Value), Deadline), "sleep survived Ctrl-C");
        await terminal.WriteAsync("echo a''live\n"u8.ToArray(), CancellationToken.None);
        await screen.WaitForAsync(text => text.Contains("alive\r\n", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CtrlDEndsCat()
    {
        // Given
        await using var terminal = Start("cat");
        var screen = new Screen(terminal);
        await terminal.WriteAsync("line\n"u8.ToArray(), CancellationToken.None);
        await screen.WaitForAsync(text => text == "line\r\nline\r\n"); // the echo, then cat's copy

        // When
        await terminal.WriteAsync(new byte[] { 0x04 }, CancellationToken.None);

        // Then
        Assert.Equal(0, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
        await screen.Completion.WaitAsync(Deadline);
    }

    [Fact]
    public async Task TheExitCodeIsReported()
    {
        // Given
        await using var terminal = Start("sh", "-c", "exit 3");

        // When
        var exitCode = await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline);

        // Then
        Assert.Equal(3, exitCode);
    }

    [Fact]
    public async Task OutputOfAProcessThatAlreadyExitedIsReadToTheEnd()
    {
        // Given a process that has exited, its output still in the terminal
        await using var terminal = Start("sh", "-c", "echo one; echo two");
        await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline);

        // When
        var screen = new Screen(terminal);
        await screen.Completion.WaitAsync(Deadline);

        // Then: the buffered output, then the end (EIO), and every later read is an end too
        Assert.Equal("one\r\ntwo\r\n", screen.Text);
        Assert.Equal(0, await terminal.ReadAsync(new byte[16], CancellationToken.None));
    }

    [Fact]
    public async Task LargeOutputOfAProcessThatExitsRightAwayIsNotLost()
    {
        // Given 100 KiB without newlines (no \r\n translation), far more than the terminal buffers
        const int Size = 100 * 1024;
        await using var terminal = Start("sh", "-c", $"head -c {Size} /dev/zero | tr '\\0' x");

        // When
        var screen = new Screen(terminal);
        await screen.Completion.WaitAsync(Deadline);

        // Then
        Assert.Equal(0, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
        Assert.Equal(Size, screen.Text.Length);
        Assert.All(screen.Text, c => Assert.Equal('x', c));
    }

    [Fact]
    public async Task DisposingKillsTheSessionsBackgroundProcesses()
    {
        // Given a shell with a background child
        var terminal = Start("sh", "-c", "sleep 100 & echo $!; read x");
        var screen = new Screen(terminal);
        var background = await screen.ReadPidAsync();
        Assert.True(LocalTestEnvironment.IsAlive(background));

        // When
        await terminal.DisposeAsync();

        // Then
        Assert.Equal(128 + 9, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(background), Deadline), $"background sleep {background} survived");
        Assert.Empty(SpawnedProcess.FindLiveSessionMembers(terminal.Pid));
    }

    [Fact]
    public async Task KillingReachesAJobThatOutlivedTheSessionLeaderAndHoldsTheTerminal()
    {
        // Given: with job control the job has its own process group, so the leader's exit sends it no SIGHUP; it keeps
        // the terminal open, so the output never ends
        await using var terminal = Start("sh", "-c", "set -m; sleep 100 & echo $!");
        var screen = new Screen(terminal);
        var background = await screen.ReadPidAsync();
        Assert.Equal(0, await terminal.WaitForExitAsync(CancellationToken.None).WaitAsync(Deadline));
        Assert.True(LocalTestEnvironment.IsAlive(background));

        // When
        terminal.Kill();

        // Then: it is dead, and with the last holder gone the output ends
        await screen.Completion.WaitAsync(Deadline);
        Assert.False(LocalTestEnvironment.IsAlive(background));
    }

    [CgroupFact]
    public async Task AProcessInTheCommandsCgroupIsKilledEvenWhenItLeftSessionAndTerminal()
    {
        // Given a terminal in a command cgroup, with a child that left both its session and the terminal
        var cgroups = SessionCgroups.Detect(pidsLimit: 0);
        var sessionId = $"pty-test-{Guid.NewGuid():N}";
        var cgroup = cgroups.TryCreateCommand(sessionId, "t-1");
        Assert.NotNull(cgroup);
        try
        {
            var terminal = Start(Standard, cgroup, "sh", "-c", "setsid sleep 100 </dev/null >/dev/null 2>&1 & echo $!; read x");
            var screen = new Screen(terminal);
            var escaped = await screen.ReadPidAsync();
            Assert.Contains(sessionId + "/t-1", await File.ReadAllTextAsync($"/proc/{terminal.Pid}/cgroup"), StringComparison.Ordinal);
            Assert.DoesNotContain(escaped, PtyProcess.FindTerminalHolders(terminal.TerminalPath));

            // When
            await terminal.DisposeAsync();

            // Then
            Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(escaped), Deadline), $"setsid sleep {escaped} survived");
        }
        finally
        {
            await cgroups.KillSessionAsync(sessionId, CancellationToken.None);
        }
    }

    [Fact]
    public async Task InputWaitIsDetectedForReadInSh()
    {
        // Given
        await using var terminal = Start("sh", "-c", "read x");

        // When
        var wait = PollInputWait(terminal, w => w.Waiting);

        // Then
        Assert.True(wait.Waiting, wait.Reason);
        Assert.Equal(terminal.Pid, wait.Pid);
        Assert.Contains("read(0 = " + terminal.TerminalPath + ")", wait.Reason, StringComparison.Ordinal);
        Assert.False(wait.EchoOff);
        Assert.False(wait.LikelySecret);
    }

    [Fact]
    public async Task InputWaitIsDetectedForCatStartedByAShell()
    {
        // Given: cat is a child in the shell's (foreground) process group; the shell itself waits for cat
        await using var terminal = Start("sh", "-c", "cat; true");

        // When
        var wait = PollInputWait(terminal, w => w.Waiting);

        // Then
        Assert.True(wait.Waiting, wait.Reason);
        Assert.NotEqual(terminal.Pid, wait.Pid);
        Assert.StartsWith("cat (", wait.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InputWaitIsNotDetectedWhileSleepRunsAndIsOnceItReads()
    {
        // Given a shell that sleeps, then reads
        await using var terminal = Start("sh", "-c", "sleep 2; read x");
        Assert.True(LocalTestEnvironment.WaitUntil(() => FindInSession(terminal.Pid, "sleep") is not null, Deadline), "sleep never started");

        // When
        var whileSleeping = terminal.GetInputWait();
        var afterwards = PollInputWait(terminal, w => w.Waiting);

        // Then
        Assert.False(whileSleeping.Waiting, whileSleeping.Reason);
        Assert.Contains("sleep (", whileSleeping.Reason, StringComparison.Ordinal);
        Assert.True(afterwards.Waiting, afterwards.Reason);
    }

    [Fact]
    public async Task EchoOffIsReportedForAPasswordPrompt()
    {
        // Given
        await using var terminal = Start("sh", "-c", "stty -echo; read pw");

        // When
        var wait = PollInputWait(terminal, w => w.Waiting && w.EchoOff);

        // Then
        Assert.True(wait.Waiting, wait.Reason);
        Assert.True(wait.EchoOff);
        Assert.True(wait.Canonical);
        Assert.True(wait.LikelySecret);
    }

    [Fact]
    public async Task ReadlinesPromptWaitsInPselectAndIsNoSecret()
    {
        // Given an interactive bash: readline turns echo and line mode off and waits in pselect6
        await using var terminal = Start("bash", "--norc", "--noprofile", "-i");
        _ = new Screen(terminal);

        // When
        var wait = PollInputWait(terminal, w => w.Waiting);

        // Then
        Assert.True(wait.Waiting, wait.Reason);
        Assert.True(wait.EchoOff);
        Assert.False(wait.Canonical);
        Assert.False(wait.LikelySecret);
    }

    [Fact]
    public async Task InputWaitOnAPipeIsDetectedForTheJobsReaderOnly()
    {
        // Given a job whose stdin is a pipe: cat reads it; and one that sleeps with its stdin open
        using var reader = SpawnedProcess.Start("cat", ["cat"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: true);
        using var sleeper = SpawnedProcess.Start("sh", ["sh", "-c", "sleep 100"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: true);
        try
        {
            Assert.True(LocalTestEnvironment.WaitUntil(() => FindInSession(sleeper.Pid, "sleep") is not null, Deadline), "sleep never started");

            // When
            InputWait? readerWait = null;
            LocalTestEnvironment.WaitUntil(
                () => (readerWait = InputWaitProbe.ForProcesses(SpawnedProcess.FindLiveSessionMembers(reader.Pid), reader.Stdin!.FileLink)).Waiting,
                Deadline);
            var sleeperWait = InputWaitProbe.ForProcesses(SpawnedProcess.FindLiveSessionMembers(sleeper.Pid), sleeper.Stdin!.FileLink);

            // Then
            Assert.True(readerWait!.Waiting, readerWait.Reason);
            Assert.Equal(reader.Pid, readerWait.Pid);
            Assert.Contains("read(0 = pipe:[", readerWait.Reason, StringComparison.Ordinal);
            Assert.False(sleeperWait.Waiting, sleeperWait.Reason);
        }
        finally
        {
            reader.KillSession();
            sleeper.KillSession();
            await Task.WhenAll(reader.WaitForExitAsync(CancellationToken.None), sleeper.WaitForExitAsync(CancellationToken.None)).WaitAsync(Deadline);
        }
    }

    private static PtyProcess Start(params string[] argv) => Start(Standard, argv);

    private static PtyProcess Start(TerminalSize size, params string[] argv) => Start(size, null, argv);

    private static PtyProcess Start(TerminalSize size, CommandProcesses? processes, params string[] argv) =>
        PtyProcess.Start(argv[0], argv, LocalTestEnvironment.MinimalEnvironment(), "/", size, processes);

    /// <summary>The input-wait state is only observable in /proc: polled until it matches or the deadline passes.</summary>
    private static InputWait PollInputWait(PtyProcess terminal, Func<InputWait, bool> condition)
    {
        var wait = terminal.GetInputWait();
        LocalTestEnvironment.WaitUntil(() => condition(wait = terminal.GetInputWait()), Deadline);
        return wait;
    }

    private static int? FindInSession(int session, string command)
    {
        foreach (var pid in SpawnedProcess.FindLiveSessionMembers(session))
        {
            try
            {
                if (File.ReadAllText($"/proc/{pid}/comm").Trim() == command)
                {
                    return pid;
                }
            }
            catch (IOException)
            {
            }
        }

        return null;
    }

    /// <summary>Everything a terminal printed, read as it arrives, and waits for text to appear in it.</summary>
    private sealed class Screen
    {
        private readonly object _gate = new();
        private readonly StringBuilder _text = new();
        private readonly List<(Func<string, bool> Condition, TaskCompletionSource Done)> _waiters = [];
        private bool _ended;

        public Screen(PtyProcess terminal) => Completion = PumpAsync(terminal);

        /// <summary>Completes at the end of the terminal's output.</summary>
        public Task Completion { get; }

        public string Text
        {
            get { lock (_gate) { return _text.ToString(); } }
        }

        public Task WaitForAsync(Func<string, bool> condition)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (condition(_text.ToString()))
                {
                    return Task.CompletedTask;
                }

                if (_ended)
                {
                    throw new InvalidOperationException($"the output ended without it: '{_text}'");
                }

                _waiters.Add((condition, done));
            }

            return WaitOrExplainAsync(done.Task);
        }

        private async Task WaitOrExplainAsync(Task done)
        {
            try
            {
                await done.WaitAsync(Deadline);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"not seen within {Deadline}: '{Text}'", e);
            }
        }

        /// <summary>The first line, a pid.</summary>
        public async Task<int> ReadPidAsync()
        {
            await WaitForAsync(text => text.Contains("\r\n", StringComparison.Ordinal));
            return int.Parse(Text.Split("\r\n")[0], CultureInfo.InvariantCulture);
        }

        private async Task PumpAsync(PtyProcess terminal)
        {
            var buffer = new byte[4096];
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            try
            {
                int read;
                while ((read = await terminal.ReadAsync(buffer, CancellationToken.None)) > 0)
                {
                    var count = decoder.GetChars(buffer, 0, read, chars, 0);
                    lock (_gate)
                    {
                        _text.Append(chars, 0, count);
                        var text = _text.ToString();
                        foreach (var waiter in _waiters.Where(w => w.Condition(text)).ToList())
                        {
                            _waiters.Remove(waiter);
                            waiter.Done.TrySetResult();
                        }
                    }
                }
            }
            finally
            {
                lock (_gate)
                {
                    _ended = true;
                    foreach (var waiter in _waiters)
                    {
                        waiter.Done.TrySetException(new InvalidOperationException($"the output ended without it: '{_text}'"));
                    }

                    _waiters.Clear();
                }
            }
        }
    }
}
