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
        await process.Stdin!.WriteAsync("piped"u8.ToArray());
        await process.Stdin.DisposeAsync();
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

    private static async Task<string> ReadAllAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync();
    }

    private static async Task<string> ReadLineAsync(Stream stream)
    {
        var line = new List<byte>();
        var buffer = new byte[1];
        while (await stream.ReadAsync(buffer) == 1 && buffer[0] != '\n')
        {
            line.Add(buffer[0]);
        }

        return Encoding.UTF8.GetString(line.ToArray());
    }
}
