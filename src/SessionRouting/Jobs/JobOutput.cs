namespace SessionMcp.SessionRouting.Jobs;

/// <summary>Which stream of a job a byte came from; the values are the frame kinds on disk.</summary>
internal enum JobStream : byte
{
    Stdout = 1,
    Stderr = 2,
}

/// <summary>
/// How a job ended. <paramref name="ExitCode"/> is null when a signal ended it (<paramref name="Signal"/>) or when its end
/// was never observed (<paramref name="Lost"/>: the server died or restarted while it ran).
/// </summary>
/// <param name="Killed">The server (or the agent through it) ended the job, not the job itself.</param>
internal sealed record JobOutcome(int? ExitCode, int? Signal, bool Killed, bool Lost)
{
    public static JobOutcome Exited(int exitCode) => new(exitCode, null, false, false);

    /// <summary>
    /// From a wait status as the backends report it: 128 + N is taken for signal N too (a shell reports a killed child
    /// the same way), the exit code kept as reported.
    /// </summary>
    public static JobOutcome FromExitCode(int exitCode) => new(exitCode, exitCode > 128 ? exitCode - 128 : null, false, false);

    public static JobOutcome Signaled(int signal, bool killed) => new(null, signal, killed, false);

    /// <summary>The process is gone and nobody saw how it ended (e.g. found still running in a journal after a restart).</summary>
    public static JobOutcome LostTrack { get; } = new(null, null, false, true);
}

/// <summary>A job's end as the journal recorded it: the outcome and when, in ms since the job started.</summary>
internal sealed record JobEnd(JobOutcome Outcome, long TimeMs);

/// <summary>
/// A run of bytes of one stream, in write order. <paramref name="Offset"/> counts every byte the job wrote to either
/// stream before it; <paramref name="TimeMs"/> is when its first byte was written, in ms since the job started.
/// </summary>
internal sealed record JournalChunk(JobStream Stream, long Offset, long TimeMs, ReadOnlyMemory<byte> Bytes)
{
    public long EndOffset => Offset + Bytes.Length;
}

/// <summary>Bytes <c>[From, To)</c> of the output that were written but not kept (the dropped middle).</summary>
internal sealed record JournalGap(long From, long To)
{
    public long Length => To - From;
}

/// <summary>
/// What one <see cref="JobJournal.Read"/> returned. Chunks and the gap are ordered by offset: chunks before
/// <see cref="Gap"/>.From come before it, the others after it.
/// </summary>
/// <param name="Cursor">Where the read began (the cursor asked for).</param>
/// <param name="NextCursor">Where the next read should begin: after the last byte returned (or the gap skipped).</param>
/// <param name="TotalBytes">Every byte the job wrote so far, kept or not.</param>
/// <param name="Ended">Set once the job ended, whether or not this read reached the end of its output.</param>
internal sealed record JournalRead(
    IReadOnlyList<JournalChunk> Chunks,
    JournalGap? Gap,
    long Cursor,
    long NextCursor,
    long TotalBytes,
    JobEnd? Ended)
{
    /// <summary>The job ended and this read reached the end of its output: nothing more will come.</summary>
    public bool Complete => Ended is not null && NextCursor == TotalBytes;

    /// <summary>Output bytes returned (the gap not counted).</summary>
    public long Bytes => Chunks.Sum(c => (long)c.Bytes.Length);
}
