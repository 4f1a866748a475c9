using System.Diagnostics;
using System.Text;
using SessionMcp.Containers.Local.Native;

namespace SessionMcp.Containers.Tests.Local;

public sealed class SpawnedProcessTests
{
    [Fact]
    public async Task ChildRunsWithOutputOnPipesAndItsExitCode()
    {
        // Given
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "echo out; echo err >&2; exit 7"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);

        // When
        var stdout = await ReadAllAsync(process.Stdout);
        var stderr = await ReadAllAsync(process.Stderr);
        var exitCode = await process.WaitForExitAsync(CancellationToken.None);

        // Then
        Assert.Equal("out\n", stdout);
        Assert.Equal("err\n", stderr);
        Assert.Equal(7, exitCode);
        Assert.Null(process.Stdin);
    }

    [Fact]
    public async Task ChildLeadsItsOwnSession()
    {
        // Given
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "cut -d' ' -f5,6 /proc/$$/stat"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);

        // When
        var output = await ReadAllAsync(process.Stdout);
        await process.WaitForExitAsync(CancellationToken.None);

        // Then: process group and session id are both the child's pid
        Assert.Equal($"{process.Pid} {process.Pid}\n", output);
    }

    [Fact]
    public async Task ChildHasDefaultSignalDispositionsAndAnEmptyMask()
    {
        // Given: .NET ignores SIGPIPE, which children would inherit without SETSIGDEF
        using var process = SpawnedProcess.Start("/bin/grep", ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);

        // When
        var output = await ReadAllAsync(process.Stdout);
        await process.WaitForExitAsync(CancellationToken.None);

        // Then
        Assert.Equal("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", output);
    }

    [Fact]
    public async Task ChildInheritsOnlyTheStandardDescriptors()
    {
        // Given: the test host has many descriptors open, all of which must stay out of the child
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "ls /proc/$$/fd"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);

        // When
        var output = await ReadAllAsync(process.Stdout);
        await process.WaitForExitAsync(CancellationToken.None);

        // Then
        Assert.Equal("0\n1\n2\n", output);
    }

    [Fact]
    public async Task StdinPipeFeedsTheChild()
    {
        // Given
        using var process = SpawnedProcess.Start("/bin/cat", ["cat"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: true);

        // When
        await process.Stdin!.WriteAsync("piped"u8.ToArray(), CancellationToken.None);
        process.Stdin.Dispose();
        var output = await ReadAllAsync(process.Stdout);

        // Then
        Assert.Equal("piped", output);
        Assert.Equal(0, await process.WaitForExitAsync(CancellationToken.None));
    }

    [Fact]
    public async Task FileNameWithoutSlashIsFoundInTheChildsPath()
    {
        // Given
        var environment = new Dictionary<string, string> { ["PATH"] = "/nonexistent:/bin" };

        // When
        using var process = SpawnedProcess.Start("echo", ["echo", "found"], environment, "/", withStdin: false);
        var output = await ReadAllAsync(process.Stdout);

        // Then
        Assert.Equal("found\n", output);
        Assert.Equal(0, await process.WaitForExitAsync(CancellationToken.None));
    }

    [Fact]
    public void MissingExecutableIsReportedWithTheErrno()
    {
        // Given // When
        var error = Assert.Throws<ProcessSpawnException>(() =>
            SpawnedProcess.Start("/nonexistent/tool", ["tool"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false));

        // Then
        Assert.Equal(2, error.ErrorNumber);
        Assert.Contains("No such file or directory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingWorkingDirectoryIsReportedAsSuch()
    {
        // Given // When
        var error = Assert.Throws<ProcessSpawnException>(() =>
            SpawnedProcess.Start("/bin/true", ["true"], LocalTestEnvironment.MinimalEnvironment(), "/nonexistent-dir", withStdin: false));

        // Then
        Assert.Contains("working directory '/nonexistent-dir' does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KillProcessGroupKillsTheChildAndItsBackgroundJobs()
    {
        // Given
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "sleep 1000 & echo $!; wait"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);
        var backgroundPid = int.Parse(await ReadLineAsync(process.Stdout));

        // When
        process.KillProcessGroup();
        var exitCode = await process.WaitForExitAsync(CancellationToken.None);

        // Then
        Assert.Equal(137, exitCode);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(backgroundPid), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task KillSessionAlsoKillsJobsThatMovedToTheirOwnProcessGroup()
    {
        // Given: with job control (set -m) the shell puts the background job in a new process group
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "set -m; sleep 1000 & echo $!; wait"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);
        var backgroundPid = int.Parse(await ReadLineAsync(process.Stdout));

        // When
        process.KillSession();
        var exitCode = await process.WaitForExitAsync(CancellationToken.None);

        // Then
        Assert.Equal(137, exitCode);
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(backgroundPid), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ConcurrentSystemDiagnosticsProcessesDoNotStealOurExitStatus()
    {
        // Given: .NET's SIGCHLD handler reaps the children it started; ours must keep their status
        var ours = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", $"exit {i + 1}"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false);
            return (Expected: i + 1, Actual: await process.WaitForExitAsync(CancellationToken.None));
        })).ToList();
        var theirs = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "exit 0"]))!;
            await process.WaitForExitAsync();
            return process.ExitCode;
        })).ToList();

        // When
        var ourResults = await Task.WhenAll(ours);
        var theirResults = await Task.WhenAll(theirs);

        // Then
        Assert.All(ourResults, result => Assert.Equal(result.Expected, result.Actual));
        Assert.All(theirResults, exitCode => Assert.Equal(0, exitCode));
    }

    [Fact]
    public async Task AnExitIsNoticedByTheBackstopPollWhenNoSignalArrives()
    {
        // Given: a reaper that does not listen for SIGCHLD (as when the server inherited SIGCHLD ignored)
        using var reaper = new ChildReaper(listenForSigChld: false, TimeSpan.FromMilliseconds(10));

        // When
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "exit 5"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false, reaper);
        var exitCode = await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        // Then
        Assert.Equal(5, exitCode);
        Assert.Equal(0, reaper.TrackedCount);
    }

    [Fact]
    public async Task AChildThatExitedBeforeItWasTrackedIsReapedAtOnce()
    {
        // Given: a child that has exited unnoticed (its reaper neither listens nor polls)
        using var deaf = new ChildReaper(listenForSigChld: false, Timeout.InfiniteTimeSpan);
        using var process = SpawnedProcess.Start("/bin/sh", ["sh", "-c", "read line; exit 6"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: true, deaf);
        process.Stdin!.Dispose(); // end of input: only now can the child exit, after Start has polled it once
        Assert.True(LocalTestEnvironment.WaitUntil(() => !LocalTestEnvironment.IsAlive(process.Pid), TimeSpan.FromSeconds(10)));
        Assert.False(process.WaitForExitAsync(CancellationToken.None).IsCompleted);
        using var reaper = new ChildReaper(listenForSigChld: false, Timeout.InfiniteTimeSpan);

        // When
        reaper.Track(process);

        // Then
        Assert.Equal(6, await process.WaitForExitAsync(CancellationToken.None));
        Assert.Equal(0, reaper.TrackedCount);
    }

    [Fact]
    public async Task OurRunnerAndSystemDiagnosticsProcessKeepTheirExitStatusesUnderLoad()
    {
        // Given: both kinds of children exiting at about the same time, so their SIGCHLDs coalesce (started from this
        // thread: a hundred blocking starts on the thread pool would stall other tests' I/O for a while)
        var ourProcesses = new List<(int Expected, SpawnedProcess Process)>();
        var theirProcesses = new List<(int Expected, Process Process)>();
        for (var i = 0; i < 100; i++)
        {
            var ourCode = i % 50 + 1;
            ourProcesses.Add((ourCode, SpawnedProcess.Start("/bin/sh", ["sh", "-c", $"exit {ourCode}"], LocalTestEnvironment.MinimalEnvironment(), "/", withStdin: false)));
            theirProcesses.Add((i % 3, Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"exit {i % 3}"]))!));
        }

        var ours = ourProcesses.Select(async entry =>
        {
            using var process = entry.Process;
            return (entry.Expected, Actual: await process.WaitForExitAsync(CancellationToken.None));
        });
        var theirs = theirProcesses.Select(async entry =>
        {
            using var process = entry.Process;
            await process.WaitForExitAsync();
            return (entry.Expected, Actual: process.ExitCode);
        });

        // When
        var ourResults = await Task.WhenAll(ours);
        var theirResults = await Task.WhenAll(theirs);

        // Then
        Assert.All(ourResults, result => Assert.Equal(result.Expected, result.Actual));
        Assert.All(theirResults, result => Assert.Equal(result.Expected, result.Actual));
    }

    private static async Task<string> ReadAllAsync(PipeEnd pipe)
    {
        var bytes = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await pipe.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            bytes.Write(buffer, 0, read);
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static async Task<string> ReadLineAsync(PipeEnd pipe)
    {
        var line = new List<byte>();
        var buffer = new byte[1];
        while (await pipe.ReadAsync(buffer, CancellationToken.None) == 1 && buffer[0] != '\n')
        {
            line.Add(buffer[0]);
        }

        return Encoding.UTF8.GetString(line.ToArray());
    }
}
