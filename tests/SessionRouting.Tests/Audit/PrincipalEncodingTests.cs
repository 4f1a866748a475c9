using System.Security.Cryptography;
using System.Text.Json;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Tests.Audit;

/// <summary>
/// Events gained a principal in schema 3. Events written before it (and events without one) must hash exactly as
/// before, or every old log would stop verifying; a principal must be covered by the hash, or it could be forged.
/// </summary>
public sealed class PrincipalEncodingTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void AnEventWithoutAPrincipalHashesExactlyAsBeforePrincipalsExisted()
    {
        // Given an event as version 1 wrote it
        var entry = HashChainTests.Entry(1);

        // When / Then
        Assert.Equal(VersionOneHash(1, HashChain.Genesis, entry), HashChain.Compute(1, HashChain.Genesis, entry));
    }

    [Fact]
    public void APrincipalIsCoveredByTheHash()
    {
        // Given one event with three principals, and none
        var entry = HashChainTests.Entry(1);
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
        WriteVersionTwoDatabase(events: 3);

        // When this version opens it and appends an event with a principal
        var database = _scratch.OpenAnother();
        var log = new AuditLog(database);
        var before = log.Verify();
        var appended = log.Append(HashChainTests.Entry(4) with { Principal = "laptop" });

        // Then the old events verify, the new one extends them, and the old session is the local user's
        Assert.Equal((3L, (ChainBreak?)null), before);
        Assert.Equal(4, appended.Seq);
        Assert.Equal((4L, (ChainBreak?)null), log.Verify());
        Assert.Equal([null, null, null, "laptop"], log.ReadRange(1, 10).Select(e => e.Entry.Principal));
        Assert.Equal("local", new SessionRegistry(database).Find("s-oldoldol")?.Owner);
        Assert.Equal(3L, UserVersion(database));
    }

    [Fact]
    public void GivingAnOldEventAPrincipalBreaksTheChainThere()
    {
        // Given a migrated version-2 log
        WriteVersionTwoDatabase(events: 3);
        var log = new AuditLog(_scratch.OpenAnother());

        // When someone with the file claims event 2 for a token
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_update; UPDATE events SET principal = 'laptop' WHERE seq = 2;");

        // Then
        Assert.Equal(2, log.Verify().Break?.Seq);
    }

    [Fact]
    public void ClearingOrChangingANewEventsPrincipalBreaksTheChainThere()
    {
        // Given events with principals
        var log = new AuditLog(_scratch.Database);
        log.Append(HashChainTests.Entry(1) with { Principal = "local" });
        log.Append(HashChainTests.Entry(2) with { Principal = "laptop" });
        log.Append(HashChainTests.Entry(3) with { Principal = "laptop" });
        Assert.Null(log.Verify().Break);

        // When one is cleared and another changed
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_update; UPDATE events SET principal = NULL WHERE seq = 2; UPDATE events SET principal = 'ops' WHERE seq = 3;");

        // Then the first altered event is reported
        var chainBreak = log.Verify().Break;
        Assert.Equal(2, chainBreak?.Seq);
        Assert.Contains("altered", chainBreak!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void APrincipalIsStoredAndReadBackWithItsEvent()
    {
        // Given
        var log = new AuditLog(_scratch.Database);

        // When
        log.Append(HashChainTests.Entry(1) with { Principal = "ci" });
        var id = log.BeginCall(DateTimeOffset.UtcNow, null, "session_exec", null, null, "ci");

        // Then
        Assert.Equal("ci", Assert.Single(log.ReadRange(1, 10)).Entry.Principal);
        var call = Assert.Single(log.InterruptedCalls());
        Assert.Equal((id, "ci"), (call.Id, call.Principal));
    }

    /// <summary>
    /// The version-1 encoding, copied here on purpose: if the production encoder of events without a principal ever
    /// changes, this copy does not, and the tests above fail.
    /// </summary>
    private static string VersionOneHash(long seq, string prevHash, AuditEntry entry)
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

    /// <summary>Replaces the scratch file with one as version 2 wrote it: its schema, its rows, its hashes.</summary>
    private void WriteVersionTwoDatabase(int events)
    {
        _scratch.Database.Dispose();
        foreach (var file in Directory.GetFiles(_scratch.Directory))
        {
            File.Delete(file);
        }
        var prev = HashChain.Genesis;
        var inserts = new List<string>();
        for (var seq = 1; seq <= events; seq++)
        {
            var e = HashChainTests.Entry(seq);
            var hash = VersionOneHash(seq, prev, e);
            inserts.Add($"""
                INSERT INTO events (seq, ts, session_id, kind, tool, client, arguments, outcome, error, summary, duration_ms, output, prev_hash, hash)
                VALUES ({seq}, '{HashChain.FormatTime(e.Time)}', '{e.SessionId}', '{e.Kind}', '{e.Tool}', '{e.Client}', '{e.Arguments}', '{e.Outcome}', NULL, '{e.Summary}', {e.DurationMs}, '{e.Output!.Replace("'", "''", StringComparison.Ordinal)}', '{prev}', '{hash}');
                """);
            prev = hash;
        }
        _scratch.ExecuteRaw($"""
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
            INSERT INTO sessions VALUES ('s-oldoldol', NULL, 'local', 'running', NULL, '/w', '/w', '/w', '{EmptyJson}', '2025-01-01T00:00:00.0000000Z', '2025-01-01T00:00:00.0000000Z', NULL);
            {string.Concat(inserts)}
            INSERT INTO event_sequence (id, last_seq) VALUES (1, {events});
            PRAGMA user_version=2;
            """);
    }

    private const string EmptyJson = "{}";

    private static long UserVersion(Storage.SessionDatabase database) => database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return (long)command.ExecuteScalar()!;
    });

    public void Dispose() => _scratch.Dispose();
}
