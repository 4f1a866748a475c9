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
/// </remarks>
internal static class HashChain
{
    /// <summary>The previous hash of the first event.</summary>
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The first element of a version-2 encoding (an event with a principal).</summary>
    public const string EncodingV2 = "v2";

    public static string Compute(long seq, string prevHash, AuditEntry entry)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            // A JSON array gives an unambiguous encoding of the fields (no separator can be forged inside a value).
            writer.WriteStartArray();
            if (entry.Principal is not null)
            {
                writer.WriteStringValue(EncodingV2);
            }
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
            writer.WriteStringValue(entry.Output);
            if (entry.Principal is not null)
            {
                writer.WriteStringValue(entry.Principal);
            }
            writer.WriteEndArray();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
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
    public static ChainBreak? Verify(IEnumerable<AuditEvent> events)
    {
        var expectedPrev = Genesis;
        long expectedSeq = 1;
        foreach (var e in events)
        {
            if (e.Seq != expectedSeq)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} follows event {expectedSeq - 1}: events {expectedSeq}..{e.Seq - 1} are missing");
            }
            if (e.Corruption is { } corruption)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} is corrupt: {corruption}");
            }
            if (e.PrevHash != expectedPrev)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq}: its prev_hash does not match the hash of event {e.Seq - 1} (an event before it was altered or replaced)");
            }
            var actual = Compute(e.Seq, e.PrevHash, e.Entry);
            if (actual != e.Hash)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq}: its content does not match its hash (the row was altered)");
            }
            // The store writes JSON or NULL there; anything else was written around it (with the hash recomputed).
            if (FirstInvalidJson(e.Entry) is { } field)
            {
                return new ChainBreak(e.Seq, $"event {e.Seq} is corrupt: {field} is not valid JSON");
            }
            expectedPrev = e.Hash;
            expectedSeq++;
        }
        return null;
    }

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
