using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

public sealed class JobWaitTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(10);

    private readonly ScratchJournals _scratch = new();

    [Theory]
    [InlineData(0, false, false, 1000, 1000, null)]
    [InlineData(0, true, true, 0, 0, "Matched")]
    [InlineData(100, false, true, 0, 0, "Exited")]
    [InlineData(100, false, false, 0, 0, "Bytes")]
    [InlineData(99, false, false, 3000, 2000, "Quiet")]
    [InlineData(99, false, false, 3000, 1999, null)]
    [InlineData(99, false, false, 10_000, 0, "Timeout")]
    public void DecideNamesTheConditionThatHoldsMostInformativeFirst(long newBytes, bool matched, bool exited, int elapsedMs, int sinceOutputMs, string? expected)
    {
        // Given a wait for 100 bytes, 2 s of quiet, at most 10 s
        var conditions = new JobWaitConditions(TimeSpan.FromSeconds(10), Quiet: TimeSpan.FromSeconds(2), MinBytes: 100);
        var seen = new WaitObservation(newBytes, matched, exited, TimeSpan.FromMilliseconds(elapsedMs), TimeSpan.FromMilliseconds(sinceOutputMs));

        // When
        var reason = JobWait.Decide(conditions, seen);

        // Then
        Assert.Equal(expected, reason?.ToString());
    }

    [Fact]
    public void TheDeadlineIsTheNearerOfQuietAndTheCap()
    {
        // Given
        var conditions = new JobWaitConditions(TimeSpan.FromSeconds(10), Quiet: TimeSpan.FromSeconds(2));

        // When / Then
        Assert.Equal(TimeSpan.FromSeconds(1.5), JobWait.UntilDeadline(conditions, new WaitObservation(0, false, false, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(0.5))));
        Assert.Equal(TimeSpan.FromSeconds(1), JobWait.UntilDeadline(conditions, new WaitObservation(0, false, false, TimeSpan.FromSeconds(9), TimeSpan.Zero)));
        Assert.Equal(TimeSpan.Zero, JobWait.UntilDeadline(conditions, new WaitObservation(0, false, false, TimeSpan.FromSeconds(11), TimeSpan.Zero)));
    }

    [Fact]
    public async Task AWaitEndsWhenTheJobExits()
    {
        // Given a wait on a running job
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "working\n"u8);
        var waiting = JobWait.WaitAsync(journal, 0, new JobWaitConditions(Long), CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        // When
        journal.MarkEnded(JobOutcome.Exited(0));

        // Then
        var result = await waiting.WaitAsync(TestTimeout);
        Assert.Equal(JobWaitReason.Exited, result.Reason);
        Assert.Equal(JobOutcome.Exited(0), result.Ended?.Outcome);
        Assert.Equal(8, result.TotalBytes);
    }

    [Fact]
    public async Task AWaitEndsWhenThePatternMatchesAcrossTwoAppends()
    {
        // Given a wait that has already searched the first half of the line
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "old output\n"u8);
        journal.Append(JobStream.Stdout, "server listen"u8);
        var conditions = new JobWaitConditions(Long, Pattern: JobWait.CreatePattern(@"listening on :\d+"));
        var waiting = JobWait.WaitAsync(journal, 11, conditions, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        // When the rest of the line arrives
        journal.Append(JobStream.Stdout, "ing on :8080\n"u8);

        // Then
        var result = await waiting.WaitAsync(TestTimeout);
        Assert.Equal(JobWaitReason.Matched, result.Reason);
        Assert.Equal(new OutputMatch(18, 36, "listening on :8080"), result.Match);
    }

    [Fact]
    public async Task APatternSeesOnlyOutputAfterTheCursor()
    {
        // Given the pattern's text before the cursor only
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "ready\n"u8);
        var conditions = new JobWaitConditions(Long, Pattern: JobWait.CreatePattern("ready"));
        var waiting = JobWait.WaitAsync(journal, 6, conditions, CancellationToken.None);

        // When new output without it arrives, then with it
        journal.Append(JobStream.Stderr, "not yet\n"u8);
        Assert.False(waiting.IsCompleted);
        journal.Append(JobStream.Stdout, "ready again\n"u8);

        // Then only the new one matched
        var result = await waiting.WaitAsync(TestTimeout);
        Assert.Equal(14, result.Match?.Offset);
    }

    [Fact]
    public async Task AWaitEndsOnceEnoughBytesArrived()
    {
        // Given a wait for 10 bytes
        var journal = _scratch.Create("j1");
        var waiting = JobWait.WaitAsync(journal, 0, new JobWaitConditions(Long, MinBytes: 10), CancellationToken.None);

        // When 5 arrive, then 5 more
        journal.Append(JobStream.Stdout, "12345"u8);
        Assert.False(waiting.IsCompleted);
        journal.Append(JobStream.Stderr, "67890"u8);

        // Then
        var result = await waiting.WaitAsync(TestTimeout);
        Assert.Equal(JobWaitReason.Bytes, result.Reason);
        Assert.Equal(10, result.TotalBytes);
    }

    [Fact]
    public async Task BacklogAfterTheCursorCountsAtOnce()
    {
        // Given output already written after the cursor
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "0123456789"u8);

        // When / Then
        var result = await JobWait.WaitAsync(journal, 2, new JobWaitConditions(Long, MinBytes: 8), CancellationToken.None).WaitAsync(TestTimeout);
        Assert.Equal(JobWaitReason.Bytes, result.Reason);
    }

    [Fact]
    public async Task AWaitEndsWhenOutputGoesQuiet()
    {
        // Given a job that printed and then went silent
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "prompt> "u8);

        // When waiting for 100 ms of quiet
        var result = await JobWait.WaitAsync(journal, 0, new JobWaitConditions(Long, Quiet: TimeSpan.FromMilliseconds(100)), CancellationToken.None).WaitAsync(TestTimeout);

        // Then
        Assert.Equal(JobWaitReason.Quiet, result.Reason);
        Assert.True(result.Waited >= TimeSpan.FromMilliseconds(100), $"waited only {result.Waited}");
    }

    [Fact]
    public async Task AWaitEndsAtItsCapWhenNothingHappens()
    {
        // Given
        var journal = _scratch.Create("j1");

        // When
        var result = await JobWait.WaitAsync(journal, 0, new JobWaitConditions(TimeSpan.FromMilliseconds(100), Pattern: JobWait.CreatePattern("never")), CancellationToken.None).WaitAsync(TestTimeout);

        // Then
        Assert.Equal(JobWaitReason.Timeout, result.Reason);
        Assert.True(result.Waited >= TimeSpan.FromMilliseconds(100), $"waited only {result.Waited}");
    }

    [Fact]
    public async Task AWaitStopsWhenCancelled()
    {
        // Given a long wait
        var journal = _scratch.Create("j1");
        using var cancellation = new CancellationTokenSource();
        var waiting = JobWait.WaitAsync(journal, 0, new JobWaitConditions(Long, Quiet: Long), cancellation.Token);
        Assert.False(waiting.IsCompleted);

        // When
        await cancellation.CancelAsync();

        // Then
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task AMatchInTheLastOutputWinsOverTheExit()
    {
        // Given a job that printed the awaited line and exited before the wait began
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "error: port in use\n"u8);
        journal.MarkEnded(JobOutcome.Exited(1));

        // When
        var conditions = new JobWaitConditions(Long, Pattern: JobWait.CreatePattern("^error:"));
        var result = await JobWait.WaitAsync(journal, 0, conditions, CancellationToken.None).WaitAsync(TestTimeout);

        // Then
        Assert.Equal(JobWaitReason.Matched, result.Reason);
        Assert.Equal(JobOutcome.Exited(1), result.Ended?.Outcome);
    }

    public void Dispose() => _scratch.Dispose();
}
