using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>Why a wait on a job's output ended.</summary>
internal enum JobWaitReason
{
    /// <summary>The pattern matched new output.</summary>
    Matched,

    /// <summary>The job ended (and all its output was seen).</summary>
    Exited,

    /// <summary>At least the asked number of new bytes arrived.</summary>
    Bytes,

    /// <summary>No new output for the asked quiet time.</summary>
    Quiet,

    /// <summary>The longest wait allowed passed and nothing else happened.</summary>
    Timeout,
}

/// <summary>
/// What ends a wait. A wait always ends when the job ends or after <paramref name="MaxWait"/>; the others are optional.
/// </summary>
/// <param name="Pattern">Matched against output newer than the cursor (see <see cref="OutputMatcher"/> for the bound
/// on matches split across writes); make it with <see cref="JobWait.CreatePattern"/>.</param>
/// <param name="Quiet">No new output for this long, counted from the start of the wait or the newest output seen.</param>
/// <param name="MinBytes">At least this many bytes newer than the cursor (kept or not).</param>
internal sealed record JobWaitConditions(TimeSpan MaxWait, Regex? Pattern = null, TimeSpan? Quiet = null, long? MinBytes = null);

/// <summary>What the wait has seen so far; the input of <see cref="JobWait.Decide"/>.</summary>
/// <param name="NewBytes">Bytes written after the cursor.</param>
/// <param name="Matched">The pattern matched.</param>
/// <param name="Exited">The job ended and its output up to the end was seen.</param>
/// <param name="Elapsed">Since the wait began.</param>
/// <param name="SinceOutput">Since the newest output seen (or the wait's start, when none came).</param>
internal readonly record struct WaitObservation(long NewBytes, bool Matched, bool Exited, TimeSpan Elapsed, TimeSpan SinceOutput);

/// <summary>How a wait ended.</summary>
/// <param name="TotalBytes">The job's output when the wait ended.</param>
/// <param name="Match">Where the pattern matched, when <paramref name="Reason"/> is <see cref="JobWaitReason.Matched"/>.</param>
internal sealed record JobWaitResult(JobWaitReason Reason, long TotalBytes, JobEnd? Ended, OutputMatch? Match, TimeSpan Waited);

/// <summary>
/// Server-side waiting on a job's output, so an agent never writes a polling loop: <see cref="Decide"/> says whether a
/// condition holds (pure), <see cref="WaitAsync"/> sleeps on the journal's append signal and a timer until it does.
/// </summary>
internal static class JobWait
{
    /// <summary>Bytes read per step when a pattern must see the output.</summary>
    private const int ReadBytes = 64 * 1024;

    /// <summary>
    /// Which condition holds, if any. When several do, the most informative wins: a match, then the end, then bytes,
    /// quiet and timeout.
    /// </summary>
    public static JobWaitReason? Decide(JobWaitConditions conditions, in WaitObservation seen)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        if (seen.Matched)
        {
            return JobWaitReason.Matched;
        }

        if (seen.Exited)
        {
            return JobWaitReason.Exited;
        }

        if (conditions.MinBytes is { } minBytes && seen.NewBytes >= minBytes)
        {
            return JobWaitReason.Bytes;
        }

        if (conditions.Quiet is { } quiet && seen.SinceOutput >= quiet)
        {
            return JobWaitReason.Quiet;
        }

        return seen.Elapsed >= conditions.MaxWait ? JobWaitReason.Timeout : null;
    }

    /// <summary>How long until a time condition can hold, if nothing is written meanwhile.</summary>
    public static TimeSpan UntilDeadline(JobWaitConditions conditions, in WaitObservation seen)
    {
        ArgumentNullException.ThrowIfNull(conditions);
        var left = conditions.MaxWait - seen.Elapsed;
        if (conditions.Quiet is { } quiet && quiet - seen.SinceOutput < left)
        {
            left = quiet - seen.SinceOutput;
        }

        return left < TimeSpan.Zero ? TimeSpan.Zero : left;
    }

    /// <summary>
    /// A pattern for <see cref="JobWaitConditions.Pattern"/>: the non-backtracking engine (time linear in the output,
    /// no match timeout needed), multiline (<c>^</c> and <c>$</c> at line breaks; <c>$</c> also at the end of the
    /// output so far).
    /// </summary>
    /// <exception cref="ArgumentException">The pattern is invalid, uses what the linear engine cannot (backreferences,
    /// lookarounds, atomic groups), or matches empty text (which would end every wait at once).</exception>
    public static Regex CreatePattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.Multiline | RegexOptions.CultureInvariant);
        }
        catch (NotSupportedException e)
        {
            throw new ArgumentException($"the pattern uses a construct the linear-time engine does not support (backreferences, lookarounds, atomic groups): {e.Message}", nameof(pattern), e);
        }

        if (regex.IsMatch(""))
        {
            throw new ArgumentException("the pattern matches empty text, so it would end every wait at once; make it require at least one character", nameof(pattern));
        }

        return regex;
    }

    /// <summary>
    /// Waits until a condition holds for the output after <paramref name="cursor"/>. Wakes within microseconds of an
    /// append (the journal's signal, no polling) and otherwise only when a time condition falls due.
    /// </summary>
    /// <exception cref="OperationCanceledException">The token fired.</exception>
    /// <exception cref="ObjectDisposedException">The journal was closed or deleted while waiting.</exception>
    public static async Task<JobWaitResult> WaitAsync(JobJournal journal, long cursor, JobWaitConditions conditions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(conditions);
        ArgumentOutOfRangeException.ThrowIfNegative(cursor);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cursor, journal.TotalBytes);

        var started = Stopwatch.GetTimestamp();
        var lastOutput = started;
        var matcher = conditions.Pattern is null ? null : new OutputMatcher(conditions.Pattern);
        var seenTotal = cursor;
        var searched = cursor;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Without a pattern the counts are enough; with one, the bytes are read a block per step so that a
            // flood cannot keep the loop from checking the clock.
            JournalState state;
            OutputMatch? match = null;
            if (matcher is null)
            {
                state = journal.State;
                searched = state.TotalBytes;
            }
            else
            {
                var read = journal.Read(searched, ReadBytes);
                state = new JournalState(read.TotalBytes, read.Ended);
                match = Feed(matcher, read);
                searched = read.NextCursor;
            }

            var now = Stopwatch.GetTimestamp();
            if (state.TotalBytes > seenTotal)
            {
                seenTotal = state.TotalBytes;
                lastOutput = now;
            }

            var seen = new WaitObservation(
                state.TotalBytes - cursor,
                match is not null,
                state.Ended is not null && searched == state.TotalBytes,
                Stopwatch.GetElapsedTime(started, now),
                Stopwatch.GetElapsedTime(lastOutput, now));
            if (Decide(conditions, seen) is { } reason)
            {
                return new JobWaitResult(reason, state.TotalBytes, state.Ended, match, seen.Elapsed);
            }

            if (searched < state.TotalBytes)
            {
                continue; // more to search before sleeping
            }

            // Round up: waking a fraction of a millisecond early would only go round the loop to sleep again.
            var timeout = TimeSpan.FromMilliseconds(Math.Ceiling(UntilDeadline(conditions, seen).TotalMilliseconds));
            try
            {
                await journal.WaitForOutputAsync(searched, CancellationToken.None).WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A time condition fell due: the next round decides which.
            }
        }
    }

    private static OutputMatch? Feed(OutputMatcher matcher, JournalRead read)
    {
        // Text on either side of a gap does not run together: the matcher starts afresh at an offset that does not
        // follow what it saw.
        foreach (var chunk in read.Chunks)
        {
            if (matcher.Feed(chunk.Offset, chunk.Bytes.Span) is { } match)
            {
                return match;
            }
        }

        return null;
    }
}
