using System.Globalization;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// The append-only, hash-chained event log. <see cref="Append"/> returns only after the event is committed, so a result
/// that carries its <c>event_seq</c> is never sent for an event that a crash could lose.
/// </summary>
/// <param name="headFile">Where the newest head is recorded after each append (null: nowhere, as for admin commands).</param>
public sealed class AuditLog(SessionDatabase database, AuditHeadFile? headFile = null)
{
    private const string Columns = "seq, ts, session_id, kind, tool, client, arguments, outcome, error, summary, duration_ms, output, prev_hash, hash, principal";

    /// <param name="endsCall">The id <see cref="BeginCall"/> gave the call this event records: its in-flight row goes in
    /// the same transaction, so a call is always either in flight or recorded, never both or neither.</param>
    /// <param name="alongside">Rows that belong to the event (its workspace change), written in its transaction with its
    /// number: both are committed or neither.</param>
    public AuditEvent Append(AuditEntry entry, string? endsCall = null, Action<SqliteConnection, SqliteTransaction, long>? alongside = null)
    {
        var appended = database.WriteTransaction((connection, transaction) =>
        {
            // Under BEGIN IMMEDIATE no other writer (thread or process) can slip in between reading the tip and appending.
            // The number comes from the counter, the previous hash from the newest event still there: after deleted
            // events the next one gets a new number, and verify reports the gap it leaves.
            long seq;
            string prevHash;
            using (var tip = connection.CreateCommand())
            {
                tip.Transaction = transaction;
                tip.CommandText = """
                    SELECT (SELECT last_seq FROM event_sequence WHERE id = 1),
                           (SELECT seq FROM events ORDER BY seq DESC LIMIT 1),
                           (SELECT hash FROM events ORDER BY seq DESC LIMIT 1)
                    """;
                using var reader = tip.ExecuteReader();
                reader.Read();
                var issued = reader.IsDBNull(0) ? 0 : reader.GetInt64(0);
                var newest = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
                seq = Math.Max(issued, newest) + 1;
                prevHash = reader.IsDBNull(2) ? HashChain.Genesis : reader.GetString(2);
            }

            var hash = HashChain.Compute(seq, prevHash, entry);
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = $"""
                INSERT INTO events ({Columns}) VALUES ($seq, $ts, $session, $kind, $tool, $client, $args, $outcome, $error, $summary, $duration, $output, $prev, $hash, $principal);
                INSERT INTO event_sequence (id, last_seq) VALUES (1, $seq) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq;
                """;
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
            insert.Parameters.AddWithValue("$principal", (object?)entry.Principal ?? DBNull.Value);
            insert.ExecuteNonQuery();
            if (endsCall is not null)
            {
                using var end = connection.CreateCommand();
                end.Transaction = transaction;
                end.CommandText = "DELETE FROM calls_in_flight WHERE id = $id";
                end.Parameters.AddWithValue("$id", endsCall);
                end.ExecuteNonQuery();
            }
            alongside?.Invoke(connection, transaction, seq);
            return new AuditEvent(seq, entry, prevHash, hash);
        });
        try
        {
            headFile?.Write(new AuditHead(appended.Seq, appended.Hash));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The event is committed and its caller must learn its number; a head that cannot be recorded only weakens
            // the next start's check, and the start-up check reports a file it cannot read.
            HeadWriteFailure = e;
        }
        return appended;
    }

    /// <summary>
    /// Notes that a call started (its arguments already redacted), so that a server dying before <see cref="Append"/>
    /// leaves a trace the next start records (<see cref="InterruptedCalls"/>). Returns the id to pass as <c>endsCall</c>.
    /// </summary>
    public string BeginCall(DateTimeOffset time, string? sessionId, string tool, string? client, string? arguments, string? principal = null) =>
        database.WriteTransaction((connection, transaction) =>
        {
            var id = Guid.NewGuid().ToString("N");
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO calls_in_flight (id, ts, session_id, tool, client, arguments, principal) VALUES ($id, $ts, $session, $tool, $client, $args, $principal)";
            insert.Parameters.AddWithValue("$id", id);
            insert.Parameters.AddWithValue("$ts", HashChain.FormatTime(time));
            insert.Parameters.AddWithValue("$session", (object?)sessionId ?? DBNull.Value);
            insert.Parameters.AddWithValue("$tool", tool);
            insert.Parameters.AddWithValue("$client", (object?)client ?? DBNull.Value);
            insert.Parameters.AddWithValue("$args", (object?)arguments ?? DBNull.Value);
            insert.Parameters.AddWithValue("$principal", (object?)principal ?? DBNull.Value);
            insert.ExecuteNonQuery();
            return id;
        });

    /// <summary>Calls that began and were never recorded: at start, those of a server that died while they ran.</summary>
    public IReadOnlyList<InterruptedCall> InterruptedCalls() => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT id, ts, session_id, tool, client, arguments, principal FROM calls_in_flight ORDER BY ts";
        using var reader = select.ExecuteReader();
        var calls = new List<InterruptedCall>();
        while (reader.Read())
        {
            calls.Add(new InterruptedCall(
                reader.GetString(0),
                HashChain.ParseTime(reader.GetString(1)),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return calls;
    });

    /// <summary>The last failure to record the head outside the database, if any (for the server's log).</summary>
    public Exception? HeadWriteFailure { get; private set; }

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

    /// <summary>The newest event's number and hash (<see cref="AuditHead.Empty"/> for an empty log).</summary>
    public AuditHead Head() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1";
        using var reader = command.ExecuteReader();
        return reader.Read() ? new AuditHead(reader.GetInt64(0), reader.IsDBNull(1) ? "" : Convert.ToString(reader.GetValue(1), CultureInfo.InvariantCulture)!) : AuditHead.Empty;
    });

    /// <summary>The highest sequence number ever issued, deleted events included.</summary>
    public long IssuedSeq() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MAX(COALESCE((SELECT last_seq FROM event_sequence WHERE id = 1), 0), COALESCE((SELECT MAX(seq) FROM events), 0))";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    });

    /// <summary>Checks the whole chain, page by page, and returns the first broken link (null: intact).</summary>
    public (long Checked, ChainBreak? Break) Verify()
    {
        // Pages keep memory flat on a large log; the chain state carries across pages.
        const int page = 2000;
        long from = 1, count = 0, last = 0;
        var chainBreak = HashChain.Verify(Pages());
        if (chainBreak is null && IssuedSeq() is var issued && issued > last)
        {
            // The chain cannot see a missing tail; the counter can: numbers were issued that no event holds.
            chainBreak = new ChainBreak(last + 1, $"events {Range(last + 1, issued)} were issued but are missing: the newest events were deleted (the log ends at event {last})");
        }
        return (count, chainBreak);

        IEnumerable<AuditEvent> Pages()
        {
            while (true)
            {
                var events = ReadRange(from, page);
                foreach (var e in events)
                {
                    count++;
                    last = e.Seq;
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

    /// <summary>
    /// Whether the log still holds an expected head, one recorded earlier (by the server or an operator): with a number,
    /// the event of that number must exist and (with a hash too) have that hash; with only a hash, some event must have it.
    /// Later events are fine — the log grows — but the chain then proves they extend the expected one.
    /// </summary>
    /// <returns>Why the log does not match, or null when it does.</returns>
    public string? CheckHead(long? expectedSeq, string? expectedHash)
    {
        var head = Head();
        if (expectedSeq is { } seq)
        {
            if (seq > head.Seq)
            {
                var what = expectedHash is null ? $"event {seq}" : $"event {seq} with hash {expectedHash}";
                return $"expected {what}, but the log ends at event {head.Seq}: events {Range(head.Seq + 1, seq)} are missing (the newest events were deleted)";
            }
            if (seq == 0)
            {
                return expectedHash is null or HashChain.Genesis ? null : $"expected hash {expectedHash} at event 0, which is the empty log's {HashChain.Genesis}";
            }
            var stored = ReadRange(seq, 1);
            if (stored.Count == 0 || stored[0].Seq != seq)
            {
                return $"expected event {seq}, but the log has no event {seq} (it ends at event {head.Seq}; events were deleted)";
            }
            if (expectedHash is not null && !string.Equals(stored[0].Hash, expectedHash, StringComparison.OrdinalIgnoreCase))
            {
                return $"event {seq} has hash {stored[0].Hash}, not the expected {expectedHash}: the log was rewritten up to event {seq}";
            }
            return null;
        }
        if (expectedHash is not null && !string.Equals(expectedHash, HashChain.Genesis, StringComparison.Ordinal) && FindByHash(expectedHash) is null)
        {
            return $"no event has the expected hash {expectedHash} (the log ends at event {head.Seq} with hash {head.Hash}): the event was deleted or the log rewritten";
        }
        return null;
    }

    private long? FindByHash(string hash) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq FROM events WHERE hash = $hash COLLATE NOCASE LIMIT 1";
        command.Parameters.AddWithValue("$hash", hash);
        return command.ExecuteScalar() is long seq ? seq : (long?)null;
    });

    private static string Range(long from, long to) => from == to ? from.ToString(CultureInfo.InvariantCulture) : $"{from}..{to}";

    private static List<AuditEvent> ReadAll(SqliteCommand command)
    {
        var list = new List<AuditEvent>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            list.Add(StoredRow.Read(reader));
        }
        return list;
    }
}
