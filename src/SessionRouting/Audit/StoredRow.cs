using System.Globalization;
using Microsoft.Data.Sqlite;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// Reads one row of <c>events</c> without trusting it: a row changed behind the store's back (NULLs, a timestamp that is
/// not one, a hash that is not hex, a number stored as text) becomes an event with placeholders and a
/// <see cref="AuditEvent.Corruption"/> naming the raw values, so verify reports it and readers show it instead of failing.
/// </summary>
internal static class StoredRow
{
    public const string Unreadable = "?";

    /// <param name="reader">Positioned on a row of <c>seq, ts, session_id, kind, tool, client, arguments, outcome, error, summary, duration_ms, output, prev_hash, hash, principal, output_digest, hash_version</c>.</param>
    public static AuditEvent Read(SqliteDataReader reader)
    {
        var problems = new List<string>();
        var seq = reader.GetInt64(0); // the rowid alias: SQLite guarantees an integer

        var tsText = Text(reader, 1, "ts", required: true, problems);
        var time = DateTimeOffset.UnixEpoch;
        if (tsText is not null && !DateTimeOffset.TryParse(tsText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
        {
            problems.Add($"ts is not a timestamp ({Show(tsText)})");
            time = DateTimeOffset.UnixEpoch;
        }

        long duration = 0;
        switch (reader.GetValue(10))
        {
            case long value:
                duration = value;
                break;
            case var other:
                problems.Add($"duration_ms is not an integer ({Show(other)})");
                break;
        }

        var prevHash = Hash(reader, 12, "prev_hash", problems);
        var hash = Hash(reader, 13, "hash", problems);
        var entry = new AuditEntry(
            time,
            Text(reader, 2, "session_id", required: false, problems),
            Text(reader, 3, "kind", required: true, problems) ?? Unreadable,
            Text(reader, 4, "tool", required: false, problems),
            Text(reader, 5, "client", required: false, problems),
            Text(reader, 6, "arguments", required: false, problems),
            Text(reader, 7, "outcome", required: true, problems) ?? Unreadable,
            Text(reader, 8, "error", required: false, problems),
            Text(reader, 9, "summary", required: false, problems),
            duration,
            Text(reader, 11, "output", required: false, problems),
            Text(reader, 14, "principal", required: false, problems));
        var encoding = HashChain.LegacyEncoding;
        switch (reader.GetValue(16))
        {
            case DBNull:
                break;
            case long version when version == HashChain.EncodingV3:
                encoding = HashChain.EncodingV3;
                break;
            case var other:
                problems.Add($"hash_version is not a known encoding ({Show(other)})");
                break;
        }
        var outputDigest = Text(reader, 15, "output_digest", required: false, problems);
        return new AuditEvent(seq, entry, prevHash, hash)
        {
            Encoding = encoding,
            OutputDigest = outputDigest,
            Corruption = problems.Count == 0 ? null : string.Join("; ", problems),
        };
    }

    private static string? Text(SqliteDataReader reader, int ordinal, string name, bool required, List<string> problems)
    {
        switch (reader.GetValue(ordinal))
        {
            case string text:
                return text;
            case DBNull when !required:
                return null;
            case DBNull:
                problems.Add($"{name} is NULL");
                return null;
            case var other:
                // Text columns hold text; a number or blob there was written by something else than the store.
                problems.Add($"{name} is not text ({Show(other)})");
                return Convert.ToString(other is byte[] bytes ? Convert.ToHexStringLower(bytes) : other, CultureInfo.InvariantCulture);
        }
    }

    private static string Hash(SqliteDataReader reader, int ordinal, string name, List<string> problems)
    {
        var text = Text(reader, ordinal, name, required: true, problems);
        if (text is null)
        {
            return Unreadable;
        }
        if (!HashChain.IsHash(text))
        {
            problems.Add($"{name} is not a SHA-256 hex digest ({Show(text)})");
        }
        return text;
    }

    private static string Show(object? value) => value switch
    {
        null or DBNull => "NULL",
        string s => $"'{(s.Length > 80 ? s[..77] + "..." : s)}'",
        byte[] bytes => $"a {bytes.Length}-byte blob",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
