using System.Globalization;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// The append-only, hash-chained event log. <see cref="Append"/> returns only after the event is committed, so a result
/// that carries its <c>event_seq</c> is never sent for an event that a crash could lose.
/// </summary>
public sealed class AuditLog(SessionDatabase database)
{
    private const string Columns = "seq, ts, session_id, kind, tool, client, arguments, outcome, error, summary, duration_ms, output, prev_hash, hash";

    public AuditEvent Append(AuditEntry entry) => database.WriteTransaction((connection, transaction) =>
    {
        // Under BEGIN IMMEDIATE no other writer (thread or process) can slip in between reading the tip and appending.
        long seq;
        string prevHash;
        using (var tip = connection.CreateCommand())
        {
            tip.Transaction = transaction;
            tip.CommandText = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1";
            using var reader = tip.ExecuteReader();
            (seq, prevHash) = reader.Read() ? (reader.GetInt64(0) + 1, reader.GetString(1)) : (1L, HashChain.Genesis);
        }

        var hash = HashChain.Compute(seq, prevHash, entry);
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO events ({Columns}) VALUES ($seq, $ts, $session, $kind, $tool, $client, $args, $outcome, $error, $summary, $duration, $output, $prev, $hash)";
        insert.Parameters.AddWithValue("$seq", seq);
        insert.Parameters.AddWithValue("$ts", HashChain.FormatTime(entry.Time));
        insert.Parameters.AddWithValue("$session", (object?)entry.SessionId ?? DBNull.Value);
        insert.Parameters.AddWithValue("$kind", entry.Kind);
        insert.Parameters.AddWithValue("$tool", (object?)entry.Tool ?? DBNull.Value);
        insert.Parameters.AddWithValue("$client", (object?)entry.Client ?? DBNull.Value);
        insert.Parameters.AddWithValue("$args", (object?)entry.Arguments ?? DBNull.Value);
        insert.Parameters.AddWithValue("$outcome", entry.Outcome);
        insert.Parameters.AddWithValue("$error", (object?)entry.Error ?? DBNull.Value);
        insert.Parameters.AddWithValue("$summary", (object?)entry.Summary ?? DBNull.Value);
        insert.Parameters.AddWithValue("$duration", entry.DurationMs);
        insert.Parameters.AddWithValue("$output", (object?)entry.Output ?? DBNull.Value);
        insert.Parameters.AddWithValue("$prev", prevHash);
        insert.Parameters.AddWithValue("$hash", hash);
        insert.ExecuteNonQuery();
        return new AuditEvent(seq, entry, prevHash, hash);
    });

    /// <summary>One session's events from <paramref name="fromSeq"/> on, optionally only the calls of some tools.</summary>
    public IReadOnlyList<AuditEvent> ReadSession(string sessionId, long fromSeq, int limit, IReadOnlyCollection<string>? tools = null) =>
        database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            var toolFilter = "";
            if (tools is { Count: > 0 })
            {
                var names = tools.Select((t, i) => $"$tool{i}").ToArray();
                toolFilter = $" AND tool IN ({string.Join(", ", names)})";
                var i = 0;
                foreach (var tool in tools)
                {
                    command.Parameters.AddWithValue($"$tool{i++}", tool);
                }
            }
            command.CommandText = $"SELECT {Columns} FROM events WHERE session_id = $session AND seq >= $from{toolFilter} ORDER BY seq LIMIT $limit";
            command.Parameters.AddWithValue("$session", sessionId);
            command.Parameters.AddWithValue("$from", fromSeq);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadAll(command);
        });

    /// <summary>Every event from <paramref name="fromSeq"/> on, in order.</summary>
    public IReadOnlyList<AuditEvent> ReadRange(long fromSeq, int limit) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM events WHERE seq >= $from ORDER BY seq LIMIT $limit";
        command.Parameters.AddWithValue("$from", fromSeq);
        command.Parameters.AddWithValue("$limit", limit);
        return ReadAll(command);
    });

    /// <summary>The newest <paramref name="count"/> events (of one session, when given), oldest first.</summary>
    public IReadOnlyList<AuditEvent> ReadLast(int count, string? sessionId = null) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        var sessionFilter = sessionId is null ? "" : " WHERE session_id = $session";
        command.CommandText = $"SELECT {Columns} FROM events{sessionFilter} ORDER BY seq DESC LIMIT $limit";
        command.Parameters.AddWithValue("$session", (object?)sessionId ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", count);
        var newestFirst = ReadAll(command);
        newestFirst.Reverse();
        return newestFirst;
    });

    /// <summary>The sequence number of the newest event, 0 when there is none.</summary>
    public long LastSeq() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM events";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    });

    /// <summary>Checks the whole chain, page by page, and returns the first broken link (null: intact).</summary>
    public (long Checked, ChainBreak? Break) Verify()
    {
        // Pages keep memory flat on a large log; the chain state carries across pages.
        const int page = 2000;
        long from = 1, count = 0;
        var chainBreak = HashChain.Verify(Pages());
        return (count, chainBreak);

        IEnumerable<AuditEvent> Pages()
        {
            while (true)
            {
                var events = ReadRange(from, page);
                foreach (var e in events)
                {
                    count++;
                    yield return e;
                }
                if (events.Count < page)
                {
                    yield break;
                }
                from = events[^1].Seq + 1;
            }
        }
    }

    private static List<AuditEvent> ReadAll(SqliteCommand command)
    {
        var list = new List<AuditEvent>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var entry = new AuditEntry(
                DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                NullableString(reader, 2),
                reader.GetString(3),
                NullableString(reader, 4),
                NullableString(reader, 5),
                NullableString(reader, 6),
                reader.GetString(7),
                NullableString(reader, 8),
                NullableString(reader, 9),
                reader.GetInt64(10),
                NullableString(reader, 11));
            list.Add(new AuditEvent(reader.GetInt64(0), entry, reader.GetString(12), reader.GetString(13)));
        }
        return list;
    }

    private static string? NullableString(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
