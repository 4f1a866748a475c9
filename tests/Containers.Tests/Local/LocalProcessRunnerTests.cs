using System.Diagnostics;
using System.Globalization;
using SessionMcp.Containers.Local;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Tests.Local;

public sealed class LocalProcessRunnerTests : IDisposable
{
    private const int EightMiB = 8 * 1024 * 1024;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("runner-tests-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task BothStreamsAreCaptured()
    {
        // Given
        var spec = Shell("echo to-stdout; echo to-stderr >&2");

        // When
        var (result, stdout, stderr) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.False(result.TimedOut);
        Assert.Equal("to-stdout\n", stdout.GetText());
        Assert.Equal("to-stderr\n", stderr.GetText());
    }

    [Theory]
    [InlineData("exit 3", 3)]
    [InlineData("exit 0", 0)]
    [InlineData("exit 255", 255)]
    [InlineData("kill -TERM $$", 143)]
    [InlineData("kill -KILL $$", 137)]
    [InlineData("kill -PIPE $$", 141)]
    public async Task ExitCodeIsTheStatusOr128PlusTheSignal(string script, int expected)
    {
        // Given
        var spec = Shell(script);

        // When
        var (result, _, _) = await RunAsync(spec);

        // Then
        Assert.Equal(expected, result.ExitCode);
    }

    [Fact]
    public async Task ChildSeesExactlyTheGivenEnvironment()
    {
        // Given
        var environment = new Dictionary<string, string>
        {
            ["ONLY_THIS"] = "yes",
            ["TRICKY"] = "a b=c 'q' \"d\" $x\nsecond line",
            ["EMPTY"] = "",
            ["UNICODE"] = "héllo €",
        };
        var spec = new ProcessRunSpec("/usr/bin/env", ["-0"], environment, _directory, null, Generous);

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        var seen = stdout.GetText().Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => entry.Split('=', 2))
            .ToDictionary(parts => parts[0], parts => parts[1]);
        Assert.Equal(environment, seen);
    }

    [Fact]
    public async Task WorkingDirectoryIsHonoured()
    {
        // Given
        var spec = Shell("pwd") with { WorkingDirectory = _directory };

        // When
        var (_, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal(_directory + "\n", stdout.GetText());
    }

    [Fact]
    public async Task GivenStdinIsWrittenAndClosed()
    {
        // Given
        var spec = new ProcessRunSpec("/bin/cat", [], LocalTestEnvironment.MinimalEnvironment(), _directory, "hello\nwörld", Generous);

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("hello\nwörld", stdout.GetText());
    }

    [Fact]
    public async Task StdinIsClosedWhenNotGiven()
    {
        // Given: cat would wait forever on an open stdin
        var spec = new ProcessRunSpec("/bin/cat", [], LocalTestEnvironment.MinimalEnvironment(), _directory, null, Generous);

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", stdout.GetText());
        Assert.True(result.Duration < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task LargeStdinReachesTheChildWhole()
    {
        // Given: more than a pipe buffer holds
        var input = new string('x', 1_000_000);
        var spec = new ProcessRunSpec("/usr/bin/wc", ["-c"], LocalTestEnvironment.MinimalEnvironment(), _directory, input, Generous);

        // When
        var (_, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal("1000000", stdout.GetText().Trim());
    }

    [Fact]
    public async Task StdinTheChildNeverReadsIsNoError()
    {
        // Given
        var spec = Shell("exit 4") with { Stdin = new string('x', 1_000_000) };

        // When
        var (result, _, _) = await RunAsync(spec);

        // Then
        Assert.Equal(4, result.ExitCode);
    }

    [Fact]
    public async Task TimeoutKillsTheWholeProcessTree()
    {
        // Given
        var spec = Shell("echo $$; sleep 1000 & echo $!; wait") with { Timeout = TimeSpan.FromSeconds(1) };

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        Assert.True(result.TimedOut);
        Assert.Equal(137, result.ExitCode);
        Assert.InRange(result.Duration, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        var lines = stdout.GetText().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var sessionId = int.Parse(lines[0], CultureInfo.InvariantCulture);
        var sleepPid = int.Parse(lines[1], CultureInfo.InvariantCulture);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(sleepPid), TimeSpan.FromSeconds(5)), "the background sleep survived");
        Assert.Empty(SessionMcp.Containers.Local.Native.SpawnedProcess.FindLiveSessionMembers(sessionId));
    }

    [Fact]
    public async Task WithoutCgroupsTheTimeoutSweepKillsAChildThatLeftTheProcessSession()
    {
        // Given a command whose background child starts its own process session (a process-session kill misses it)
        var spec = Shell("setsid sleep 1000 & echo $!; wait") with
        {
            Timeout = TimeSpan.FromSeconds(1),
            Processes = new SweptCommandProcesses("SESSION_MCP_COMMAND", "c1"),
        };

        // When it times out
        var (result, stdout, _) = await RunAsync(spec);

        // Then the sweep of the shell's descendants got the child too
        Assert.True(result.TimedOut);
        var childPid = int.Parse(stdout.GetText().Trim(), CultureInfo.InvariantCulture);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(childPid), TimeSpan.FromSeconds(5)), "the setsid child survived");
    }

    [Fact]
    public async Task WithoutCgroupsTheTimeoutSweepKillsAnOrphanCarryingTheCommandMarker()
    {
        // Given a command whose grandchild is orphaned (re-parented to init) in a new process session, marker kept
        var environment = LocalTestEnvironment.MinimalEnvironment();
        environment["SESSION_MCP_COMMAND"] = "c2";
        var spec = new ProcessRunSpec("/bin/sh", ["-c", "sh -c 'setsid sleep 1000 & echo $!'; wait; sleep 1000"], environment, _directory, null, TimeSpan.FromSeconds(1),
            new SweptCommandProcesses("SESSION_MCP_COMMAND", "c2"));

        // When it times out
        var (result, stdout, _) = await RunAsync(spec);

        // Then the marker found it
        Assert.True(result.TimedOut);
        var orphanPid = int.Parse(stdout.GetText().Trim(), CultureInfo.InvariantCulture);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(orphanPid), TimeSpan.FromSeconds(5)), "the orphan survived");
    }

    [Fact]
    public async Task CancellationKillsTheTreeAndThrows()
    {
        // Given
        var pidFile = Path.Combine(_directory, "pid");
        var spec = Shell($"sleep 1000 & echo $! > {pidFile}.tmp && mv {pidFile}.tmp {pidFile}; wait");
        using var cancellation = new CancellationTokenSource();
        var run = LocalProcessRunner.RunAsync(spec, new OutputCapture(EightMiB), new OutputCapture(EightMiB), cancellation.Token);
        Assert.True(LocalTestEnvironment.WaitUntil(() => File.Exists(pidFile), TimeSpan.FromSeconds(10)));
        var sleepPid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);

        // When
        await cancellation.CancelAsync();

        // Then
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(sleepPid), TimeSpan.FromSeconds(5)), "the background sleep survived");
    }

    [Fact]
    public async Task ABackgroundProcessHoldingThePipesDoesNotHangTheRun()
    {
        // Given: the background sleep keeps stdout open long after the shell exits
        var spec = Shell("sleep 30 & echo $!; echo started");

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        var lines = stdout.GetText().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        LocalTestEnvironment.KillIfAlive(int.Parse(lines[0], CultureInfo.InvariantCulture));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("started", lines[1]);
        Assert.True(result.Duration < TimeSpan.FromSeconds(5), $"took {result.Duration}");
    }

    [Fact]
    public async Task AllOutputOfTheMainProcessIsCapturedWhileABackgroundProcessHoldsThePipes()
    {
        // Given: end of file never comes in time, so the end of the output is taken from the pipe when the run ends
        var spec = Shell("sleep 30 & echo $! >&2; seq 1 200000");

        // When
        var (result, stdout, stderr) = await RunAsync(spec);

        // Then
        LocalTestEnvironment.KillIfAlive(int.Parse(stderr.GetText().Trim(), CultureInfo.InvariantCulture));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Range(1, 200000).Select(i => $"{i}\n")), stdout.GetText());
        Assert.True(result.Duration < TimeSpan.FromSeconds(5), $"took {result.Duration}");
    }

    [Fact]
    public async Task ABackgroundProcessCanKeepWritingAfterTheRunReturns()
    {
        // Given: after the run returns the pipe is still drained, so late writes do not raise SIGPIPE; the background
        // job writes only once told to, after the run has returned
        var go = Path.Combine(_directory, "go");
        var marker = Path.Combine(_directory, "survived");
        var spec = Shell($"(while [ ! -e {go} ]; do sleep 0.01; done; seq 1 100000; echo done > {marker}) & echo started");

        // When
        var (result, stdout, _) = await RunAsync(spec);
        await File.WriteAllTextAsync(go, "");

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("started\n", stdout.GetText());
        Assert.True(LocalTestEnvironment.WaitUntil(() => File.Exists(marker), TimeSpan.FromSeconds(10)), "the background writer died");
    }

    [Fact]
    public async Task OneMegabyteOnEachStreamIsCapturedCompletely()
    {
        // Given
        const int OneMiB = 1024 * 1024;
        var spec = Shell($"(yes out | head -c {OneMiB}) & (yes err | head -c {OneMiB} >&2); wait");

        // When
        var (result, stdout, stderr) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(OneMiB, stdout.TotalBytes);
        Assert.Equal(OneMiB, stderr.TotalBytes);
        Assert.False(stdout.Capped);
        Assert.Equal(string.Concat(Enumerable.Repeat("out\n", OneMiB / 4)), stdout.GetText());
        Assert.Equal(string.Concat(Enumerable.Repeat("err\n", OneMiB / 4)), stderr.GetText());
    }

    [Fact]
    public async Task TwentyConcurrentRunsAreEachCorrect()
    {
        // Given
        var specs = Enumerable.Range(0, 20).Select(i => Shell("echo out-$0; echo err-$0 >&2; exit $(( $0 % 7 ))", i.ToString(CultureInfo.InvariantCulture)));

        // When
        var runs = await Task.WhenAll(specs.Select(spec => RunAsync(spec)));

        // Then
        for (var i = 0; i < runs.Length; i++)
        {
            Assert.Equal(i % 7, runs[i].Result.ExitCode);
            Assert.Equal($"out-{i}\n", runs[i].Stdout.GetText());
            Assert.Equal($"err-{i}\n", runs[i].Stderr.GetText());
        }
    }

    [Fact]
    public async Task OutputOverTheCapKeepsTheEnd()
    {
        // Given
        var spec = Shell("seq 1 100000");
        var stdout = new OutputCapture(1000);

        // When
        await LocalProcessRunner.RunAsync(spec, stdout, new OutputCapture(1000), CancellationToken.None);

        // Then
        Assert.True(stdout.Capped);
        Assert.StartsWith("1\n2\n3\n", stdout.GetText(), StringComparison.Ordinal);
        Assert.EndsWith("99999\n100000\n", stdout.GetText(), StringComparison.Ordinal);
        Assert.Equal("100000", stdout.LatestLine);
    }

    [Fact]
    public async Task ProgramsCanOpenDevStdoutAndDevStderr()
    {
        // Given: opening /dev/stdout (/proc/self/fd/1) works on a pipe; on a socket it would fail with ENXIO
        var spec = Shell("echo out > /dev/stdout; echo err > /dev/stderr; echo both | tee /dev/stderr");

        // When
        var (result, stdout, stderr) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("out\nboth\n", stdout.GetText());
        Assert.Equal("err\nboth\n", stderr.GetText());
    }

    [Theory]
    [InlineData("echo hi", "hi\n")]
    [InlineData("printf '%s-%d\\n' a 1", "a-1\n")]
    [InlineData("yes | head -c 10", "y\ny\ny\ny\ny\n")]
    [InlineData("yes | head -n 2", "y\ny\n")]
    [InlineData("seq 1 3 | cat", "1\n2\n3\n")]
    [InlineData("head -c 5 /dev/zero | tr '\\0' x", "xxxxx")]
    public async Task CommonProgramsWriteTheirOutputUnchanged(string script, string expected)
    {
        // Given
        var spec = Shell(script);

        // When
        var (result, stdout, stderr) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(expected, stdout.GetText());
        Assert.Equal("", stderr.GetText());
    }

    [Fact]
    public async Task OneMebibyteFromASingleWriterIsCapturedWhole()
    {
        // Given
        const int OneMiB = 1024 * 1024;
        var spec = Shell($"head -c {OneMiB} /dev/zero | tr '\\0' a");

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(OneMiB, stdout.TotalBytes);
        Assert.Equal(new string('a', OneMiB), stdout.GetText());
    }

    [Fact]
    public async Task ABackgroundProcessHoldingStdinDoesNotHangTheRun()
    {
        // Given: the background sleep inherits stdin and never reads the megabyte still being written to it
        var spec = Shell("sleep 30 & echo $!") with { Stdin = new string('x', 1_000_000) };

        // When
        var (result, stdout, _) = await RunAsync(spec);

        // Then
        LocalTestEnvironment.KillIfAlive(int.Parse(stdout.GetText().Trim(), CultureInfo.InvariantCulture));
        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Duration < TimeSpan.FromSeconds(5), $"took {result.Duration}");
    }

    [Fact]
    public async Task AHundredConcurrentRunsWithStdinAreEachCorrect()
    {
        // Given
        var specs = Enumerable.Range(0, 100).Select(i =>
            Shell("cat; echo err-$0 >&2; exit $(( $0 % 7 ))", i.ToString(CultureInfo.InvariantCulture)) with { Stdin = $"in-{i}\n" });

        // When
        var runs = await Task.WhenAll(specs.Select(spec => RunAsync(spec)));

        // Then
        for (var i = 0; i < runs.Length; i++)
        {
            Assert.Equal(i % 7, runs[i].Result.ExitCode);
            Assert.Equal($"in-{i}\n", runs[i].Stdout.GetText());
            Assert.Equal($"err-{i}\n", runs[i].Stderr.GetText());
        }
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenStartsNothing()
    {
        // Given
        var marker = Path.Combine(_directory, "ran");
        var spec = Shell($"touch {marker}");

        // When
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            LocalProcessRunner.RunAsync(spec, new OutputCapture(100), new OutputCapture(100), new CancellationToken(canceled: true)));

        // Then
        Assert.False(File.Exists(marker));
    }

    private ProcessRunSpec Shell(string script, params string[] arguments) =>
        new("/bin/sh", ["-c", script, .. arguments], LocalTestEnvironment.MinimalEnvironment(), _directory, null, Generous);

    private static async Task<(ProcessRunResult Result, OutputCapture Stdout, OutputCapture Stderr)> RunAsync(ProcessRunSpec spec)
    {
        var stdout = new OutputCapture(EightMiB);
        var stderr = new OutputCapture(EightMiB);
        var result = await LocalProcessRunner.RunAsync(spec, stdout, stderr, CancellationToken.None);
        return (result, stdout, stderr);
    }
}
