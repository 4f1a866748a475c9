using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Storage;
using SessionMcp.Tests.Shared;

namespace SessionMcp.SessionRouting.Tests.Audit;

/// <summary>
/// Events gained a principal in schema 3. Events written before it (and events without one) must hash exactly as
/// before, or every old log would stop verifying; a principal must be covered by the hash, or it could be forged.
/// </summary>
public sealed class PrincipalEncodingTests : IDisposable
{
    private readonly TempPath _dir = new();

    [Fact]
    public void AnEventWithoutAPrincipalHashesExactlyAsBeforePrincipalsExisted()
    {
        // Given an event as version 1 wrote it
        var entry = VersionTwoDatabase.Entry(1);

        // When / Then
        Assert.Equal(VersionTwoDatabase.VersionOneHash(1, HashChain.Genesis, entry), HashChain.Compute(1, HashChain.Genesis, entry));
    }

    [Fact]
    public void APrincipalIsCoveredByTheHash()
    {
        // Given one event with three principals, and none
        var entry = VersionTwoDatabase.Entry(1);
        string[] hashes =
        [
            HashChain.Compute(1, HashChain.Genesis, entry),
            HashChain.Compute(1, HashChain.Genesis, entry with { Principal = "local" }),
            HashChain.Compute(1, HashChain.Genesis, entry with { Principal = "laptop" }),
            HashChain.Compute(1, HashChain.Genesis, entry with { Principal = "" }),
        ];

        // When / Then every one hashes differently
        Assert.Equal(hashes.Length, hashes.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void ADatabaseOfSchemaVersion2IsMigratedAndItsOldEventsKeepVerifying()
    {
        // Given a database exactly as version 2 left it: three events hashed the old way, a session without an owner
        VersionTwoDatabase.Write(_dir.Database, events: 3);

        // When this version opens it and appends an event with a principal
        using var database = new SessionDatabase(_dir.Database);
        var log = new AuditLog(database);
        var before = log.Verify();
        var appended = log.Append(VersionTwoDatabase.Entry(4) with { Principal = "laptop" });

        // Then the old events verify, the new one extends them, and the old session is the local user's
        Assert.Equal((3L, (ChainBreak?)null), before);
        Assert.Equal(4, appended.Seq);
        Assert.Equal((4L, (ChainBreak?)null), log.Verify());
        Assert.Equal([null, null, null, "laptop"], log.ReadRange(1, 10).Select(e => e.Entry.Principal));
        Assert.Equal("local", new SessionRegistry(database).Find(VersionTwoDatabase.SessionId)?.Owner);
        Assert.Equal(SessionDatabase.CurrentVersion, UserVersion(database)); // every migration ran
    }

    [Fact]
    public void GivingAnOldEventAPrincipalBreaksTheChainThere()
    {
        // Given a migrated version-2 log
        VersionTwoDatabase.Write(_dir.Database, events: 3);
        using var database = new SessionDatabase(_dir.Database);
        var log = new AuditLog(database);

        // When someone with the file claims event 2 for a token
        Raw(database, "DROP TRIGGER events_are_append_only_update; UPDATE events SET principal = 'laptop' WHERE seq = 2;");

        // Then
        Assert.Equal(2, log.Verify().Break?.Seq);
    }

    [Fact]
    public void ClearingOrChangingANewEventsPrincipalBreaksTheChainThere()
    {
        // Given events with principals
        using var database = new SessionDatabase(_dir.Database);
        var log = new AuditLog(database);
        log.Append(VersionTwoDatabase.Entry(1) with { Principal = "local" });
        log.Append(VersionTwoDatabase.Entry(2) with { Principal = "laptop" });
        log.Append(VersionTwoDatabase.Entry(3) with { Principal = "laptop" });
        Assert.Null(log.Verify().Break);

        // When one is cleared and another changed
        Raw(database, "DROP TRIGGER events_are_append_only_update; UPDATE events SET principal = NULL WHERE seq = 2; UPDATE events SET principal = 'ops' WHERE seq = 3;");

        // Then the first altered event is reported
        var chainBreak = log.Verify().Break;
        Assert.Equal(2, chainBreak?.Seq);
        Assert.Contains("altered", chainBreak!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void APrincipalIsStoredAndReadBackWithItsEventAndItsCallInFlight()
    {
        // Given
        using var database = new SessionDatabase(_dir.Database);
        var log = new AuditLog(database);

        // When
        log.Append(VersionTwoDatabase.Entry(1) with { Principal = "ci" });
        var id = log.BeginCall(DateTimeOffset.UtcNow, null, "session_exec", null, null, "ci");

        // Then
        Assert.Equal("ci", Assert.Single(log.ReadRange(1, 10)).Entry.Principal);
        var call = Assert.Single(log.InterruptedCalls());
        Assert.Equal((id, "ci"), (call.Id, call.Principal));
    }

    private static void Raw(SessionDatabase database, string sql) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    });

    private static long UserVersion(SessionDatabase database) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return (long)command.ExecuteScalar()!;
    });

    public void Dispose() => _dir.Dispose();

    /// <summary>A fresh directory for one database file that does not exist yet.</summary>
    private sealed class TempPath : IDisposable
    {
        private readonly string _directory = Path.Combine(Path.GetTempPath(), "session-mcp-tests", $"v2-{Guid.NewGuid():N}");

        public string Database => Path.Combine(_directory, "session-mcp.db");

        public void Dispose()
        {
            if (Directory.Exists(_directory))
            {
                Directory.Delete(_directory, recursive: true);
            }
        }
    }
}
