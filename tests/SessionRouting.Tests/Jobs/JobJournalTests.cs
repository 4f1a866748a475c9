using System.Text;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

public sealed class JobJournalTests : IDisposable
{
    private readonly ScratchJournals _scratch = new();

    [Fact]
    public void AppendedOutputReadsBackInWriteOrderWithOffsetsAndStreams()
    {
        // Given
        var journal = _scratch.Create("j1");

        // When
        journal.Append(JobStream.Stdout, "hello "u8);
        journal.Append(JobStream.Stdout, "world\n"u8);
        journal.Append(JobStream.Stderr, "warning\n"u8);
        journal.Append(JobStream.Stdout, "done\n"u8);

        // Then consecutive bytes of one stream come back as one chunk, each with its offset
        var read = journal.Read(0, 1024);
        Assert.Equal(
            [(JobStream.Stdout, 0L, "hello world\n"), (JobStream.Stderr, 12L, "warning\n"), (JobStream.Stdout, 20L, "done\n")],
            read.Chunks.Select(c => (c.Stream, c.Offset, Encoding.UTF8.GetString(c.Bytes.Span))));
        Assert.Equal(25, read.NextCursor);
        Assert.Equal(25, read.TotalBytes);
        Assert.Null(read.Gap);
        Assert.Null(read.Ended);
        Assert.False(read.Complete);
    }

    [Fact]
    public void ACursorReturnsOnlyLaterOutputAndPagesByMaxBytes()
    {
        // Given
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "0123456789"u8);
        journal.Append(JobStream.Stderr, "abcdefghij"u8);

        // When reading from the middle of the first write, four bytes at a time
        var first = journal.Read(7, 4);
        var second = journal.Read(first.NextCursor, 4);
        var third = journal.Read(second.NextCursor, 100);
        var atEnd = journal.Read(third.NextCursor, 100);

        // Then each read starts where the last ended and splits writes where it must
        Assert.Equal([(JobStream.Stdout, 7L, "789"), (JobStream.Stderr, 10L, "a")], Describe(first));
        Assert.Equal([(JobStream.Stderr, 11L, "bcde")], Describe(second));
        Assert.Equal([(JobStream.Stderr, 15L, "fghij")], Describe(third));
        Assert.Empty(atEnd.Chunks);
        Assert.Equal(20, atEnd.NextCursor);
    }

    [Fact]
    public void ACursorPastTheEndIsRefused()
    {
        // Given
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "abc"u8);

        // When / Then
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => journal.Read(4, 10));
        Assert.Contains("3 bytes written", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConcurrentStdoutAndStderrAppendsKeepEveryByteInOrder()
    {
        // Given two pumps appending numbered lines at once
        var journal = _scratch.Create("j1");
        const int Lines = 20_000;
        void Pump(JobStream stream, string name)
        {
            for (var i = 0; i < Lines; i++)
            {
                journal.Append(stream, Encoding.ASCII.GetBytes($"{name} {i}\n"));
            }
        }

        // When
        Parallel.Invoke(() => Pump(JobStream.Stdout, "out"), () => Pump(JobStream.Stderr, "err"));

        // Then each stream reads back whole and in its order, and the offsets tile the output without holes
        var (chunks, gaps, end) = ScratchJournals.ReadAll(journal, pageBytes: 4096);
        Assert.Empty(gaps);
        Assert.Equal(journal.TotalBytes, end);
        Assert.Equal(string.Concat(Enumerable.Range(0, Lines).Select(i => $"out {i}\n")), ScratchJournals.Text(chunks, JobStream.Stdout));
        Assert.Equal(string.Concat(Enumerable.Range(0, Lines).Select(i => $"err {i}\n")), ScratchJournals.Text(chunks, JobStream.Stderr));
        var expected = 0L;
        foreach (var chunk in chunks)
        {
            Assert.Equal(expected, chunk.Offset);
            expected = chunk.EndOffset;
        }

        Assert.Contains(chunks, c => c.Stream == JobStream.Stderr && c.Offset > 0);
    }

    [Fact]
    public void AJobThatEndsRightAfterWritingLosesNothingEvenAcrossARestart()
    {
        // Given a job that writes and ends at once
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "last words\n"u8);
        journal.Append(JobStream.Stderr, "oops\n"u8);
        Assert.True(journal.MarkEnded(JobOutcome.Exited(3)));

        // When the server goes away and a new one opens the journal
        journal.Dispose();
        var reopened = _scratch.Reopen("j1");

        // Then every byte and the outcome are there
        var read = reopened.Read(0, 1024);
        Assert.Equal("last words\noops\n", ScratchJournals.Text(read.Chunks));
        Assert.Equal(JobOutcome.Exited(3), read.Ended?.Outcome);
        Assert.True(read.Complete);
    }

    [Fact]
    public void TheOutcomeIsRecordedOnceAndNoOutputMayFollowIt()
    {
        // Given
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "x"u8);

        // When
        var first = journal.MarkEnded(JobOutcome.Signaled(9, killed: true));
        var second = journal.MarkEnded(JobOutcome.Exited(0));

        // Then
        Assert.True(first);
        Assert.False(second);
        Assert.Equal(JobOutcome.Signaled(9, killed: true), journal.Ended?.Outcome);
        Assert.Throws<InvalidOperationException>(() => journal.Append(JobStream.Stdout, "late"u8));
    }

    [Fact]
    public void OutputBeyondTheLimitsKeepsHeadAndTailAndReportsTheDroppedRangeExactly()
    {
        // Given small limits and 20 MB written in chunks of varying size
        var limits = new JournalLimits(64 * 1024, 256 * 1024);
        var journal = _scratch.Create("j1", limits);
        const long Total = 20L * 1024 * 1024;
        var written = 0L;
        var maxDisk = 0L;
        for (var i = 0; written < Total; i++)
        {
            var size = (int)Math.Min(Total - written, 1 + (i * 7919 % 100_000));
            journal.Append(i % 3 == 0 ? JobStream.Stderr : JobStream.Stdout, ScratchJournals.Pattern(written, size));
            written += size;
            if (i % 16 == 0)
            {
                maxDisk = Math.Max(maxDisk, _scratch.DiskBytesOf("j1"));
            }
        }

        // When everything is read from the start
        var (chunks, gaps, end) = ScratchJournals.ReadAll(journal);

        // Then the head and the tail come back byte for byte, the gap between them is reported once, exactly
        var gap = Assert.Single(gaps);
        Assert.Equal(journal.Dropped, gap);
        Assert.Equal(Total, end);
        Assert.Equal(Total, journal.TotalBytes);
        var head = chunks.Where(c => c.Offset < gap.From).ToList();
        var tail = chunks.Where(c => c.Offset >= gap.To).ToList();
        Assert.Equal(chunks.Count, head.Count + tail.Count);
        Assert.Equal(0, head[0].Offset);
        Assert.Equal(gap.From, head[^1].EndOffset);
        Assert.Equal(gap.To, tail[0].Offset);
        Assert.Equal(Total, tail[^1].EndOffset);
        foreach (var chunk in chunks)
        {
            Assert.Equal(ScratchJournals.Pattern(chunk.Offset, chunk.Bytes.Length), chunk.Bytes.ToArray());
        }

        // ...the head is the first HeadBytes of frames and the tail at least TailBytes of them...
        var frameHeaders = JournalFormat.FrameHeaderSize;
        Assert.InRange(gap.From, limits.HeadBytes - 16 * frameHeaders, limits.HeadBytes);
        Assert.InRange(Total - gap.To, limits.TailBytes - 64 * frameHeaders, limits.TailBytes + limits.SegmentBytes);

        // ...and the files never outgrew their bound
        Assert.InRange(maxDisk, 1, limits.MaxDiskBytes);
        Assert.InRange(_scratch.FilesOf("j1").Count, 2, 1 + JournalLimits.SegmentsPerTail + 1);
    }

    [Fact]
    public void ACursorInsideTheDroppedRangeReportsWhatItMissedAndContinuesAfterIt()
    {
        // Given a journal whose middle was dropped
        var journal = _scratch.Create("j1", new JournalLimits(1024, 4096));
        for (var offset = 0; offset < 100_000; offset += 1000)
        {
            journal.Append(JobStream.Stdout, ScratchJournals.Pattern(offset, 1000));
        }

        var dropped = journal.Dropped!;

        // When a cursor inside the gap is read
        var cursor = dropped.From + 10;
        var read = journal.Read(cursor, 100);

        // Then the gap from the cursor on is reported and the bytes after it follow
        Assert.Equal(new JournalGap(cursor, dropped.To), read.Gap);
        var chunk = Assert.Single(read.Chunks);
        Assert.Equal(dropped.To, chunk.Offset);
        Assert.Equal(ScratchJournals.Pattern(dropped.To, 100), chunk.Bytes.ToArray());
        Assert.Equal(dropped.To + 100, read.NextCursor);
    }

    [Fact]
    public void AJournalWithoutAHeadKeepsOnlyTheTail()
    {
        // Given
        var journal = _scratch.Create("j1", new JournalLimits(0, 4096));

        // When
        journal.Append(JobStream.Stdout, ScratchJournals.Pattern(0, 20_000));

        // Then
        var read = journal.Read(0, 100_000);
        Assert.Equal(0, read.Gap?.From);
        Assert.Equal(read.Gap?.To, read.Chunks[0].Offset);
        Assert.Equal(20_000, read.NextCursor);
        Assert.InRange(read.Bytes, 4096 - 10 * JournalFormat.FrameHeaderSize, 4096 + 1024);
    }

    [Fact]
    public void ReopeningAfterATornHeadWriteRecoversEverythingBeforeItAndAppendsAfterIt()
    {
        // Given a journal killed in the middle of writing its third frame
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "one\n"u8);
        journal.Append(JobStream.Stderr, "two\n"u8);
        journal.Append(JobStream.Stdout, "three\n"u8);
        journal.Dispose();
        var path = _scratch.PathOf("j1");
        var intact = new FileInfo(path).Length - (JournalFormat.FrameHeaderSize + 6);
        using (var file = File.OpenWrite(path))
        {
            file.SetLength(intact + JournalFormat.FrameHeaderSize + 2);
        }

        // When it is reopened
        var reopened = _scratch.Reopen("j1");

        // Then the torn frame is gone, the rest reads back, and output continues at the recovered end
        Assert.Equal(8, reopened.TotalBytes);
        Assert.Null(reopened.Ended);
        Assert.Equal(intact, new FileInfo(path).Length);
        reopened.Append(JobStream.Stdout, "four\n"u8);
        Assert.Equal("one\ntwo\nfour\n", ScratchJournals.Text(reopened.Read(0, 1024).Chunks));
        Assert.Equal(8, reopened.Read(8, 10).Chunks[0].Offset);
    }

    [Fact]
    public void ATornHeaderOfAFrameIsCutOffToo()
    {
        // Given a journal whose last frame got only part of its header onto the disk
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "kept\n"u8);
        journal.Dispose();
        var path = _scratch.PathOf("j1");
        using (var file = new FileStream(path, FileMode.Append))
        {
            file.Write(new byte[] { 1, 0, 0, 0, 9 });
        }

        // When / Then
        var reopened = _scratch.Reopen("j1");
        Assert.Equal("kept\n", ScratchJournals.Text(reopened.Read(0, 100).Chunks));
    }

    [Fact]
    public void ReopeningAfterATornTailWriteKeepsTheHeadTheGapAndTheRestOfTheTail()
    {
        // Given a journal past its head, killed while writing to its newest segment
        var limits = new JournalLimits(1024, 8192);
        var journal = _scratch.Create("j1", limits);
        for (var offset = 0; offset < 50_000; offset += 500)
        {
            journal.Append(JobStream.Stdout, ScratchJournals.Pattern(offset, 500));
        }

        var dropped = journal.Dropped!;
        journal.Dispose();
        var newest = _scratch.FilesOf("j1")[^1];
        using (var file = newest.OpenWrite())
        {
            file.SetLength(newest.Length - 1);
        }

        // When
        var reopened = _scratch.Reopen("j1");

        // Then all but the torn frame (at most one write) is there, the gap is the same, and the bytes are right
        Assert.InRange(reopened.TotalBytes, 50_000 - 500, 50_000 - 1);
        Assert.Equal(dropped, reopened.Dropped);
        var (chunks, gaps, _) = ScratchJournals.ReadAll(reopened);
        Assert.Equal([dropped], gaps);
        Assert.All(chunks, c => Assert.Equal(ScratchJournals.Pattern(c.Offset, c.Bytes.Length), c.Bytes.ToArray()));
    }

    [Fact]
    public void AReopenedJournalServesTheSameGapOutcomeAndTimes()
    {
        // Given an ended journal that dropped its middle
        var journal = _scratch.Create("j1", new JournalLimits(2048, 8192));
        for (var offset = 0; offset < 40_000; offset += 400)
        {
            journal.Append(offset % 800 == 0 ? JobStream.Stdout : JobStream.Stderr, ScratchJournals.Pattern(offset, 400));
        }

        journal.MarkEnded(JobOutcome.Exited(0));
        var before = ScratchJournals.ReadAll(journal);
        journal.Dispose();

        // When
        var reopened = _scratch.Reopen("j1");

        // Then
        var after = ScratchJournals.ReadAll(reopened);
        Assert.Equal(before.Gaps, after.Gaps);
        Assert.Equal(
            before.Chunks.Select(c => (c.Stream, c.Offset, c.TimeMs, Convert.ToHexString(c.Bytes.Span))),
            after.Chunks.Select(c => (c.Stream, c.Offset, c.TimeMs, Convert.ToHexString(c.Bytes.Span))));
        Assert.Equal(JobOutcome.Exited(0), reopened.Ended?.Outcome);
        Assert.Throws<InvalidOperationException>(() => reopened.Append(JobStream.Stdout, "x"u8));
    }

    [Fact]
    public void AFileThatIsNotAJournalIsRefused()
    {
        // Given
        File.WriteAllText(_scratch.PathOf("j1"), "not a journal at all, just some text");

        // When / Then
        Assert.Throws<InvalidDataException>(() => JobJournal.Open(_scratch.PathOf("j1")));
    }

    [Fact]
    public async Task DeleteRemovesEveryFileAndWakesWaitersWithAnError()
    {
        // Given a journal with tail segments and a waiter
        var journal = _scratch.Create("j1", new JournalLimits(1024, 4096));
        journal.Append(JobStream.Stdout, ScratchJournals.Pattern(0, 20_000));
        var waiting = journal.WaitForOutputAsync(journal.TotalBytes, CancellationToken.None);

        // When
        journal.Delete();

        // Then
        Assert.Empty(_scratch.FilesOf("j1"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        Assert.Throws<ObjectDisposedException>(() => journal.Read(0, 10));
    }

    [Fact]
    public async Task AWaiterWakesOnTheNextAppendNotBefore()
    {
        // Given a waiter at the end of the output
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "a"u8);
        var waiting = journal.WaitForOutputAsync(1, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        // When
        journal.Append(JobStream.Stderr, "b"u8);

        // Then
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(journal.WaitForOutputAsync(0, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task WatchYieldsTheBacklogThenEachAppendThenTheEnd()
    {
        // Given output written before the watch starts
        var journal = _scratch.Create("j1");
        journal.Append(JobStream.Stdout, "backlog\n"u8);
        await using var watch = journal.WatchAsync(0).GetAsyncEnumerator();

        // When / Then the backlog comes first
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal("backlog\n", ScratchJournals.Text(watch.Current.Chunks));

        // ...then what is appended while it waits
        var next = watch.MoveNextAsync();
        Assert.False(next.IsCompleted);
        journal.Append(JobStream.Stderr, "live\n"u8);
        Assert.True(await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((JobStream.Stderr, 8L, "live\n"), Describe(watch.Current).Single());

        // ...then the end, after which the watch stops
        next = watch.MoveNextAsync();
        journal.MarkEnded(JobOutcome.Exited(0));
        Assert.True(await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(watch.Current.Complete);
        Assert.False(await watch.MoveNextAsync());
    }

    [Fact]
    public async Task AWatchStopsWhenCancelled()
    {
        // Given a watch waiting for output
        var journal = _scratch.Create("j1");
        using var cancellation = new CancellationTokenSource();
        await using var watch = journal.WatchAsync(0, cancellationToken: cancellation.Token).GetAsyncEnumerator();
        var next = watch.MoveNextAsync();

        // When
        await cancellation.CancelAsync();

        // Then
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.AsTask());
    }

    [Fact]
    public void AFloodKeepsDiskAndMemoryFlat()
    {
        // Given a journal with the default limits
        var journal = _scratch.Create("j1");
        var chunk = ScratchJournals.Pattern(0, 64 * 1024);
        const int Chunks = 200 * 16; // 200 MiB
        for (var i = 0; i < 64; i++)
        {
            journal.Append(JobStream.Stdout, chunk);
        }

        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        // When 200 MiB more are appended
        var maxDisk = 0L;
        for (var i = 0; i < Chunks; i++)
        {
            journal.Append(i % 2 == 0 ? JobStream.Stdout : JobStream.Stderr, chunk);
            if (i % 64 == 0)
            {
                maxDisk = Math.Max(maxDisk, _scratch.DiskBytesOf("j1"));
            }
        }

        // Then the files stay within their bound and the managed heap does not grow with the output
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.InRange(maxDisk, 1, JournalLimits.Default.MaxDiskBytes);
        Assert.InRange(_scratch.DiskBytesOf("j1"), 1, JournalLimits.Default.MaxDiskBytes);
        Assert.InRange(memoryAfter - memoryBefore, long.MinValue, 8L << 20);
        Assert.Equal((Chunks + 64L) * chunk.Length, journal.TotalBytes);
        var tail = journal.Read(journal.TotalBytes - 100, 100);
        Assert.Equal(chunk.AsSpan(chunk.Length - 100).ToArray(), tail.Chunks.Single().Bytes.ToArray());
    }

    public void Dispose() => _scratch.Dispose();

    private static IEnumerable<(JobStream, long, string)> Describe(JournalRead read) =>
        read.Chunks.Select(c => (c.Stream, c.Offset, Encoding.UTF8.GetString(c.Bytes.Span)));
}
