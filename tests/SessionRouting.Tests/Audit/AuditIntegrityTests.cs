using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

/// <summary>The log's promises against someone with write access to the file: numbers are never reused, a deleted tail
/// is found, a corrupt row is a reported break and never a crash.</summary>
public sealed class AuditIntegrityTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void DeletedNewestEventsNeverHaveTheirNumbersReused()
    {
        // Given five events, the newest two deleted with the triggers dropped
        var log = Log(5);
        DeleteTail(4);

        // When another event is appended
        var next = log.Append(HashChainTests.Entry(6));

        // Then it gets a number above every one ever issued, and verify names the gap it leaves
        Assert.Equal(6, next.Seq);
        var (_, chainBreak) = log.Verify();
        Assert.Equal(6, chainBreak?.Seq);
        Assert.Contains("events 4..5 are missing", chainBreak!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyReportsADeletedTailBeforeAnythingIsAppended()
    {
        // Given five events, the newest two deleted
        var log = Log(5);
        DeleteTail(4);

        // When / Then the chain of events 1..3 holds, but numbers 4..5 were issued
        var (count, chainBreak) = log.Verify();
        Assert.Equal(3, count);
        Assert.Equal(4, chainBreak?.Seq);
        Assert.Contains("events 4..5 were issued but are missing", chainBreak!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ADatabaseOfSchemaVersion1IsMigratedAndKeepsVerifying()
    {
        // Given a log written before the sequence counter existed
        Log(3);
        _scratch.ExecuteRaw("DROP TABLE event_sequence; PRAGMA user_version=1;");

        // When it is opened by this version
        var reopened = new AuditLog(_scratch.OpenAnother());

        // Then every old event verifies, and numbering continues from the newest
        Assert.Equal((3L, (ChainBreak?)null), reopened.Verify());
        Assert.Equal(4, reopened.Append(HashChainTests.Entry(4)).Seq);
        Assert.Null(reopened.Verify().Break);
        var version = _scratch.Database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version";
            return (long)command.ExecuteScalar()!;
        });
        Assert.Equal(SessionMcp.SessionRouting.Storage.SessionDatabase.CurrentVersion, version); // through every migration since
    }

    [Fact]
    public void TheSequenceCounterCannotBeMovedBack()
    {
        // Given a log
        Log(3);

        // When / Then SQL may not lower or delete the counter
        Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => _scratch.ExecuteRaw("UPDATE event_sequence SET last_seq = 1"));
        Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => _scratch.ExecuteRaw("DELETE FROM event_sequence"));
    }

    [Fact]
    public void CheckHeadAcceptsTheRecordedHeadAndALogThatGrewPastIt()
    {
        // Given a head recorded at event 3, and more events since
        var log = Log(3);
        var head = log.Head();
        log.Append(HashChainTests.Entry(4));

        // When / Then
        Assert.Equal(3, head.Seq);
        Assert.Null(log.CheckHead(head.Seq, head.Hash));
        Assert.Null(log.CheckHead(head.Seq, null));
        Assert.Null(log.CheckHead(null, head.Hash));
        Assert.Null(log.CheckHead(0, null));
    }

    [Fact]
    public void CheckHeadNamesADeletedTailAndARewrittenLog()
    {
        // Given a head recorded at event 5, then the newest two events deleted
        var log = Log(5);
        var head = log.Head();
        DeleteTail(4);

        // When / Then
        Assert.Contains("the log ends at event 3: events 4..5 are missing", log.CheckHead(head.Seq, head.Hash), StringComparison.Ordinal);
        Assert.Contains("the log ends at event 3", log.CheckHead(5, null), StringComparison.Ordinal);
        Assert.Contains("no event has the expected hash", log.CheckHead(null, head.Hash), StringComparison.Ordinal);
        var other = new string('a', 64);
        Assert.Contains("the log was rewritten up to event 2", log.CheckHead(2, other), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hash = 'not-hex'", "hash is not a SHA-256 hex digest ('not-hex')")]
    [InlineData("ts = 'garbage'", "ts is not a timestamp ('garbage')")]
    [InlineData("kind = x'01ff'", "kind is not text (a 2-byte blob)")]
    [InlineData("duration_ms = 'slow'", "duration_ms is not an integer ('slow')")]
    public void ACorruptFieldIsABreakAtItsEventNotACrash(string change, string reported)
    {
        // Given event 2 of 3 changed behind the store's back
        var log = Log(3);
        _scratch.ExecuteRaw($"DROP TRIGGER events_are_append_only_update; UPDATE events SET {change} WHERE seq = 2;");

        // When it is read, rendered and verified
        var events = log.ReadRange(1, 10);
        var transcript = Transcript.Render(events, OutputDetail.Full);
        var lines = events.Select(Transcript.RenderLine).ToList();
        var (_, chainBreak) = log.Verify();

        // Then it reads with placeholders and the problem named, and verify breaks there
        Assert.Equal(3, events.Count);
        Assert.Contains(reported, events[1].Corruption, StringComparison.Ordinal);
        Assert.Contains("#2 ", transcript, StringComparison.Ordinal);
        Assert.Equal(3, lines.Count);
        Assert.Equal(2, chainBreak?.Seq);
        Assert.Contains(reported, chainBreak!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ANullInARequiredFieldIsABreakNotACrash()
    {
        // Given an events table rebuilt without its NOT NULL constraints, and a NULL outcome and hash in event 2
        var log = Log(3);
        _scratch.ExecuteRaw("""
            DROP TRIGGER events_are_append_only_update;
            DROP TRIGGER events_are_append_only_delete;
            CREATE TABLE loose AS SELECT * FROM events;
            DROP TABLE events;
            ALTER TABLE loose RENAME TO events;
            UPDATE events SET outcome = NULL, hash = NULL WHERE seq = 2;
            """);

        // When / Then
        var events = log.ReadRange(1, 10);
        Assert.Contains("outcome is NULL", events[1].Corruption, StringComparison.Ordinal);
        Assert.Contains("hash is NULL", events[1].Corruption, StringComparison.Ordinal);
        Assert.Equal(StoredRow.Unreadable, events[1].Entry.Outcome);
        Assert.Equal(2, log.Verify().Break?.Seq);
        Assert.NotEmpty(Transcript.Render(events, OutputDetail.Full));
    }

    [Fact]
    public void InvalidJsonWithARecomputedHashIsABreakAndRendersRaw()
    {
        // Given the newest event's arguments replaced by text that is not JSON, its hash recomputed to match
        var log = Log(3);
        var last = log.ReadRange(3, 1)[0];
        var forged = last.Entry with { Arguments = "{not json" };
        var hash = HashChain.Compute(last with { Entry = forged });
        _scratch.ExecuteRaw($"DROP TRIGGER events_are_append_only_update; UPDATE events SET arguments = '{{not json', hash = '{hash}' WHERE seq = 3;");

        // When
        var events = log.ReadRange(1, 10);
        var (_, chainBreak) = log.Verify();

        // Then verify names the field, and readers show the raw text
        Assert.Equal(3, chainBreak?.Seq);
        Assert.Contains("arguments is not valid JSON", chainBreak!.Reason, StringComparison.Ordinal);
        Assert.Contains("{not json", Transcript.RenderLine(events[2]) + Transcript.Render(events, OutputDetail.Full), StringComparison.Ordinal);
        Assert.Equal("{not json", Transcript.Parse(events[2].Entry.Arguments)!.GetValue<string>());
    }

    private AuditLog Log(int count)
    {
        var log = new AuditLog(_scratch.Database);
        for (var n = 1; n <= count; n++)
        {
            log.Append(HashChainTests.Entry(n));
        }
        return log;
    }

    private void DeleteTail(long from) =>
        _scratch.ExecuteRaw($"DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq >= {from};");

    public void Dispose() => _scratch.Dispose();
}
