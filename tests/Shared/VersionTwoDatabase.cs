using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.Tests.Shared;

/// <summary>
/// A database file exactly as schema version 2 wrote it (before principals): its tables, a session without an owner,
/// and events hashed with a frozen copy of the version-1 encoding — so a change to how old events hash, or a migration
/// that breaks them, fails the tests that open it.
/// </summary>
internal static class VersionTwoDatabase
{
    public const string SessionId = "s-v2v2v2v2";

    private static readonly DateTimeOffset Start = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>Writes the file at <paramref name="path"/> (which must not exist) with <paramref name="events"/> events.</summary>
    public static void Write(string path, int events)
    {
        SQLitePCL.Batteries_V2.Init();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        Execute(connection, """
            PRAGMA journal_mode=WAL;
            CREATE TABLE events (
                seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, session_id TEXT, kind TEXT NOT NULL, tool TEXT, client TEXT, arguments TEXT,
                outcome TEXT NOT NULL, error TEXT, summary TEXT, duration_ms INTEGER NOT NULL, output TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
            CREATE INDEX events_by_session ON events (session_id, seq);
            CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY, name TEXT, backend TEXT NOT NULL, status TEXT NOT NULL, status_detail TEXT, workspace_host TEXT NOT NULL,
                workspace TEXT NOT NULL, cwd TEXT NOT NULL, env TEXT NOT NULL, created_at TEXT NOT NULL, last_activity_at TEXT NOT NULL, backend_state TEXT);
            CREATE TABLE calls_in_flight (id TEXT PRIMARY KEY, ts TEXT NOT NULL, session_id TEXT, tool TEXT NOT NULL, client TEXT, arguments TEXT);
            CREATE TABLE event_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
            CREATE TRIGGER event_sequence_never_goes_back BEFORE UPDATE ON event_sequence WHEN NEW.last_seq < OLD.last_seq
                BEGIN SELECT RAISE(ABORT, 'event sequence numbers are never reused'); END;
            CREATE TRIGGER event_sequence_is_kept BEFORE DELETE ON event_sequence
                BEGIN SELECT RAISE(ABORT, 'event sequence numbers are never reused'); END;
            """);
        using (var session = connection.CreateCommand())
        {
            // Stopped: a server that opens the file has nothing to re-attach.
            session.CommandText = """
                INSERT INTO sessions VALUES ($id, 'old', 'local', 'stopped', 'workspace removed', '/nonexistent/w', '/nonexistent/w', '/nonexistent/w', '{}', $ts, $ts, NULL)
                """;
            session.Parameters.AddWithValue("$id", SessionId);
            session.Parameters.AddWithValue("$ts", HashChain.FormatTime(Start));
            session.ExecuteNonQuery();
        }
        var prev = HashChain.Genesis;
        for (var seq = 1; seq <= events; seq++)
        {
            var e = Entry(seq);
            var hash = VersionOneHash(seq, prev, e);
            using var insert = connection.CreateCommand();
            insert.CommandText = """
                INSERT INTO events (seq, ts, session_id, kind, tool, client, arguments, outcome, error, summary, duration_ms, output, prev_hash, hash)
                VALUES ($seq, $ts, $session, $kind, $tool, $client, $args, $outcome, NULL, $summary, $duration, $output, $prev, $hash)
                """;
            insert.Parameters.AddWithValue("$seq", seq);
            insert.Parameters.AddWithValue("$ts", HashChain.FormatTime(e.Time));
            insert.Parameters.AddWithValue("$session", e.SessionId);
            insert.Parameters.AddWithValue("$kind", e.Kind);
            insert.Parameters.AddWithValue("$tool", e.Tool);
            insert.Parameters.AddWithValue("$client", e.Client);
            insert.Parameters.AddWithValue("$args", e.Arguments);
            insert.Parameters.AddWithValue("$outcome", e.Outcome);
            insert.Parameters.AddWithValue("$summary", e.Summary);
            insert.Parameters.AddWithValue("$duration", e.DurationMs);
            insert.Parameters.AddWithValue("$output", e.Output);
            insert.Parameters.AddWithValue("$prev", prev);
            insert.Parameters.AddWithValue("$hash", hash);
            insert.ExecuteNonQuery();
            prev = hash;
        }
        Execute(connection, $"INSERT INTO event_sequence (id, last_seq) VALUES (1, {events}); PRAGMA user_version=2;");
    }

    /// <summary>The <paramref name="n"/>th event the file holds: a call of session_exec in the old session.</summary>
    public static AuditEntry Entry(int n) => new(
        Start.AddSeconds(n), SessionId, AuditKinds.ToolCall, "session_exec", "old-client/1", $$"""{"command":"echo {{n}}"}""",
        AuditOutcomes.Ok, null, """{"exit_code":0}""", 12, $$"""{"stdout":"{{n}}\n"}""");

    /// <summary>The version-1 encoding, frozen here: the production encoder of events without a principal must match it forever.</summary>
    public static string VersionOneHash(long seq, string prevHash, AuditEntry entry)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(seq);
            writer.WriteStringValue(prevHash);
            writer.WriteStringValue(HashChain.FormatTime(entry.Time));
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
            writer.WriteEndArray();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
