using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Storage;
using SessionMcp.SessionRouting.Tests.Audit;
using SessionMcp.Tests.Shared;

namespace SessionMcp.SessionRouting.Tests.Sessions;

/// <summary>A session's lifecycle settings and states in the registry's real SQLite file (schema version 5, the newest being 6).</summary>
public sealed class SessionLifecycleRecordTests : IDisposable
{
    private static readonly DateTimeOffset Created = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);
    private readonly ScratchDatabase _scratch = new();
    private readonly string _v2Directory = Path.Combine(Path.GetTempPath(), "session-mcp-tests", $"v2-{Guid.NewGuid():N}");

    [Fact]
    public void AHibernatedSessionWithARestartPolicyAndADiskQuotaRoundTrips()
    {
        // Given
        var registry = new SessionRegistry(_scratch.Database);
        var session = Session("s-aaaaaaaa") with { Status = SessionStatus.Hibernated, RestartPolicy = "on-failure", DiskMb = 64 };

        // When
        registry.Add(session);
        var found = registry.Find(session.Id)!;

        // Then
        Assert.Equal(SessionStatus.Hibernated, found.Status);
        Assert.Equal("hibernated", found.StatusText);
        Assert.Equal("on-failure", found.RestartPolicy);
        Assert.Equal(64, found.DiskMb);
    }

    [Fact]
    public void AnUpdateNeverChangesTheLifecycleSettings()
    {
        // Given
        var registry = new SessionRegistry(_scratch.Database);
        registry.Add(Session("s-aaaaaaaa") with { RestartPolicy = "on-failure", DiskMb = 32 });

        // When a change tries to drop them while it changes the state
        var updated = registry.Update("s-aaaaaaaa", s => s with { Status = SessionStatus.Hibernated, RestartPolicy = null, DiskMb = null });

        // Then the state changed and the settings did not
        Assert.Equal(SessionStatus.Hibernated, updated.Status);
        Assert.Equal("on-failure", registry.Find("s-aaaaaaaa")!.RestartPolicy);
        Assert.Equal(32, registry.Find("s-aaaaaaaa")!.DiskMb);
    }

    [Fact]
    public void ADatabaseOfSchemaVersion2GainsTheLifecycleColumnsAndItsSessionsHaveNeither()
    {
        // Given a database exactly as version 2 left it, with one session
        var path = Path.Combine(_v2Directory, "session-mcp.db");
        VersionTwoDatabase.Write(path, events: 1);

        // When this version opens it
        using var database = new SessionDatabase(path);
        var registry = new SessionRegistry(database);
        var old = registry.Find(VersionTwoDatabase.SessionId)!;
        registry.Add(Session("s-bbbbbbbb") with { DiskMb = 16 });

        // Then the old session has no restart policy and no quota, and new ones keep theirs
        Assert.Null(old.RestartPolicy);
        Assert.Null(old.DiskMb);
        Assert.Equal(16, registry.Find("s-bbbbbbbb")!.DiskMb);
        Assert.Equal(SessionDatabase.CurrentVersion, database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version";
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }));
    }

    [Fact]
    public void ADatabaseAtVersion6WithoutTheLifecycleColumnsGainsThemAndKeepsItsVersion()
    {
        // Given a database a build with retention (version 6) but not lifecycle (version 5) made: past 5, without its columns
        _scratch.ExecuteRaw("ALTER TABLE sessions DROP COLUMN restart_policy; ALTER TABLE sessions DROP COLUMN disk_mb; PRAGMA user_version=6;");

        // When this version opens it
        var database = _scratch.OpenAnother();
        var registry = new SessionRegistry(database);
        registry.Add(Session("s-cccccccc") with { RestartPolicy = "on-failure", DiskMb = 8 });

        // Then the columns are there again, and the later migrations ran from 6 on
        Assert.Equal("on-failure", registry.Find("s-cccccccc")!.RestartPolicy);
        Assert.Equal(8, registry.Find("s-cccccccc")!.DiskMb);
        Assert.Equal(SessionDatabase.CurrentVersion, database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version";
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }));
    }

    private static SessionRecord Session(string id) => new(
        id, null, "docker", SessionStatus.Running, $"/data/sessions/{id}/workspace", "/workspace", "/workspace",
        new Dictionary<string, string> { ["PATH"] = "/bin" }, Created, Created, null, null);

    public void Dispose()
    {
        _scratch.Dispose();
        if (Directory.Exists(_v2Directory))
        {
            Directory.Delete(_v2Directory, recursive: true);
        }
    }
}
