using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class AuditLogTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void TheStoreRunsOnSqlite353OrNewerInWalMode()
    {
        // Given a fresh store
        using var scratch = new ScratchDatabase();

        // When it is asked for its engine and journal
        var (version, journal) = scratch.Database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT sqlite_version(), (SELECT journal_mode FROM pragma_journal_mode)";
            using var reader = command.ExecuteReader();
            reader.Read();
            return (Version.Parse(reader.GetString(0)), reader.GetString(1));
        });

        // Then it is the bundled SQLite of SQLitePCLRaw 3 (3.53), not an older system or bundle copy, in WAL mode
        Assert.True(version >= new Version(3, 53), $"SQLite {version}");
        Assert.Equal("wal", journal);
    }

    [Fact]
    public void AppendedEventsGetConsecutiveSequenceNumbersAndAChain()
    {
        // Given an empty log
        var log = new AuditLog(_scratch.Database);
        Assert.Equal(0, log.LastSeq());

        // When three events are appended
        var appended = Enumerable.Range(1, 3).Select(n => log.Append(HashChainTests.Entry(n))).ToList();

        // Then they are numbered 1..3, each pointing at the previous hash, and read back exactly as stored
        Assert.Equal([1L, 2L, 3L], appended.Select(e => e.Seq));
        Assert.Equal(HashChain.Genesis, appended[0].PrevHash);
        Assert.Equal(appended[0].Hash, appended[1].PrevHash);
        Assert.Equal(appended[1].Hash, appended[2].PrevHash);
        Assert.Equal(3, log.LastSeq());
        Assert.Equal(appended, log.ReadRange(1, 10));
        Assert.Equal((3L, (ChainBreak?)null), log.Verify());
    }

    [Fact]
    public void NullFieldsRoundTrip()
    {
        // Given a lifecycle event with no tool, client, arguments, error or output
        var log = new AuditLog(_scratch.Database);
        var entry = new AuditEntry(DateTimeOffset.UtcNow, null, AuditKinds.SessionLost, null, null, null, AuditOutcomes.Ok, null, null, 0, null);

        // When
        var appended = log.Append(entry);

        // Then
        var stored = Assert.Single(log.ReadRange(1, 10));
        Assert.Equal(appended, stored);
        Assert.Null(log.Verify().Break);
    }

    [Fact]
    public void ReadRangePagesInOrder()
    {
        // Given 25 events
        var log = new AuditLog(_scratch.Database);
        for (var n = 1; n <= 25; n++)
        {
            log.Append(HashChainTests.Entry(n));
        }

        // When read 10 at a time
        var pages = new List<IReadOnlyList<AuditEvent>>();
        for (long from = 1; ; from = pages[^1][^1].Seq + 1)
        {
            pages.Add(log.ReadRange(from, 10));
            if (pages[^1].Count < 10)
            {
                break;
            }
        }

        // Then
        Assert.Equal([10, 10, 5], pages.Select(p => p.Count));
        Assert.Equal(Enumerable.Range(1, 25).Select(n => (long)n), pages.SelectMany(p => p).Select(e => e.Seq));
        Assert.Empty(log.ReadRange(26, 10));
    }

    [Fact]
    public void ReadSessionFiltersBySessionStartAndTool()
    {
        // Given events of two sessions and several tools
        var log = new AuditLog(_scratch.Database);
        log.Append(HashChainTests.Entry(1) with { SessionId = "s-aaaaaaaa", Tool = "session_exec" });
        log.Append(HashChainTests.Entry(2) with { SessionId = "s-bbbbbbbb", Tool = "session_exec" });
        log.Append(HashChainTests.Entry(3) with { SessionId = "s-aaaaaaaa", Tool = "session_read_file" });
        log.Append(HashChainTests.Entry(4) with { SessionId = "s-aaaaaaaa", Tool = "session_exec" });
        log.Append(HashChainTests.Entry(5) with { SessionId = "s-aaaaaaaa", Tool = null, Kind = AuditKinds.SessionDestroyed });

        // When / Then
        Assert.Equal([1L, 3L, 4L, 5L], log.ReadSession("s-aaaaaaaa", 0, 100).Select(e => e.Seq));
        Assert.Equal([3L, 4L], log.ReadSession("s-aaaaaaaa", 2, 2).Select(e => e.Seq));
        Assert.Equal([1L, 4L], log.ReadSession("s-aaaaaaaa", 0, 100, ["session_exec"]).Select(e => e.Seq));
        Assert.Equal([1L, 3L, 4L], log.ReadSession("s-aaaaaaaa", 0, 100, ["session_exec", "session_read_file"]).Select(e => e.Seq));
        Assert.Empty(log.ReadSession("s-cccccccc", 0, 100));
    }

    [Fact]
    public void ReadLastReturnsTheNewestEventsOldestFirstOptionallyOfOneSession()
    {
        // Given events of two sessions
        var log = new AuditLog(_scratch.Database);
        foreach (var (n, session) in new[] { (1, "s-aaaaaaaa"), (2, "s-bbbbbbbb"), (3, "s-aaaaaaaa"), (4, "s-bbbbbbbb"), (5, "s-aaaaaaaa") })
        {
            log.Append(HashChainTests.Entry(n) with { SessionId = session });
        }

        // When / Then
        Assert.Equal([4L, 5L], log.ReadLast(2).Select(e => e.Seq));
        Assert.Equal([3L, 5L], log.ReadLast(2, "s-aaaaaaaa").Select(e => e.Seq));
        Assert.Equal([2L, 4L], log.ReadLast(10, "s-bbbbbbbb").Select(e => e.Seq));
        Assert.Empty(log.ReadLast(10, "s-cccccccc"));
    }

    [Fact]
    public void TwoProcessesAppendingConcurrentlyKeepOneGaplessChain()
    {
        // Given two independent connections to one file, as two server processes have
        var first = new AuditLog(_scratch.Database);
        var second = new AuditLog(_scratch.OpenAnother());

        // When both append from many threads at once
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n => (n % 2 == 0 ? first : second).Append(HashChainTests.Entry(n)));

        // Then every event got its own number and the chain holds
        Assert.Equal(200, first.LastSeq());
        Assert.Equal((200L, (ChainBreak?)null), second.Verify());
    }

    [Fact]
    public void VerifyReportsATamperedRowAndAGapThroughTheStore()
    {
        // Given a log whose event 2 is changed in the file, behind the store's back
        var log = new AuditLog(_scratch.Database);
        for (var n = 1; n <= 4; n++)
        {
            log.Append(HashChainTests.Entry(n));
        }
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_update; UPDATE events SET error = 'inserted' WHERE seq = 2;");

        // When / Then
        var (_, broken) = log.Verify();
        Assert.Equal(2, broken?.Seq);

        // And deleting event 3 (with the other trigger dropped) is reported as a gap, after the altered row
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_delete; UPDATE events SET error = NULL WHERE seq = 2; DELETE FROM events WHERE seq = 3;");
        var (_, gap) = log.Verify();
        Assert.Equal(4, gap?.Seq);
        Assert.Contains("missing", gap!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyWalksALogLongerThanOnePage()
    {
        // Given more events than one verification page holds
        var log = new AuditLog(_scratch.Database);
        for (var n = 1; n <= 2500; n++)
        {
            log.Append(HashChainTests.Entry(n));
        }

        // When / Then
        Assert.Equal((2500L, (ChainBreak?)null), log.Verify());
    }

    [Theory]
    [InlineData("UPDATE events SET outcome = 'error' WHERE seq = 1")]
    [InlineData("UPDATE events SET hash = 'x'")]
    [InlineData("DELETE FROM events WHERE seq = 1")]
    [InlineData("DELETE FROM events")]
    public void TheSchemaRefusesToChangeOrRemoveEvents(string sql)
    {
        // Given a log with an event
        var log = new AuditLog(_scratch.Database);
        var appended = log.Append(HashChainTests.Entry(1));

        // When
        var refused = Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw(sql));

        // Then
        Assert.Contains("append-only", refused.Message, StringComparison.Ordinal);
        Assert.Equal([appended], log.ReadRange(1, 10));
    }

    [Fact]
    public void TheLogSurvivesReopening()
    {
        // Given events written through one connection, which is then closed
        var log = new AuditLog(_scratch.Database);
        var appended = log.Append(HashChainTests.Entry(1));

        // When the file is opened again and appended to
        var reopened = new AuditLog(_scratch.OpenAnother());
        var next = reopened.Append(HashChainTests.Entry(2));

        // Then the chain continues from the stored tip
        Assert.Equal(2, next.Seq);
        Assert.Equal(appended.Hash, next.PrevHash);
    }

    public void Dispose() => _scratch.Dispose();
}
