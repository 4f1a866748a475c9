using Microsoft.Data.Sqlite;

namespace SessionMcp.SessionRouting.Storage;

/// <summary>
/// The one SQLite file (WAL) that holds the session registry and the audit log. One connection per process, used under a
/// lock: every statement here takes microseconds, and a single connection keeps the event sequence and hash chain simple.
/// Other processes on the same file are serialised by SQLite itself (<c>BEGIN IMMEDIATE</c> + busy timeout).
/// </summary>
public sealed class SessionDatabase : IDisposable
{
    private const int SchemaVersion = 1;
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
            """);
        Execute($"PRAGMA user_version={SchemaVersion};");
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
