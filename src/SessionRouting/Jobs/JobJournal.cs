using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>A consistent glance at a journal: how much the job wrote and whether it ended.</summary>
internal readonly record struct JournalState(long TotalBytes, JobEnd? Ended);

/// <summary>
/// A job's durable output: every byte of stdout and stderr in write order, with offsets and times, readable by cursor
/// while the job runs, after it ended and after the server restarted (<see cref="Open"/>). Appends are thread-safe
/// (the stdout and stderr pumps append concurrently) and wake waiters at once (<see cref="WaitForOutputAsync"/>).
/// </summary>
/// <remarks>
/// <para><b>Files.</b> <c>&lt;path&gt;</c> holds the header, the first <see cref="JournalLimits.HeadBytes"/> of frames
/// and, once the job ended, the end frame (so the outcome survives however the tail rolls). Output beyond the head
/// goes to tail segments <c>&lt;path&gt;.tail.1</c>, <c>.tail.2</c>, … of <see cref="JournalLimits.SegmentBytes"/>
/// each; when a new segment starts, the oldest ones are deleted while the rest still hold at least
/// <see cref="JournalLimits.TailBytes"/>. Rolling is O(1) per segment (a create and an unlink, no copying), the files
/// never exceed <see cref="JournalLimits.MaxDiskBytes"/>, and what was dropped is always one range: from the end of
/// the head to the start of the oldest segment. Offsets count every byte ever written, so cursors stay valid across
/// the gap. Format: <see cref="JournalFormat"/>.</para>
/// <para><b>Durability.</b> Each frame is one <c>pwrite</c> straight from the append (no user-space buffer), so it is in
/// the page cache before <see cref="Append"/> returns and survives a crash or <c>kill -9</c> of the server; a job
/// that exits a microsecond after writing loses nothing. No fsync per write (it would cost milliseconds per line on
/// a flood); <see cref="MarkEnded"/> queues one fsync, so a finished job's output also survives a power loss.</para>
/// <para><b>Memory.</b> Constant per job: one open handle per file (at most seven), a sparse index, no output in
/// memory; reads allocate only what they return. The lock is held for one <c>pwrite</c> per frame, or for one read.</para>
/// </remarks>
internal sealed class JobJournal : IDisposable
{
    /// <summary>Bytes per read of <see cref="WatchAsync"/> unless told otherwise.</summary>
    public const int DefaultReadBytes = 64 * 1024;

    private const string SegmentInfix = ".tail.";

    private readonly Lock _gate = new();
    private readonly JournalFile _head;
    private readonly List<JournalFile> _segments;

    // Stopwatch timestamp of the job's start as this process sees it: times are monotonic within a process.
    private readonly long _clockBase;
    private long _lastTimeMs;
    private bool _headFull;
    private long _total;
    private JobEnd? _ended;
    private bool _disposed;

    // Created only when someone waits, completed and dropped by the next append: an append nobody waits for pays a
    // null check, a waiter wakes as soon as the append's pwrite returns.
    private TaskCompletionSource? _waiter;

    private JobJournal(string path, JournalLimits limits, long startUnixMs, JournalFile head, List<JournalFile> segments, long lastTimeMs)
    {
        Path = path;
        Limits = limits;
        StartUnixMs = startUnixMs;
        _head = head;
        _segments = segments;
        _headFull = segments.Count > 0;
        _total = segments.Count > 0 ? segments[^1].EndOffset : head.EndOffset;
        _lastTimeMs = lastTimeMs;
        var elapsedMs = Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - startUnixMs);
        _clockBase = Stopwatch.GetTimestamp() - (long)(elapsedMs * (Stopwatch.Frequency / 1000.0));
    }

    /// <summary>The head file's path; segments sit beside it.</summary>
    public string Path { get; }

    public JournalLimits Limits { get; }

    /// <summary>When the job started (Unix ms); frame times count from here.</summary>
    public long StartUnixMs { get; }

    /// <summary>Every byte the job wrote so far, kept or not: the cursor at the end of its output.</summary>
    public long TotalBytes
    {
        get { lock (_gate) { return _total; } }
    }

    /// <summary>The job's end once recorded, else null.</summary>
    public JobEnd? Ended
    {
        get { lock (_gate) { return _ended; } }
    }

    public JournalState State
    {
        get { lock (_gate) { return new JournalState(_total, _ended); } }
    }

    /// <summary>The range of output written but no longer kept, if any.</summary>
    public JournalGap? Dropped
    {
        get { lock (_gate) { return DroppedUnsafe(); } }
    }

    /// <summary>What the journal's files take on disk now.</summary>
    public long DiskBytes
    {
        get
        {
            lock (_gate)
            {
                return _head.Length + _segments.Sum(s => s.Length);
            }
        }
    }

    /// <summary>Starts an empty journal at <paramref name="path"/> (which must not exist yet).</summary>
    /// <param name="startedAt">When the job started (default: now); frame times count from here.</param>
    public static JobJournal Create(string path, JournalLimits limits, DateTimeOffset? startedAt = null)
    {
        ArgumentNullException.ThrowIfNull(limits);
        path = System.IO.Path.GetFullPath(path);

        // Segments without a head are what a deletion interrupted by a crash leaves; they belong to no journal.
        foreach (var stale in FindSegments(path))
        {
            File.Delete(stale.Path);
        }

        var startUnixMs = (startedAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds();
        var head = JournalFile.CreateHead(path, startUnixMs, limits);
        return new JobJournal(path, limits, startUnixMs, head, [], 0);
    }

    /// <summary>
    /// Reopens a journal written before, e.g. by a server that was killed or restarted: a frame torn by the kill is
    /// cut off, everything before it is readable, and appends continue after it. A journal whose end frame is missing
    /// has <see cref="Ended"/> null: the caller knows whether the job still runs (else <see cref="JobOutcome.LostTrack"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">No journal at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a journal.</exception>
    public static JobJournal Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        var head = JournalFile.OpenHead(path, out var startUnixMs, out var limits, out var end);
        var segments = new List<JournalFile>();
        try
        {
            foreach (var (segmentPath, _) in FindSegments(path))
            {
                var segment = JournalFile.OpenSegment(segmentPath);
                if (segment is null)
                {
                    File.Delete(segmentPath); // torn while its header was written: it never held output
                    continue;
                }

                segments.Add(segment);
            }

            KeepContiguous(head, segments);
            var lastTime = Math.Max(head.LastTimeMs, segments.Count > 0 ? segments.Max(s => s.LastTimeMs) : 0);
            var journal = new JobJournal(path, limits, startUnixMs, head, segments, lastTime);
            journal.DropOldSegments();
            if (end is { } recovered)
            {
                // The end frame says how much was written; what survived is what the reads can serve. They differ
                // only if a power loss dropped page-cache writes, and then the frames are the truth.
                journal._ended = new JobEnd(recovered.Outcome, recovered.TimeMs);
                journal._lastTimeMs = Math.Max(journal._lastTimeMs, recovered.TimeMs);
            }

            return journal;
        }
        catch
        {
            head.Dispose();
            segments.ForEach(s => s.Dispose());
            throw;
        }
    }

    /// <summary>Deletes the files of the journal at <paramref name="path"/> (none there is fine).</summary>
    public static void Delete(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        foreach (var segment in FindSegments(path))
        {
            File.Delete(segment.Path);
        }

        File.Delete(path);
    }

    /// <summary>Appends output of one stream. Returns once the bytes are in the file (the page cache).</summary>
    /// <exception cref="InvalidOperationException">The job's end was already recorded.</exception>
    /// <exception cref="IOException">The file cannot be written (e.g. disk full); frames before the failure are kept.</exception>
    public void Append(JobStream stream, ReadOnlySpan<byte> data)
    {
        if (stream is not (JobStream.Stdout or JobStream.Stderr))
        {
            throw new ArgumentOutOfRangeException(nameof(stream), stream, "not an output stream");
        }

        if (data.IsEmpty)
        {
            return;
        }

        TaskCompletionSource? waiter = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ended is not null)
            {
                throw new InvalidOperationException($"the job's end is recorded in {Path}: no output can follow it");
            }

            var time = NowMs();
            try
            {
                while (!data.IsEmpty)
                {
                    var file = FileWithRoom(out var room);
                    var count = (int)Math.Min(Math.Min(room, JournalFormat.MaxFramePayload), data.Length);
                    file.AppendOutput(stream, data[..count], _total, time);
                    _total += count;
                    data = data[count..];
                }
            }
            finally
            {
                (waiter, _waiter) = (_waiter, null);
            }
        }

        waiter?.TrySetResult();
    }

    /// <summary>
    /// Records how the job ended (after its last output), wakes waiters, and queues an fsync of the journal. The first
    /// outcome recorded stands.
    /// </summary>
    /// <returns>False when an end was already recorded.</returns>
    public bool MarkEnded(JobOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        TaskCompletionSource? waiter;
        JournalFile? lastSegment;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ended is not null)
            {
                return false;
            }

            var time = NowMs();
            _head.AppendEnd(outcome, _total, time);
            _ended = new JobEnd(outcome, time);
            lastSegment = _segments.Count > 0 ? _segments[^1] : null;
            (waiter, _waiter) = (_waiter, null);
        }

        waiter?.TrySetResult();

        // The fsync takes milliseconds (~2.5 ms p50 here): off the caller's thread, which is likely the one reaping
        // every job's exit. It is only for power loss; a killed server loses nothing without it.
        ThreadPool.UnsafeQueueUserWorkItem(
            static files =>
            {
                try
                {
                    files.Head.FlushToDisk();
                    files.Segment?.FlushToDisk();
                }
                catch (Exception e) when (e is ObjectDisposedException or IOException)
                {
                    // Closed or deleted meanwhile (nothing left to make durable), or the disk failed, which the next
                    // write reports to the owner.
                }
            },
            (Head: _head, Segment: lastSegment),
            preferLocal: false);
        return true;
    }

    /// <summary>
    /// Output from <paramref name="cursor"/> on: at most <paramref name="maxBytes"/> bytes, in write order. When the
    /// cursor is in (or the read crosses) the dropped range, <see cref="JournalRead.Gap"/> says which bytes the
    /// reader missed and the read goes on after it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The cursor is negative or past <see cref="TotalBytes"/>.</exception>
    public JournalRead Read(long cursor, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cursor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (cursor > _total)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(cursor),
                    cursor,
                    string.Create(CultureInfo.InvariantCulture, $"the cursor is past the end of the output ({_total} bytes written so far)"));
            }

            var collector = new ChunkCollector((int)Math.Min(maxBytes, _total - cursor));
            JournalGap? gap = null;
            var position = cursor;
            while (position < _total && collector.HasRoom)
            {
                JournalFile file;
                if (position < _head.EndOffset)
                {
                    file = _head;
                }
                else if (_segments.Count == 0)
                {
                    break; // cannot happen: output past the head is in segments
                }
                else if (position < _segments[0].StartOffset)
                {
                    gap = new JournalGap(position, _segments[0].StartOffset);
                    position = gap.To;
                    continue;
                }
                else
                {
                    file = _segments.FindLast(s => s.StartOffset <= position)!;
                }

                file.Read(position, collector);
                var next = collector.EndOffset ?? position;
                if (next <= position)
                {
                    break; // the file holds less than its offsets say (damaged): serve what there is
                }

                position = next;
            }

            return new JournalRead(collector.ToChunks(), gap, cursor, position, _total, _ended);
        }
    }

    /// <summary>
    /// Completes as soon as output beyond <paramref name="cursor"/> exists or the job's end is recorded (at once if
    /// either is already so). Fails with <see cref="ObjectDisposedException"/> when the journal is closed or deleted.
    /// </summary>
    public Task WaitForOutputAsync(long cursor, CancellationToken cancellationToken)
    {
        Task task;
        lock (_gate)
        {
            if (_disposed)
            {
                return Task.FromException(new ObjectDisposedException(GetType().FullName));
            }

            if (_total > cursor || _ended is not null)
            {
                return Task.CompletedTask;
            }

            // Continuations run on the pool, never inline on the pump thread that completes this.
            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = _waiter.Task;
        }

        return cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;
    }

    /// <summary>
    /// The output from <paramref name="cursor"/> on as it is written: the backlog first, then each append as it lands,
    /// until the job's end has been read (the last item then has <see cref="JournalRead.Complete"/> set).
    /// </summary>
    public async IAsyncEnumerable<JournalRead> WatchAsync(
        long cursor,
        int maxBytesPerRead = DefaultReadBytes,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = Read(cursor, maxBytesPerRead);
            if (read.Chunks.Count > 0 || read.Gap is not null || read.Complete)
            {
                yield return read;
            }

            if (read.Complete)
            {
                yield break;
            }

            cursor = read.NextCursor;
            if (cursor == read.TotalBytes)
            {
                await WaitForOutputAsync(cursor, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Closes the journal and deletes its files (e.g. evicted to stay within the output budget).</summary>
    public void Delete()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = CloseUnsafe();
            foreach (var segment in _segments)
            {
                File.Delete(segment.Path);
            }

            File.Delete(_head.Path);
        }

        waiter?.TrySetException(new ObjectDisposedException(GetType().FullName));
    }

    /// <summary>Closes the files; they stay on disk for <see cref="Open"/>.</summary>
    public void Dispose()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = CloseUnsafe();
        }

        waiter?.TrySetException(new ObjectDisposedException(GetType().FullName));
    }

    private static IEnumerable<(string Path, long Number)> FindSegments(string headPath)
    {
        var directory = System.IO.Path.GetDirectoryName(headPath)!;
        var prefix = System.IO.Path.GetFileName(headPath) + SegmentInfix;
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return Directory.EnumerateFiles(directory, prefix + "*")
            .Select(p => (Path: p, Suffix: System.IO.Path.GetFileName(p)[prefix.Length..]))
            .Where(s => s.Suffix.Length > 0 && s.Suffix.All(char.IsAsciiDigit))
            .Select(s => (s.Path, Number: long.Parse(s.Suffix, NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(s => s.Number)
            .ToList();
    }

    /// <summary>
    /// Keeps the newest run of segments whose offsets follow each other and start at or after the head's end; older
    /// ones (only a crash between creating a segment and deleting the oldest, or damage, leaves them) are deleted.
    /// </summary>
    private static void KeepContiguous(JournalFile head, List<JournalFile> segments)
    {
        var first = segments.Count - 1;
        while (first > 0 && segments[first - 1].EndOffset == segments[first].StartOffset)
        {
            first--;
        }

        while (first >= 0 && first < segments.Count && segments[first].StartOffset < head.EndOffset)
        {
            first++; // overlaps the head: cannot be this journal's tail
        }

        for (var i = 0; i < Math.Min(first, segments.Count); i++)
        {
            segments[i].Delete();
        }

        segments.RemoveRange(0, Math.Max(0, Math.Min(first, segments.Count)));
    }

    /// <summary>The file the next frame goes to and how many payload bytes fit there; starts a segment when needed.</summary>
    private JournalFile FileWithRoom(out long room)
    {
        if (!_headFull)
        {
            room = Limits.HeadBytes - _head.DataBytes - JournalFormat.FrameHeaderSize;
            if (room > 0)
            {
                return _head;
            }

            _headFull = true;
        }

        if (_segments.Count > 0)
        {
            room = Limits.SegmentBytes - _segments[^1].DataBytes - JournalFormat.FrameHeaderSize;
            if (room > 0)
            {
                return _segments[^1];
            }
        }

        var number = _segments.Count > 0 ? _segments[^1].Number + 1 : 1;
        _segments.Add(JournalFile.CreateSegment(SegmentPath(number), number, _total));
        DropOldSegments();
        room = Limits.SegmentBytes - JournalFormat.FrameHeaderSize;
        return _segments[^1];
    }

    /// <summary>
    /// Deletes the oldest segments while the others, before the newest, still hold <see cref="JournalLimits.TailBytes"/>.
    /// Called when the newest segment is started (empty); leaving it out of the count makes a reopened journal drop
    /// exactly what the running one did.
    /// </summary>
    private void DropOldSegments()
    {
        var kept = _segments.Take(_segments.Count - 1).Sum(s => s.DataBytes);
        while (_segments.Count > 1 && kept - _segments[0].DataBytes >= Limits.TailBytes)
        {
            kept -= _segments[0].DataBytes;
            _segments[0].Delete();
            _segments.RemoveAt(0);
        }
    }

    private JournalGap? DroppedUnsafe() =>
        _segments.Count > 0 && _segments[0].StartOffset > _head.EndOffset
            ? new JournalGap(_head.EndOffset, _segments[0].StartOffset)
            : null;

    private string SegmentPath(long number) => Path + SegmentInfix + number.ToString(CultureInfo.InvariantCulture);

    private long NowMs()
    {
        var now = (long)Stopwatch.GetElapsedTime(_clockBase).TotalMilliseconds;
        _lastTimeMs = Math.Max(_lastTimeMs, now);
        return _lastTimeMs;
    }

    private TaskCompletionSource? CloseUnsafe()
    {
        if (_disposed)
        {
            return null;
        }

        _disposed = true;
        _head.Dispose();
        _segments.ForEach(s => s.Dispose());
        var waiter = _waiter;
        _waiter = null;
        return waiter;
    }
}
