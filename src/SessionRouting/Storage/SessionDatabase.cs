using Microsoft.Data.Sqlite;

namespace SessionMcp.SessionRouting.Storage;

/// <summary>
/// The one SQLite file (WAL) that holds the session registry and the audit log. One connection per process, used under a
/// lock: every statement here takes microseconds, and a single connection keeps the event sequence and hash chain simple.
/// Other processes on the same file are serialised by SQLite itself (<c>BEGIN IMMEDIATE</c> + busy timeout).
/// </summary>
public sealed class SessionDatabase : IDisposable
{
    // Schema versions (PRAGMA user_version), each reached by its own migration, in order: 1: events, sessions.
    // 2: event_sequence, so a sequence number is never issued twice. 3: tokens, session owners and shares, the principal
    // of each event.
    /// <summary>The schema version a database is at once this build opened it (every migration below ran).</summary>
    internal const long CurrentVersion = 7;

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();

    static SessionDatabase() => SQLitePCL.Batteries_V2.Init();

    /// <param name="path">The database file; its directory is created with mode 0700.</param>
    /// <param name="fullSync">
    /// false (the default) survives a crash or SIGKILL of the server: a committed event is in the OS page cache. true
    /// also survives power loss, at the cost of an fsync per event.
    /// </param>
    public SessionDatabase(string path, bool fullSync = false)
    {
        Path = path;
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        TryRestrictFileMode(path);
        Execute("PRAGMA journal_mode=WAL;");
        Execute(fullSync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        Execute("PRAGMA busy_timeout=10000;");
        Execute("PRAGMA foreign_keys=ON;");
        EnsureSchema();
    }

    public string Path { get; }

    /// <summary>Runs <paramref name="work"/> under the process lock, inside one immediate (write-locking) transaction.</summary>
    internal T WriteTransaction<T>(Func<SqliteConnection, SqliteTransaction, T> work)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            var result = work(_connection, transaction);
            transaction.Commit();
            return result;
        }
    }

    /// <summary>Runs a read under the process lock.</summary>
    internal T Read<T>(Func<SqliteConnection, T> work)
    {
        lock (_gate)
        {
            return work(_connection);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _connection.Dispose();
        }
    }

    private void EnsureSchema()
    {
        // Append-only is enforced by the schema itself: no row of events can be changed or deleted through SQL.
        Execute("""
            CREATE TABLE IF NOT EXISTS events (
                seq          INTEGER PRIMARY KEY,
                ts           TEXT    NOT NULL,
                session_id   TEXT,
                kind         TEXT    NOT NULL,
                tool         TEXT,
                client       TEXT,
                arguments    TEXT,
                outcome      TEXT    NOT NULL,
                error        TEXT,
                summary      TEXT,
                duration_ms  INTEGER NOT NULL,
                output       TEXT,
                prev_hash    TEXT    NOT NULL,
                hash         TEXT    NOT NULL
            );
            CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, seq);
            CREATE TRIGGER IF NOT EXISTS events_are_append_only_update BEFORE UPDATE ON events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS events_are_append_only_delete BEFORE DELETE ON events
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            CREATE TABLE IF NOT EXISTS sessions (
                id               TEXT PRIMARY KEY,
                name             TEXT,
                backend          TEXT NOT NULL,
                status           TEXT NOT NULL,
                status_detail    TEXT,
                workspace_host   TEXT NOT NULL,
                workspace        TEXT NOT NULL,
                cwd              TEXT NOT NULL,
                env              TEXT NOT NULL,
                created_at       TEXT NOT NULL,
                last_activity_at TEXT NOT NULL,
                backend_state    TEXT
            );
            -- Calls that started and are not recorded yet (not part of the chain): a row left here by a server that died
            -- mid-call becomes an "interrupted" event at the next start, so no call goes unaudited.
            CREATE TABLE IF NOT EXISTS calls_in_flight (
                id          TEXT PRIMARY KEY,
                ts          TEXT NOT NULL,
                session_id  TEXT,
                tool        TEXT NOT NULL,
                client      TEXT,
                arguments   TEXT
            );
            """);
        MigrateToVersion2();
        MigrateToVersion3();
        MigrateToVersion4();
        MigrateToVersion5();
        MigrateToVersion6();
        MigrateToVersion7();
    }

    /// <summary>
    /// Version 2 numbers events from a counter of its own, so deleting the newest events (with the triggers dropped)
    /// cannot make the next event reuse their numbers: a client that holds seq 42 keeps pointing at one event forever.
    /// A counter table rather than AUTOINCREMENT: the sequence number is part of the hash, so it must be known before
    /// the insert anyway, and AUTOINCREMENT would mean rebuilding the events table. Existing events are untouched (the
    /// counter starts at their newest number), so every one of them still verifies.
    /// </summary>
    private void MigrateToVersion2()
    {
        // Under BEGIN IMMEDIATE, so two processes opening an old file at once migrate it once.
        using var transaction = _connection.BeginTransaction(deferred: false);
        if (UserVersion(transaction) >= 2)
        {
            return;
        }
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = $"""
            CREATE TABLE IF NOT EXISTS event_sequence (
                id       INTEGER PRIMARY KEY CHECK (id = 1),
                last_seq INTEGER NOT NULL
            );
            INSERT OR IGNORE INTO event_sequence (id, last_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM events;
            CREATE TRIGGER IF NOT EXISTS event_sequence_never_goes_back BEFORE UPDATE ON event_sequence WHEN NEW.last_seq < OLD.last_seq
                BEGIN SELECT RAISE(ABORT, 'event sequence numbers are never reused'); END;
            CREATE TRIGGER IF NOT EXISTS event_sequence_is_kept BEFORE DELETE ON event_sequence
                BEGIN SELECT RAISE(ABORT, 'event sequence numbers are never reused'); END;
            PRAGMA user_version=2;
            """;
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>
    /// Version 3 knows who calls: bearer tokens (only their SHA-256), an owner per session (sessions made before are the
    /// local user's), shares of a session with other principals, and the principal of each event and call in flight.
    /// Old events keep a NULL principal, which <see cref="Audit.HashChain"/> hashes exactly as before, so every one of them
    /// still verifies. Token names compare without case, so "Laptop" cannot pass for "laptop" in owners and shares.
    /// </summary>
    private void MigrateToVersion3()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        if (UserVersion(transaction) >= 3)
        {
            return;
        }
        // Columns only where missing: a file whose version number was lowered (restored, or written by hand) migrates too.
        var alters = MissingColumns(transaction,
            ("events", "principal", "TEXT"),
            ("calls_in_flight", "principal", "TEXT"),
            ("sessions", "owner", "TEXT NOT NULL DEFAULT 'local'"));
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = alters + """
            CREATE TABLE IF NOT EXISTS tokens (
                name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
                scope       TEXT NOT NULL CHECK (scope IN ('read', 'full', 'admin')),
                hash        TEXT NOT NULL UNIQUE,
                created_at  TEXT NOT NULL,
                revoked_at  TEXT
            );
            CREATE TABLE IF NOT EXISTS session_shares (
                session_id  TEXT NOT NULL REFERENCES sessions (id),
                principal   TEXT NOT NULL COLLATE NOCASE,
                scope       TEXT NOT NULL CHECK (scope IN ('read', 'full')),
                created_at  TEXT NOT NULL,
                PRIMARY KEY (session_id, principal)
            );
            CREATE INDEX IF NOT EXISTS session_shares_by_principal ON session_shares (principal);
            PRAGMA user_version=3;
            """;
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>
    /// Version 4 records what each step did to its session's workspace: <c>file_changes</c> holds, per event, each path it
    /// changed and the entry after it (NULL: removed), so the files at any event are the newest row per path up to it;
    /// <c>blobs</c> holds each distinct content once (compressed; <c>data</c> NULL once pruned). Rows are written in the
    /// event's own transaction and never updated; each event's summary carries their digest, which the hash chain covers.
    /// Sessions learn their origin: the source directory copied, or the parent session and event of a fork.
    /// </summary>
    private void MigrateToVersion4()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        if (UserVersion(transaction) >= 4)
        {
            return;
        }
        var alters = MissingColumns(transaction,
            ("sessions", "source_dir", "TEXT"),
            ("sessions", "parent_id", "TEXT"),
            ("sessions", "fork_seq", "INTEGER"));
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = alters + """
            CREATE TABLE IF NOT EXISTS blobs (
                hash   TEXT PRIMARY KEY,
                size   INTEGER NOT NULL,
                data   BLOB
            );
            CREATE TABLE IF NOT EXISTS file_changes (
                session_id  TEXT    NOT NULL,
                seq         INTEGER NOT NULL,
                path        TEXT    NOT NULL,
                change      TEXT    NOT NULL,
                from_path   TEXT,
                kind        TEXT,
                mode        INTEGER,
                hash        TEXT,
                size        INTEGER,
                stored      INTEGER,
                PRIMARY KEY (session_id, path, seq)
            );
            CREATE INDEX IF NOT EXISTS file_changes_by_seq ON file_changes (session_id, seq);
            CREATE TRIGGER IF NOT EXISTS file_changes_are_kept BEFORE UPDATE ON file_changes
                BEGIN SELECT RAISE(ABORT, 'workspace history is append-only'); END;
            PRAGMA user_version=4;
            """;
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>
    /// Version 5 keeps each session's lifecycle settings: its restart policy (<c>on-failure</c> or none) and its
    /// workspace's disk quota in MiB (null: none). Existing sessions get neither, as they were created.
    /// A database made by a build that had version 6 (retention) but not this one is past 5 without these columns:
    /// they are added to it all the same, leaving its version as it is.
    /// </summary>
    private void MigrateToVersion5()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        var current = UserVersion(transaction);
        var alters = MissingColumns(transaction,
            ("sessions", "restart_policy", "TEXT"),
            ("sessions", "disk_mb", "INTEGER"));
        if (current >= 5 && alters.Length == 0)
        {
            return;
        }
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = alters + (current >= 5 ? "" : "PRAGMA user_version=5;");
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>
    /// Version 6 lets retention prune without losing the chain. Events appended from now on are hashed with encoding 3
    /// (<c>hash_version</c>), which covers the output by its SHA-256 (<c>output_digest</c>), so the output can be dropped
    /// and the event still verifies; old events keep their encoding (NULL) and verify as before. <c>checkpoints</c>
    /// records each pruning, <c>pruned_runs</c> the hash links across the events it removed, <c>pruned_outputs</c> the
    /// outputs it dropped; all three are append-only. The triggers on <c>events</c> are replaced by ones that still refuse
    /// every change except the two retention makes after recording them: deleting an event a run covers, and setting to
    /// NULL the output of a version-3 event listed in <c>pruned_outputs</c> (every other column unchanged).
    /// </summary>
    private void MigrateToVersion6()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        if (UserVersion(transaction) >= 6)
        {
            return;
        }
        var alters = MissingColumns(transaction,
            ("events", "output_digest", "TEXT"),
            ("events", "hash_version", "INTEGER"));
        // Every column but output must stay as it was; a column added to events later belongs in this list.
        string[] unchanged = ["seq", "ts", "session_id", "kind", "tool", "client", "arguments", "outcome", "error", "summary", "duration_ms", "prev_hash", "hash", "principal", "output_digest", "hash_version"];
        var sameRow = string.Join(" AND ", unchanged.Select(c => $"NEW.{c} IS OLD.{c}"));
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = alters + $"""
            CREATE TABLE IF NOT EXISTS checkpoints (
                id            INTEGER PRIMARY KEY,
                created_at    TEXT    NOT NULL,
                principal     TEXT,
                event_seq     INTEGER NOT NULL,
                what          TEXT    NOT NULL CHECK (what IN ('events', 'outputs')),
                criteria      TEXT    NOT NULL,
                count         INTEGER NOT NULL,
                first_seq     INTEGER NOT NULL,
                last_seq      INTEGER NOT NULL,
                last_hash     TEXT,
                pruned_digest TEXT    NOT NULL,
                digest        TEXT    NOT NULL
            );
            CREATE TABLE IF NOT EXISTS pruned_runs (
                first_seq       INTEGER PRIMARY KEY,
                last_seq        INTEGER NOT NULL,
                checkpoint      INTEGER NOT NULL REFERENCES checkpoints (id),
                first_prev_hash TEXT    NOT NULL,
                last_hash       TEXT    NOT NULL
            );
            CREATE INDEX IF NOT EXISTS pruned_runs_by_checkpoint ON pruned_runs (checkpoint);
            CREATE TABLE IF NOT EXISTS pruned_outputs (
                seq        INTEGER PRIMARY KEY,
                checkpoint INTEGER NOT NULL REFERENCES checkpoints (id)
            );
            CREATE INDEX IF NOT EXISTS pruned_outputs_by_checkpoint ON pruned_outputs (checkpoint);
            CREATE TRIGGER IF NOT EXISTS checkpoints_are_append_only_update BEFORE UPDATE ON checkpoints
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS checkpoints_are_append_only_delete BEFORE DELETE ON checkpoints
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS pruned_runs_are_append_only_update BEFORE UPDATE ON pruned_runs
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS pruned_runs_are_append_only_delete BEFORE DELETE ON pruned_runs
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS pruned_outputs_are_append_only_update BEFORE UPDATE ON pruned_outputs
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            CREATE TRIGGER IF NOT EXISTS pruned_outputs_are_append_only_delete BEFORE DELETE ON pruned_outputs
                BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
            DROP TRIGGER IF EXISTS events_are_append_only_delete;
            CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
                WHEN COALESCE((SELECT last_seq FROM pruned_runs WHERE first_seq <= OLD.seq ORDER BY first_seq DESC LIMIT 1), 0) < OLD.seq
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only (only session-mcp audit prune removes events, under a checkpoint)'); END;
            DROP TRIGGER IF EXISTS events_are_append_only_update;
            CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
                WHEN NOT (NEW.output IS NULL AND OLD.hash_version IS 3 AND OLD.output_digest IS NOT NULL
                          AND EXISTS (SELECT 1 FROM pruned_outputs WHERE seq = OLD.seq) AND {sameRow})
                BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            PRAGMA user_version=6;
            """;
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    /// <summary>Version 7 lets a token expire: <c>tokens.expires_at</c> (null: never, as every token made before).</summary>
    private void MigrateToVersion7()
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        if (UserVersion(transaction) >= 7)
        {
            return;
        }
        using var migrate = _connection.CreateCommand();
        migrate.Transaction = transaction;
        migrate.CommandText = MissingColumns(transaction, ("tokens", "expires_at", "TEXT")) + $"PRAGMA user_version={CurrentVersion};";
        migrate.ExecuteNonQuery();
        transaction.Commit();
    }

    private long UserVersion(SqliteTransaction transaction)
    {
        using var version = _connection.CreateCommand();
        version.Transaction = transaction;
        version.CommandText = "PRAGMA user_version";
        return Convert.ToInt64(version.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The ALTER TABLE statements that add those of <paramref name="columns"/> the file does not have yet.</summary>
    private string MissingColumns(SqliteTransaction transaction, params (string Table, string Column, string Type)[] columns) =>
        string.Concat(columns
            .Where(c => !HasColumn(transaction, c.Table, c.Column))
            .Select(c => $"ALTER TABLE {c.Table} ADD COLUMN {c.Column} {c.Type};\n"));

    private bool HasColumn(SqliteTransaction transaction, string table, string column)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1 FROM pragma_table_info($table) WHERE name = $column";
        command.Parameters.AddWithValue("$table", table);
        command.Parameters.AddWithValue("$column", column);
        return command.ExecuteScalar() is not null;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void TryRestrictFileMode(string path)
    {
        // The registry holds the sessions' exported variables, which may include credentials the agent exported.
        try
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
