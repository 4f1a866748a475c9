using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Workspace history in the session database: each event's changed paths (<c>file_changes</c>) and each distinct
/// content once (<c>blobs</c>). The files at an event are, per path, the newest row up to it.
/// </summary>
internal sealed class HistoryStore(SessionDatabase database) : IBlobReader
{
    private const string RenamedAway = "renamed_away";

    public bool HasBlob(string hash) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM blobs WHERE hash = $hash AND data IS NOT NULL";
        command.Parameters.AddWithValue("$hash", hash);
        return command.ExecuteScalar() is not null;
    });

    public byte[]? Read(string hash) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT size, data FROM blobs WHERE hash = $hash";
        command.Parameters.AddWithValue("$hash", hash);
        using var reader = command.ExecuteReader();
        if (!reader.Read() || reader.IsDBNull(1))
        {
            return null;
        }
        var content = BlobCodec.Decode(reader.GetValue(1) as byte[] ?? [], reader.GetInt64(0));
        // A blob that does not hash to its name was altered: better no content than the wrong one.
        return content is not null && Convert.ToHexStringLower(SHA256.HashData(content)) == hash ? content : null;
    });

    /// <summary>Several contents in one query, each checked against its hash (those it has and that match).</summary>
    public IReadOnlyDictionary<string, byte[]> ReadMany(IReadOnlyCollection<string> hashes)
    {
        var stored = database.Read(connection =>
        {
            Wanted(connection, "wanted_blobs", hashes);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT hash, size, data FROM blobs WHERE hash IN (SELECT value FROM wanted_blobs) AND data IS NOT NULL";
            using var reader = command.ExecuteReader();
            var rows = new List<(string Hash, long Size, byte[] Data)>();
            while (reader.Read())
            {
                rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetValue(2) as byte[] ?? []));
            }
            return rows;
        });
        // Decoded and checked outside the database lock.
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (hash, size, data) in stored)
        {
            if (BlobCodec.Decode(data, size) is { } content && Convert.ToHexStringLower(SHA256.HashData(content)) == hash)
            {
                contents[hash] = content;
            }
        }
        return contents;
    }

    /// <summary>
    /// Writes one step's changes and the blobs they need, inside the transaction that appends event <paramref name="seq"/>.
    /// </summary>
    public static void Insert(SqliteConnection connection, SqliteTransaction transaction, string sessionId, long seq, IReadOnlyList<FileChange> changes, IReadOnlyDictionary<string, byte[]> blobs)
    {
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO file_changes (session_id, seq, path, change, from_path, kind, mode, hash, size, stored)
            VALUES ($session, $seq, $path, $change, $from, $kind, $mode, $hash, $size, $stored)
            """;
        var path = insert.Parameters.Add("$path", SqliteType.Text);
        var change = insert.Parameters.Add("$change", SqliteType.Text);
        var from = insert.Parameters.Add("$from", SqliteType.Text);
        var kind = insert.Parameters.Add("$kind", SqliteType.Text);
        var mode = insert.Parameters.Add("$mode", SqliteType.Integer);
        var hash = insert.Parameters.Add("$hash", SqliteType.Text);
        var size = insert.Parameters.Add("$size", SqliteType.Integer);
        var stored = insert.Parameters.Add("$stored", SqliteType.Integer);
        insert.Parameters.AddWithValue("$session", sessionId);
        insert.Parameters.AddWithValue("$seq", seq);
        foreach (var row in Rows(changes))
        {
            path.Value = row.Path;
            change.Value = row.Change;
            from.Value = (object?)row.FromPath ?? DBNull.Value;
            kind.Value = row.Entry is null ? DBNull.Value : KindName(row.Entry.Kind);
            mode.Value = (object?)row.Entry?.Mode ?? DBNull.Value;
            hash.Value = (object?)row.Entry?.Hash ?? DBNull.Value;
            size.Value = (object?)row.Entry?.Size ?? DBNull.Value;
            stored.Value = row.Entry is null ? DBNull.Value : row.Entry.Stored ? 1 : 0;
            insert.ExecuteNonQuery();
        }

        using var blob = connection.CreateCommand();
        blob.Transaction = transaction;
        blob.CommandText = """
            INSERT INTO blobs (hash, size, data) VALUES ($hash, $size, $data)
            ON CONFLICT (hash) DO UPDATE SET data = excluded.data WHERE blobs.data IS NULL
            """;
        var blobHash = blob.Parameters.Add("$hash", SqliteType.Text);
        var blobSize = blob.Parameters.Add("$size", SqliteType.Integer);
        var blobData = blob.Parameters.Add("$data", SqliteType.Blob);
        foreach (var entry in changes.Select(c => c.After).OfType<FileEntry>().Where(e => e.Stored).DistinctBy(e => e.Hash))
        {
            if (blobs.TryGetValue(entry.Hash, out var data))
            {
                blobHash.Value = entry.Hash;
                blobSize.Value = entry.Size;
                blobData.Value = data;
                blob.ExecuteNonQuery();
            }
        }
    }

    /// <summary>
    /// A digest of one step's changes, as the rows store them: the event's summary carries it, so the hash chain commits
    /// to the workspace history too and <c>audit verify</c> can tell altered rows.
    /// </summary>
    public static string Digest(IReadOnlyList<FileChange> changes) => Digest(Rows(changes));

    /// <summary>Events with workspace rows whose rows no longer match the digest their event recorded.</summary>
    public string DigestOf(string sessionId, long seq) => Digest(database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT path, change, from_path, kind, mode, hash, size, stored FROM file_changes WHERE session_id = $session AND seq = $seq";
        command.Parameters.AddWithValue("$session", sessionId);
        command.Parameters.AddWithValue("$seq", seq);
        using var reader = command.ExecuteReader();
        var rows = new List<Row>();
        while (reader.Read())
        {
            rows.Add(new Row(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(5) ? null : EntryOf(reader, 3)));
        }
        return rows;
    }));

    /// <summary>The files of <paramref name="sessionId"/> right after event <paramref name="seq"/> (only <paramref name="paths"/>, when given).</summary>
    public WorkspaceTree TreeAt(string sessionId, long seq, IReadOnlyCollection<string>? paths = null) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        var pathFilter = "";
        if (paths is not null)
        {
            if (paths.Count == 0)
            {
                return WorkspaceTree.Empty;
            }
            Wanted(connection, "wanted_paths", paths);
            pathFilter = " AND path IN (SELECT value FROM wanted_paths)";
        }
        // SQLite takes the bare columns from the row that holds the MAX.
        command.CommandText = $"SELECT path, MAX(seq), kind, mode, hash, size, stored FROM file_changes WHERE session_id = $session AND seq <= $seq{pathFilter} GROUP BY path";
        command.Parameters.AddWithValue("$session", sessionId);
        command.Parameters.AddWithValue("$seq", seq);
        using var reader = command.ExecuteReader();
        var entries = new List<KeyValuePair<string, FileEntry>>();
        while (reader.Read())
        {
            if (!reader.IsDBNull(4))
            {
                entries.Add(KeyValuePair.Create(reader.GetString(0), EntryOf(reader, 2)));
            }
        }
        return WorkspaceTree.From(entries);
    });

    /// <summary>
    /// The change between the session's files right after event <paramref name="fromSeq"/> and right after event
    /// <paramref name="toSeq"/> (only under <paramref name="paths"/>, when given: files or directories).
    /// </summary>
    public IReadOnlyList<FileChange> Changes(string sessionId, long fromSeq, long toSeq, IReadOnlyCollection<string>? paths = null)
    {
        var changed = PathsChanged(sessionId, fromSeq, toSeq)
            .Where(p => paths is null || paths.Any(wanted => WorkspaceTreePaths.IsAtOrUnder(p, wanted.Trim('/'))))
            .ToList();
        return TreeDelta.Between(TreeAt(sessionId, fromSeq, changed), TreeAt(sessionId, toSeq, changed), changed);
    }

    /// <summary>The paths changed by events after <paramref name="fromSeq"/> up to <paramref name="toSeq"/>.</summary>
    public IReadOnlyList<string> PathsChanged(string sessionId, long fromSeq, long toSeq) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT path FROM file_changes WHERE session_id = $session AND seq > $from AND seq <= $to";
        command.Parameters.AddWithValue("$session", sessionId);
        command.Parameters.AddWithValue("$from", fromSeq);
        command.Parameters.AddWithValue("$to", toSeq);
        using var reader = command.ExecuteReader();
        var paths = new List<string>();
        while (reader.Read())
        {
            paths.Add(reader.GetString(0));
        }
        return paths;
    });

    /// <summary>
    /// The event a session's history starts at: the first one that recorded its baseline (its creation; for a session
    /// made before history existed, its first call after). Null when history never recorded the session.
    /// </summary>
    public long? Start(string sessionId) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(seq) FROM events WHERE session_id = $session AND json_extract(summary, '$.workspace.baseline') = 1";
        command.Parameters.AddWithValue("$session", sessionId);
        return command.ExecuteScalar() is long seq ? seq : (long?)null;
    });

    /// <summary><see cref="Start"/>, or an error saying the session has no history.</summary>
    public long RequireStart(string sessionId) => Start(sessionId)
        ?? throw new Backends.SessionException($"session {sessionId} has no recorded workspace history (it began before history was recorded, or history is off)");

    /// <summary>The newest event of the session that recorded workspace rows, or null when history has none yet.</summary>
    public long? LastStep(string sessionId) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT MAX(seq) FROM file_changes WHERE session_id = $session";
        command.Parameters.AddWithValue("$session", sessionId);
        return command.ExecuteScalar() is long seq ? seq : (long?)null;
    });

    /// <summary>Every stored blob checked against its hash, in pages: how many were checked and which do not match.</summary>
    public (long Checked, IReadOnlyList<string> Corrupt) VerifyBlobs()
    {
        long checkedCount = 0;
        var corrupt = new List<string>();
        var after = "";
        while (true)
        {
            var page = database.Read(connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT hash, size, data FROM blobs WHERE hash > $after AND data IS NOT NULL ORDER BY hash LIMIT 256";
                command.Parameters.AddWithValue("$after", after);
                using var reader = command.ExecuteReader();
                var rows = new List<(string Hash, long Size, byte[] Data)>();
                while (reader.Read())
                {
                    // Anything but a blob in the column (SQL can store text there) is as corrupt as a wrong blob.
                    rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetValue(2) as byte[] ?? []));
                }
                return rows;
            });
            foreach (var (hash, size, data) in page)
            {
                checkedCount++;
                var content = BlobCodec.Decode(data, size);
                if (content is null || Convert.ToHexStringLower(SHA256.HashData(content)) != hash)
                {
                    corrupt.Add(hash);
                }
            }
            if (page.Count < 256)
            {
                return (checkedCount, corrupt);
            }
            after = page[^1].Hash;
        }
    }

    /// <summary>Whether retention pruned event <paramref name="seq"/> (a checkpoint vouches for it; its rows stay, so the
    /// files at every later step can still be told).</summary>
    public bool WasPruned(long seq) => database.Read(connection => Audit.Checkpoints.RunCovering(connection, seq) is not null);

    /// <summary>Every (session, event, digest) that workspace rows exist for, for <c>audit verify</c>.</summary>
    public IReadOnlyList<(string SessionId, long Seq)> RecordedSteps() => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT session_id, seq FROM file_changes ORDER BY seq";
        using var reader = command.ExecuteReader();
        var steps = new List<(string, long)>();
        while (reader.Read())
        {
            steps.Add((reader.GetString(0), reader.GetInt64(1)));
        }
        return steps;
    });

    /// <summary>Fills the temporary table <paramref name="table"/> (one column, <c>value</c>) with <paramref name="values"/>:
    /// a set to match against, rather than thousands of parameters.</summary>
    private static void Wanted(SqliteConnection connection, string table, IEnumerable<string> values)
    {
        using (var temp = connection.CreateCommand())
        {
            temp.CommandText = $"CREATE TEMP TABLE IF NOT EXISTS {table} (value TEXT PRIMARY KEY); DELETE FROM {table};";
            temp.ExecuteNonQuery();
        }
        using var fill = connection.CreateCommand();
        fill.CommandText = $"INSERT OR IGNORE INTO {table} (value) VALUES ($value)";
        var parameter = fill.Parameters.Add("$value", SqliteType.Text);
        foreach (var value in values)
        {
            parameter.Value = value;
            fill.ExecuteNonQuery();
        }
    }

    private sealed record Row(string Path, string Change, string? FromPath, FileEntry? Entry);

    private static IEnumerable<Row> Rows(IReadOnlyList<FileChange> changes)
    {
        foreach (var change in changes)
        {
            yield return new Row(change.Path, ChangeName(change.Kind), change.FromPath, change.After);
            if (change.FromPath is { } from)
            {
                yield return new Row(from, RenamedAway, null, null);
            }
        }
    }

    private static string Digest(IEnumerable<Row> rows)
    {
        var text = new StringBuilder();
        foreach (var row in rows.OrderBy(r => r.Path, StringComparer.Ordinal))
        {
            var e = row.Entry;
            text.Append(CultureInfo.InvariantCulture, $"{row.Path}\0{row.Change}\0{row.FromPath}\0{(e is null ? "" : KindName(e.Kind))}\0{e?.Mode}\0{e?.Hash}\0{e?.Size}\0{(e is null ? "" : e.Stored ? "1" : "0")}\n");
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static FileEntry EntryOf(SqliteDataReader reader, int first) => new(
        reader.GetString(first) == "symlink" ? EntryKind.Symlink : EntryKind.File,
        reader.GetInt32(first + 1),
        reader.GetString(first + 2),
        reader.GetInt64(first + 3),
        reader.GetInt64(first + 4) != 0);

    private static string KindName(EntryKind kind) => kind == EntryKind.Symlink ? "symlink" : "file";

    public static string ChangeName(ChangeKind kind) => kind switch
    {
        ChangeKind.Added => "added",
        ChangeKind.Removed => "removed",
        ChangeKind.Modified => "modified",
        ChangeKind.ModeChanged => "mode_changed",
        ChangeKind.Renamed => "renamed",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
