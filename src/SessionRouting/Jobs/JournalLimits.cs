namespace SessionMcp.SessionRouting.Jobs;

/// <summary>
/// How much of a job's output its journal keeps: the first <see cref="HeadBytes"/> and a rolling tail of at least
/// <see cref="TailBytes"/> (at most a quarter more: the tail rolls a segment at a time). Both count journal bytes,
/// frame headers included (<see cref="JournalFormat.FrameHeaderSize"/> bytes per write), so the size on disk is
/// bounded whatever the write pattern; a job that writes a byte at a time keeps fewer output bytes.
/// </summary>
internal sealed record JournalLimits
{
    /// <summary>The tail is kept in this many full segments plus the one being written.</summary>
    public const int SegmentsPerTail = 4;

    /// <summary>Below this a segment would hold little more than frame headers.</summary>
    public const long MinTailBytes = 1024;

    /// <summary>Far beyond any sensible setting; keeps arithmetic on positions clear of overflow.</summary>
    public const long MaxBytes = 1L << 40;

    /// <summary>1 MiB of head, 4 MiB of tail: ~6 MiB on disk at most.</summary>
    public static JournalLimits Default { get; } = new(1L << 20, 4L << 20);

    /// <summary>
    /// A terminal's: its screen is what matters and its output is typed-at-a-prompt sized, so it keeps less (its
    /// recording keeps the whole session): hundreds fit in the server's budget.
    /// </summary>
    public static JournalLimits Terminal { get; } = new(64L << 10, 1L << 20);

    public JournalLimits(long headBytes, long tailBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(headBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(headBytes, MaxBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(tailBytes, MinTailBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tailBytes, MaxBytes);
        HeadBytes = headBytes;
        TailBytes = tailBytes;
    }

    public long HeadBytes { get; }

    public long TailBytes { get; }

    /// <summary>Journal bytes (frames) one tail segment holds.</summary>
    public long SegmentBytes => (TailBytes + SegmentsPerTail - 1) / SegmentsPerTail;

    /// <summary>
    /// The most the journal's files can take on disk: the head file (header, head frames, end frame) and up to
    /// <see cref="SegmentsPerTail"/> + 1 segments, plus the empty one that exists for a moment while the tail rolls.
    /// </summary>
    public long MaxDiskBytes =>
        JournalFormat.FileHeaderSize + HeadBytes + JournalFormat.EndFrameSize
        + (SegmentsPerTail + 1) * (JournalFormat.SegmentHeaderSize + SegmentBytes)
        + JournalFormat.SegmentHeaderSize;

    /// <summary>
    /// These limits shrunk in proportion so that <see cref="MaxDiskBytes"/> fits <paramref name="maxDiskBytes"/>;
    /// null when not even <see cref="MinTailBytes"/> of tail would fit.
    /// </summary>
    public JournalLimits? ShrunkToFit(long maxDiskBytes)
    {
        if (MaxDiskBytes <= maxDiskBytes)
        {
            return this;
        }

        var smallest = new JournalLimits(0, MinTailBytes);
        if (smallest.MaxDiskBytes > maxDiskBytes)
        {
            return null;
        }

        // The tail costs (SegmentsPerTail + 1) / SegmentsPerTail of its size on disk, the head its size: scale both
        // alike, then give the head whatever the tail's rounding (or its minimum) left.
        var fixedBytes = smallest.MaxDiskBytes - (SegmentsPerTail + 1) * smallest.SegmentBytes;
        var weight = HeadBytes + TailBytes * (SegmentsPerTail + 1) / (double)SegmentsPerTail;
        var scale = (maxDiskBytes - fixedBytes) / weight;
        var tail = Math.Max(MinTailBytes, (long)(TailBytes * scale) / SegmentsPerTail * SegmentsPerTail);
        var head = Math.Min(HeadBytes, maxDiskBytes - new JournalLimits(0, tail).MaxDiskBytes);
        if (head < 0)
        {
            return null;
        }

        var shrunk = new JournalLimits(head, tail);
        return shrunk.MaxDiskBytes <= maxDiskBytes ? shrunk : null;
    }
}
