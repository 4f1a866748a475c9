using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Sessions;

/// <summary>
/// The persisted set of sessions. It lives in the same database as the audit log, so a session and the events that
/// describe it survive a restart together, and any server process on the same data directory sees the same sessions.
/// </summary>
public sealed class SessionRegistry(SessionDatabase database)
{
    private const string Columns = "id, name, backend, status, status_detail, workspace_host, workspace, cwd, env, created_at, last_activity_at, backend_state, owner, source_dir, parent_id, fork_seq, restart_policy, disk_mb";

    // Last activity is the newest of the stored value and the session's newest audited event, so calls that change
    // nothing (reads, failed edits) need no write to the registry.
    private const string SelectColumns = "id, name, backend, status, status_detail, workspace_host, workspace, cwd, env, created_at, "
        + "MAX(last_activity_at, COALESCE((SELECT ts FROM events WHERE events.session_id = sessions.id ORDER BY seq DESC LIMIT 1), '')), backend_state, owner, source_dir, parent_id, fork_seq, restart_policy, disk_mb";

    public void Add(SessionRecord session) => database.WriteTransaction((connection, transaction) =>
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"INSERT INTO sessions ({Columns}) VALUES ($id, $name, $backend, $status, $detail, $host, $workspace, $cwd, $env, $created, $activity, $state, $owner, $source, $parent, $fork, $restart, $disk)";
        Bind(command, session);
        command.ExecuteNonQuery();
        return 0;
    });

    public SessionRecord? Find(string id) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SelectColumns} FROM sessions WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadRecord(reader) : null;
    });

    public IReadOnlyList<SessionRecord> List() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SelectColumns} FROM sessions ORDER BY created_at, id";
        using var reader = command.ExecuteReader();
        var sessions = new List<SessionRecord>();
        while (reader.Read())
        {
            sessions.Add(ReadRecord(reader));
        }
        return sessions;
    });

    /// <summary>
    /// Read-modify-write of one session inside a single write transaction, so concurrent commands on one session each
    /// apply their own change to the latest state instead of overwriting each other.
    /// </summary>
    public SessionRecord Update(string id, Func<SessionRecord, SessionRecord> change) => database.WriteTransaction((connection, transaction) =>
    {
        SessionRecord current;
        using (var select = connection.CreateCommand())
        {
            select.Transaction = transaction;
            select.CommandText = $"SELECT {SelectColumns} FROM sessions WHERE id = $id";
            select.Parameters.AddWithValue("$id", id);
            using var reader = select.ExecuteReader();
            if (!reader.Read())
            {
                throw new KeyNotFoundException(id);
            }
            current = ReadRecord(reader);
        }

        // Neither the id, the owner the origin nor the lifecycle settings of a session ever change.
        var updated = change(current) with { Id = current.Id, Owner = current.Owner, Origin = current.Origin, RestartPolicy = current.RestartPolicy, DiskMb = current.DiskMb };
        using var write = connection.CreateCommand();
        write.Transaction = transaction;
        write.CommandText = "UPDATE sessions SET name = $name, backend = $backend, status = $status, status_detail = $detail, workspace_host = $host, workspace = $workspace, cwd = $cwd, env = $env, created_at = $created, last_activity_at = $activity, backend_state = $state WHERE id = $id";
        Bind(write, updated);
        write.ExecuteNonQuery();
        return updated;
    });

    private static void Bind(SqliteCommand command, SessionRecord s)
    {
        command.Parameters.AddWithValue("$id", s.Id);
        command.Parameters.AddWithValue("$name", (object?)s.Name ?? DBNull.Value);
        command.Parameters.AddWithValue("$backend", s.Backend);
        command.Parameters.AddWithValue("$status", s.StatusText);
        command.Parameters.AddWithValue("$detail", (object?)s.StatusDetail ?? DBNull.Value);
        command.Parameters.AddWithValue("$host", s.WorkspaceHostPath);
        command.Parameters.AddWithValue("$workspace", s.WorkspacePath);
        command.Parameters.AddWithValue("$cwd", s.Cwd);
        command.Parameters.AddWithValue("$env", JsonSerializer.Serialize(s.Env));
        command.Parameters.AddWithValue("$created", HashChain.FormatTime(s.CreatedAt));
        command.Parameters.AddWithValue("$activity", HashChain.FormatTime(s.LastActivityAt));
        command.Parameters.AddWithValue("$state", (object?)s.BackendState ?? DBNull.Value);
        command.Parameters.AddWithValue("$owner", s.Owner);
        command.Parameters.AddWithValue("$source", (object?)s.Origin.SourceDir ?? DBNull.Value);
        command.Parameters.AddWithValue("$parent", (object?)s.Origin.ParentId ?? DBNull.Value);
        command.Parameters.AddWithValue("$fork", (object?)s.Origin.ForkSeq ?? DBNull.Value);
        command.Parameters.AddWithValue("$restart", (object?)s.RestartPolicy ?? DBNull.Value);
        command.Parameters.AddWithValue("$disk", (object?)s.DiskMb ?? DBNull.Value);
    }

    private static SessionRecord ReadRecord(SqliteDataReader r) => new(
        Id: r.GetString(0),
        Name: r.IsDBNull(1) ? null : r.GetString(1),
        Backend: r.GetString(2),
        Status: r.GetString(3) switch
        {
            "running" => SessionStatus.Running,
            "lost" => SessionStatus.Lost,
            "hibernated" => SessionStatus.Hibernated,
            _ => SessionStatus.Stopped,
        },
        WorkspaceHostPath: r.GetString(5),
        WorkspacePath: r.GetString(6),
        Cwd: r.GetString(7),
        Env: JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(8)) ?? [],
        CreatedAt: ParseTime(r.GetString(9)),
        LastActivityAt: ParseTime(r.GetString(10)),
        BackendState: r.IsDBNull(11) ? null : r.GetString(11),
        StatusDetail: r.IsDBNull(4) ? null : r.GetString(4))
    {
        Owner = r.GetString(12),
        Origin = new SessionOrigin(
            r.IsDBNull(13) ? null : r.GetString(13),
            r.IsDBNull(14) ? null : r.GetString(14),
            r.IsDBNull(15) ? null : r.GetInt64(15)),
        RestartPolicy = r.IsDBNull(16) ? null : r.GetString(16),
        DiskMb = r.IsDBNull(17) ? null : r.GetInt64(17),
    };

    private static DateTimeOffset ParseTime(string text) => Audit.HashChain.ParseTime(text);
}
