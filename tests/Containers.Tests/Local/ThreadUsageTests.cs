using System.Diagnostics;
using System.Globalization;
using SessionMcp.Containers.Local;
using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Tests.Local;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountingCollection
{
    // Thread counts are only meaningful while no other test starts threads.
    public const string Name = "Thread counting (runs alone)";
}

[Collection(ThreadCountingCollection.Name)]
public sealed class ThreadUsageTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("runner-threads-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RunningCommandsHoldNoThreadEach()
    {
        // Given: forty commands that print a line, then wait for a file to appear
        const int Commands = 40;
        var release = Path.Combine(_directory, "release");
        await RunAsync(Shell("true"), CancellationToken.None);
        var threadsBefore = CurrentThreadCount();
        var captures = Enumerable.Range(0, Commands).Select(_ => new OutputCapture(1024)).ToList();

        // When
        var runs = captures.Select(capture => LocalProcessRunner.RunAsync(
            Shell($"echo started; while [ ! -e {release} ]; do sleep 0.05; done"), capture, new OutputCapture(1024), CancellationToken.None)).ToList();
        Assert.True(LocalTestEnvironment.WaitUntil(() => captures.All(capture => capture.TotalBytes > 0), TimeSpan.FromSeconds(20)), "not all commands started");
        var threadsWhileRunning = CurrentThreadCount();
        await File.WriteAllTextAsync(release, "");
        var results = await Task.WhenAll(runs);

        // Then: a thread per command (let alone three) would add 40 or more
        Assert.All(results, result => Assert.Equal(0, result.ExitCode));
        Assert.InRange(threadsWhileRunning - threadsBefore, int.MinValue, 10);
    }

    [Fact]
    public async Task ThreadCountStaysBoundedOverManySequentialRuns()
    {
        // Given
        await RunAsync(Shell("echo warm"), CancellationToken.None);
        var threadsBefore = CurrentThreadCount();

        // When
        for (var i = 0; i < 200; i++)
        {
            var result = await RunAsync(Shell("echo out; echo err >&2"), CancellationToken.None);
            Assert.Equal(0, result.ExitCode);
        }

        // Then
        Assert.InRange(CurrentThreadCount() - threadsBefore, int.MinValue, 10);
        Assert.Equal(0, ChildReaper.Shared.TrackedCount);
    }

    private ProcessRunSpec Shell(string script) =>
        new("/bin/sh", ["-c", script], LocalTestEnvironment.MinimalEnvironment(), _directory, null, Generous);

    private static Task<ProcessRunResult> RunAsync(ProcessRunSpec spec, CancellationToken cancellationToken) =>
        LocalProcessRunner.RunAsync(spec, new OutputCapture(1024), new OutputCapture(1024), cancellationToken);

    private static int CurrentThreadCount()
    {
        using var self = Process.GetCurrentProcess();
        return self.Threads.Count;
    }
}
