using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// Each event's hash covers its previous event's hash and every stored field, so altering, removing or reordering any
/// row breaks the chain from that row on.
/// </summary>
/// <remarks>
/// The encoding is versioned by the event itself, so events written before a field existed verify forever. Version 1
/// (every event without a principal: all events before schema 3, and what the server records on its own) is the
/// original array of 13 fields, byte for byte. Version 2 (an event with a principal) starts with the marker
/// <see cref="EncodingV2"/> and ends with the principal. A version-1 array starts with a number, a version-2 array with
/// a string, so no event of one version can be read as one of the other: setting a principal on an old row, or clearing
/// it on a new one, changes the bytes hashed and breaks the chain there. A field added later gets a version 3 the same
/// way (chosen by its presence), never a change to the arrays above.
/// Version 3 (every event appended since schema 6, recorded in the row's <c>hash_version</c>) starts with the marker
/// <see cref="EncodingV3Marker"/> and covers the output by its SHA-256 (<c>output_digest</c>) instead of verbatim, so
/// retention can drop a full output and the event still verifies; the principal is always its last element (null or
/// not). A version-1 or -2 event hashes its output verbatim: its output goes only with the whole event.
/// </remarks>
internal static class HashChain
{
    /// <summary>The previous hash of the first event.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The first element of a version-2 encoding (an event with a principal).</summary>
    public const string EncodingV2 = "v2";

    /// <summary>An event hashed as version 1 or 2 (which of them follows from its principal).</summary>
    public const int LegacyEncoding = 0;

    /// <summary>The <c>hash_version</c> of a version-3 event: the output is covered by its digest.</summary>
    public const int EncodingV3 = 3;

    /// <summary>The first element of a version-3 encoding.</summary>
    public const string EncodingV3Marker = "v3";

    /// <summary>The hash of an event as stored, in the encoding it was written with.</summary>
    public static string Compute(AuditEvent e) =>
        e.Encoding == EncodingV3 ? ComputeV3(e.Seq, e.PrevHash, e.Entry, e.OutputDigest) : Compute(e.Seq, e.PrevHash, e.Entry);

    /// <summary>The SHA-256 of an output as version 3 records it (null for no output).</summary>
    public static string? DigestOutput(string? output) =>
        output is null ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(output)));

    /// <summary>Version 3: <paramref name="outputDigest"/> stands for the output, which may be gone.</summary>
    public static string ComputeV3(long seq, string prevHash, AuditEntry entry, string? outputDigest) => Hash(writer =>
    {
        writer.WriteStringValue(EncodingV3Marker);
        WriteFields(writer, seq, prevHash, entry);
        writer.WriteStringValue(outputDigest);
        writer.WriteStringValue(entry.Principal);
    });

    /// <summary>Versions 1 (no principal) and 2 (a principal, marked first and written last): the output itself.</summary>
    public static string Compute(long seq, string prevHash, AuditEntry entry) => Hash(writer =>
    {
        if (entry.Principal is not null)
        {
            writer.WriteStringValue(EncodingV2);
        }
        WriteFields(writer, seq, prevHash, entry);
        writer.WriteStringValue(entry.Output);
        if (entry.Principal is not null)
        {
            writer.WriteStringValue(entry.Principal);
        }
    });

    /// <summary>
    /// The SHA-256 of the JSON array <paramref name="write"/> fills: an array gives an unambiguous encoding of the fields
    /// (no separator can be forged inside a value).
    /// </summary>
    private static string Hash(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            write(writer);
            writer.WriteEndArray();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    /// <summary>The fields every encoding hashes, in their order: from the number to the duration.</summary>
    private static void WriteFields(Utf8JsonWriter writer, long seq, string prevHash, AuditEntry entry)
    {
        writer.WriteNumberValue(seq);
        writer.WriteStringValue(prevHash);
        writer.WriteStringValue(FormatTime(entry.Time));
        writer.WriteStringValue(entry.SessionId);
        writer.WriteStringValue(entry.Kind);
        writer.WriteStringValue(entry.Tool);
        writer.WriteStringValue(entry.Client);
        writer.WriteStringValue(entry.Arguments);
        writer.WriteStringValue(entry.Outcome);
        writer.WriteStringValue(entry.Error);
        writer.WriteStringValue(entry.Summary);
        writer.WriteNumberValue(entry.DurationMs);
    }

    /// <summary>The one text form of an event's time, used both to store it and to hash it.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads a time written by <see cref="FormatTime"/> (UTC).</summary>
    public static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);

    /// <summary>Whether <paramref name="text"/> is a hash as the chain writes them: 64 lowercase hex digits.</summary>
    public static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);

    /// <summary>
    /// Walks events in sequence order and returns the first broken link, or null when the whole chain holds.
    /// </summary>
    /// <param name="pruned">Runs of events retention removed, in order: the chain crosses each one from the hash recorded
    /// before it to the hash of its last event. A gap no run explains is a break, as before retention existed.</param>
    /// <param name="prunedOutputs">Events whose output retention dropped; a version-3 event without its output and not in
    /// here lost it some other way.</param>
    /// <param name="tally">Counts what the walk crossed, for the report.</param>
    public static ChainBreak? Verify(IEnumerable<AuditEvent> events, IReadOnlyList<PrunedRun>? pruned = null, IReadOnlySet<long>? prunedOutputs = null, ChainTally? tally = null)
    {
        tally ??= new ChainTally();
        pruned ??= [];
        var expectedPrev = Genesis;
        long expectedSeq = 1;
        var nextRun = 0;
        foreach (var e in events)
        {
            while (nextRun < pruned.Count && pruned[nextRun].FirstSeq <= e.Seq)
            {
                if (Cross(pruned[nextRun++]) is { } runBreak)
                {
                    return runBreak;
                }
            }
            if (e.Seq < expectedSeq)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} is still in the log, though a checkpoint says it was pruned (the checkpoint was altered)");
            }
            if (e.Seq != expectedSeq)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} follows event {expectedSeq - 1}: events {expectedSeq}..{e.Seq - 1} are missing and no checkpoint explains them");
            }
            if (e.Corruption is { } corruption)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} is corrupt: {corruption}");
            }
            if (e.PrevHash != expectedPrev)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq}: its prev_hash does not match the hash of event {e.Seq - 1} (an event before it was altered or replaced)");
            }
            var actual = Compute(e);
            if (actual != e.Hash)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq}: its content does not match its hash (the row was altered)");
            }
            if (e.Encoding == EncodingV3 && OutputProblem(e, prunedOutputs) is { } outputProblem)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq}: {outputProblem}");
            }
            // The store writes JSON or NULL there; anything else was written around it (with the hash recomputed).
            if (FirstInvalidJson(e.Entry) is { } field)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} is corrupt: {field} is not valid JSON");
            }
            tally.Events++;
            if (e.OutputPruned)
            {
                tally.OutputsPruned++;
            }
            tally.LastSeq = e.Seq;
            expectedPrev = e.Hash;
            expectedSeq++;
        }
        while (nextRun < pruned.Count)
        {
            if (Cross(pruned[nextRun++]) is { } runBreak)
            {
                return runBreak;
            }
        }
        return null;

        ChainBreak? Cross(PrunedRun run)
        {
            if (run.FirstSeq != expectedSeq)
            {
                return run.FirstSeq < expectedSeq
                    ? new ChainBreak(run.FirstSeq, $"checkpoint {run.Checkpoint} says events {Range(run.FirstSeq, run.LastSeq)} were pruned, which overlaps what comes before it (the checkpoint was altered)")
                    : new ChainBreak(expectedSeq, $"event {run.FirstSeq} (pruned by checkpoint {run.Checkpoint}) follows event {expectedSeq - 1}: events {Range(expectedSeq, run.FirstSeq - 1)} are missing and no checkpoint explains them");
            }
            if (run.FirstPrevHash != expectedPrev)
            {
                return new ChainBreak(run.FirstSeq, $"checkpoint {run.Checkpoint}: the pruned events {Range(run.FirstSeq, run.LastSeq)} do not link to the hash of event {run.FirstSeq - 1} (the checkpoint or an event before it was altered)");
            }
            tally.PrunedEvents += run.LastSeq - run.FirstSeq + 1;
            tally.Checkpoints.Add(run.Checkpoint);
            tally.LastSeq = run.LastSeq;
            expectedPrev = run.LastHash;
            expectedSeq = run.LastSeq + 1;
            return null;
        }
    }

    private static string? OutputProblem(AuditEvent e, IReadOnlySet<long>? prunedOutputs)
    {
        if (e.Entry.Output is { } output)
        {
            return DigestOutput(output) == e.OutputDigest ? null : "its output does not match its output_digest (the output was altered)";
        }
        if (e.OutputDigest is not null && prunedOutputs?.Contains(e.Seq) != true)
        {
            return "its output is gone but no checkpoint says it was pruned (the output was deleted outside retention)";
        }
        return null;
    }

    private static string Range(long from, long to) => from == to ? from.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{from}..{to}";

    private static string? FirstInvalidJson(AuditEntry entry)
    {
        foreach (var (name, json) in new[] { ("arguments", entry.Arguments), ("summary", entry.Summary), ("output", entry.Output) })
        {
            if (json is null)
            {
                continue;
            }
            try
            {
                using var document = JsonDocument.Parse(json);
            }
            catch (JsonException)
            {
                return name;
            }
        }
        return null;
    }
}

/// <summary>The first place the hash chain does not hold.</summary>
public sealed record ChainBreak(long Seq, string Reason);

/// <summary>
/// Events retention removed, <see cref="FirstSeq"/> to <see cref="LastSeq"/> with no event between them left: the hash the
/// first one linked to and the hash of the last one are all the chain needs to cross the hole.
/// </summary>
public sealed record PrunedRun(long Checkpoint, long FirstSeq, long LastSeq, string FirstPrevHash, string LastHash);

/// <summary>What a verification crossed.</summary>
public sealed class ChainTally
{
    /// <summary>Events checked (hash recomputed).</summary>
    public long Events { get; set; }

    /// <summary>Events crossed through checkpoints.</summary>
    public long PrunedEvents { get; set; }

    /// <summary>Checked events whose output retention dropped.</summary>
    public long OutputsPruned { get; set; }

    /// <summary>The highest sequence number the chain reached, checked or pruned.</summary>
    public long LastSeq { get; set; }

    /// <summary>Checkpoints whose pruned events the chain crossed.</summary>
    public HashSet<long> Checkpoints { get; } = [];
}
