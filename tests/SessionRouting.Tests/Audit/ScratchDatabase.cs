using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Tests.Audit;

/// <summary>A session database in a fresh temp directory; more connections to the same file can be opened, as other processes would.</summary>
internal sealed class ScratchDatabase : IDisposable
{
    private readonly List<SessionDatabase> _opened = [];

    public ScratchDatabase()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "session-mcp-tests", $"db-{Guid.NewGuid():N}");
        Path = System.IO.Path.Combine(Directory, "session-mcp.db");
        Database = OpenAnother();
    }

    public string Directory { get; }

    public string Path { get; }

    public SessionDatabase Database { get; }

    /// <summary>A second, independent connection to the same file (what a second server process has).</summary>
    public SessionDatabase OpenAnother()
    {
        var database = new SessionDatabase(Path);
        _opened.Add(database);
        return database;
    }

    /// <summary>Raw SQL on the file, bypassing the store (for tampering and schema checks).</summary>
    public void ExecuteRaw(string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        foreach (var database in _opened)
        {
            database.Dispose();
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
