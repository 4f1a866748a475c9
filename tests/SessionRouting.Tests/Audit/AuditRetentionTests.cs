using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Storage;
using SessionMcp.Tests.Shared;

namespace SessionMcp.SessionRouting.Tests.Audit;

/// <summary>
/// Retention removes events and outputs without weakening the chain: verify crosses what was pruned through checkpoints,
/// and anything removed or altered outside a checkpoint — or a checkpoint altered — is still reported.
/// </summary>
public sealed class AuditRetentionTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly ScratchDatabase _scratch = new();
    private readonly AuditLog _log;
    private readonly AuditRetention _retention;

    public AuditRetentionTests()
    {
        _log = new AuditLog(_scratch.Database);
        _retention = new AuditRetention(_scratch.Database, _log, TimeProvider.System);
    }

    [Fact]
    public void PruningByAgeThenVerifyCrossesTheCheckpoint()
    {
        // Given six events 40 days old and four from today
        AppendAged(6, TimeSpan.FromDays(40));
        AppendAged(4, TimeSpan.Zero);

        // When events older than 30 days are pruned, and more events come after
        var report = _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);
        AppendAged(2, TimeSpan.Zero);

        // Then the six are gone under one checkpoint, and the whole chain verifies across them
        Assert.Equal((6L, 0L, 1L, 6L), (report.Events, report.Outputs, report.FirstSeq, report.LastSeq));
        Assert.Equal(11, report.EventSeq);
        Assert.Equal([7L, 8, 9, 10, 11, 12, 13], _log.ReadRange(1, 100).Select(e => e.Seq));
        var verified = _log.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((7L, 6L, 1, 1), (verified.Checked, verified.PrunedEvents, verified.CheckpointsCrossed, verified.Checkpoints));
        var pruned = _log.ReadRange(11, 1)[0];
        Assert.Equal((AuditKinds.AuditPruned, "local"), (pruned.Entry.Kind, pruned.Entry.Principal));
        Assert.Contains("\"older_than_seconds\":2592000", pruned.Entry.Arguments, StringComparison.Ordinal);
    }

    [Fact]
    public void ADryRunReportsAndRemovesNothing()
    {
        // Given old events
        AppendAged(3, TimeSpan.FromDays(40));

        // When
        var report = _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(1)), "local", dryRun: true);

        // Then
        Assert.Equal((3L, (long?)null), (report.Events, report.Checkpoint));
        Assert.Equal(3, _log.ReadRange(1, 100).Count);
        Assert.Empty(_log.ReadCheckpoints());
    }

    [Fact]
    public void ABrokenChainIsNotPrunedSoTheEvidenceStays()
    {
        // Given old events, one of them altered behind the store's back
        AppendAged(4, TimeSpan.FromDays(40));
        _scratch.ExecuteRaw("""DROP TRIGGER events_are_append_only_update; UPDATE events SET arguments = '{"command":"rm -rf /"}' WHERE seq = 2;""");

        // When / Then pruning them is refused and nothing changes
        var refused = Assert.Throws<AuditChainBrokenException>(() => _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false));
        Assert.Contains("broken at event 2", refused.Message, StringComparison.Ordinal);
        Assert.Equal(4, _log.ReadRange(1, 100).Count);
        Assert.Empty(_log.ReadCheckpoints());
    }

    [Fact]
    public void ADeletionOutsidePruningIsStillDetected()
    {
        // Given a pruned log
        AppendAged(4, TimeSpan.FromDays(40));
        AppendAged(4, TimeSpan.Zero);
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);

        // When SQL tries to delete a kept event, and then someone drops the trigger and does
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("DELETE FROM events WHERE seq = 6"));
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq = 6;");

        // Then verify reports the gap no checkpoint explains
        var verified = _log.VerifyAll();
        Assert.Equal(7, verified.Break?.Seq);
        Assert.Contains("events 6..6 are missing and no checkpoint explains them", verified.Break!.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UPDATE pruned_runs SET last_hash = '" + OtherHash + "'", "its prev_hash does not match")]
    [InlineData("UPDATE pruned_runs SET first_prev_hash = '" + OtherHash + "'", "do not link")]
    [InlineData("UPDATE checkpoints SET count = 2", "its records do not match it")]
    [InlineData("UPDATE checkpoints SET last_hash = '" + OtherHash + "'", "is not the hash of its last pruned event")]
    [InlineData("DELETE FROM pruned_runs", "no checkpoint explains them")]
    [InlineData("DELETE FROM checkpoints", "which is not there")]
    [InlineData("UPDATE pruned_runs SET last_seq = 4", "is still in the log")]
    public void TamperingACheckpointIsDetected(string tampering, string reported)
    {
        // Given events 1..3 pruned under a checkpoint, events after them
        AppendAged(3, TimeSpan.FromDays(40));
        AppendAged(3, TimeSpan.Zero);
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);
        Assert.Null(_log.VerifyAll().Break);

        // When the checkpoint's records are changed behind the store's back
        _scratch.ExecuteRaw($"""
            PRAGMA foreign_keys=OFF;
            DROP TRIGGER checkpoints_are_append_only_update; DROP TRIGGER checkpoints_are_append_only_delete;
            DROP TRIGGER pruned_runs_are_append_only_update; DROP TRIGGER pruned_runs_are_append_only_delete;
            {tampering};
            """);

        // Then
        var verified = _log.VerifyAll();
        Assert.NotNull(verified.Break);
        Assert.Contains(reported, verified.Break.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ACheckpointRewrittenConsistentlyStillDiffersFromTheEventThatRecordedIt()
    {
        // Given events 1..3 pruned, then event 4 deleted by hand
        AppendAged(3, TimeSpan.FromDays(40));
        AppendAged(3, TimeSpan.Zero);
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);
        var fourth = _log.ReadRange(4, 1)[0];

        // When the run and the checkpoint are stretched over event 4 with every digest recomputed
        var run = new PrunedRun(1, 1, 4, HashChain.Genesis, fourth.Hash);
        _scratch.ExecuteRaw($"""
            DROP TRIGGER checkpoints_are_append_only_update; DROP TRIGGER pruned_runs_are_append_only_update; DROP TRIGGER events_are_append_only_delete;
            UPDATE pruned_runs SET last_seq = 4, last_hash = '{fourth.Hash}';
            UPDATE checkpoints SET count = 4, last_seq = 4, last_hash = '{fourth.Hash}', digest = '{Checkpoints.RunsDigest([run])}';
            DELETE FROM events WHERE seq = 4;
            """);

        // Then the chain crosses, but the checkpoint no longer matches its event
        var verified = _log.VerifyAll();
        Assert.Equal(7, verified.Break?.Seq);
        Assert.Contains("does not match what event 7 recorded", verified.Break!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void PruningOutputsKeepsTheEventsVerifyingAndATamperedRemainingOutputIsDetected()
    {
        // Given four old events with outputs and two new ones
        AppendAged(4, TimeSpan.FromDays(40));
        AppendAged(2, TimeSpan.Zero);

        // When the old outputs are pruned
        var report = _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30), OutputsOnly: true), "local", dryRun: false);

        // Then the events stay, without outputs, and verify passes and counts them
        Assert.Equal((0L, 4L, 0L), (report.Events, report.Outputs, report.OldOutputsKept));
        var events = _log.ReadRange(1, 100);
        Assert.Equal(7, events.Count);
        Assert.All(events.Take(4), e => Assert.True(e.OutputPruned));
        Assert.All(events.Skip(4).Take(2), e => Assert.False(e.OutputPruned));
        Assert.Contains(Transcript.PrunedOutputNote, Transcript.Render(events.Take(1), OutputDetail.Truncated), StringComparison.Ordinal);
        var verified = _log.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((7L, 4L, 0L), (verified.Checked, verified.OutputsPruned, verified.PrunedEvents));

        // When a remaining output is altered behind the store's back
        _scratch.ExecuteRaw("""DROP TRIGGER events_are_append_only_update; UPDATE events SET output = '{"stdout":"forged\n"}' WHERE seq = 5;""");

        // Then
        Assert.Equal(5, _log.VerifyAll().Break?.Seq);
        Assert.Contains("its output does not match its output_digest", _log.VerifyAll().Break!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOutputDroppedOutsideRetentionIsDetected()
    {
        // Given events with outputs
        AppendAged(3, TimeSpan.Zero);

        // When SQL tries to drop an output, and then someone drops the trigger and does
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("UPDATE events SET output = NULL WHERE seq = 2"));
        _scratch.ExecuteRaw("DROP TRIGGER events_are_append_only_update; UPDATE events SET output = NULL WHERE seq = 2;");

        // Then
        var verified = _log.VerifyAll();
        Assert.Equal(2, verified.Break?.Seq);
        Assert.Contains("no checkpoint says it was pruned", verified.Break!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ThePrunedOutputsRecordAllowsNothingButDroppingThatOutput()
    {
        // Given session A's outputs (events 1 and 3) pruned
        AppendAged(3, TimeSpan.FromDays(40));
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30), SessionId: "s-aaaaaaaa", OutputsOnly: true), "local", dryRun: false);

        // When / Then its other fields still cannot change
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("UPDATE events SET summary = '{}' WHERE seq = 1"));
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("UPDATE events SET output = '{}' WHERE seq = 1"));
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("UPDATE events SET output = NULL, summary = '{}' WHERE seq = 1"));
        Assert.Null(_log.VerifyAll().Break);
    }

    [Fact]
    public void PruningBySizeKeepsTheNewestEvents()
    {
        // Given ten events of about 1.3 kilobytes each (a kilobyte of output and the metadata)
        for (var n = 1; n <= 10; n++)
        {
            _log.Append(Entry(n, Now, "s-aaaaaaaa", new string('x', 1000)));
        }

        // When the log may keep 4,500 bytes
        var report = _retention.Prune(new RetentionPolicy(MaxBytes: 4500), "local", dryRun: false);

        // Then the newest three stay (the pruning's own event after them), and the chain verifies
        Assert.Equal(7, report.Events);
        Assert.Equal([8L, 9, 10, 11], _log.ReadRange(1, 100).Select(e => e.Seq));
        Assert.Null(_log.VerifyAll().Break);
    }

    [Fact]
    public void PruningOneSessionLeavesTheOthersIntactAndVerifying()
    {
        // Given two sessions' events interleaved, session A's the newest
        for (var n = 1; n <= 10; n++)
        {
            _log.Append(Entry(n, Now, n % 2 == 0 ? "s-aaaaaaaa" : "s-bbbbbbbb", "out"));
        }

        // When every event of session A is pruned (five runs in the middle of the chain, the newest event among them)
        var report = _retention.Prune(new RetentionPolicy(MaxBytes: 0, SessionId: "s-aaaaaaaa"), "local", dryRun: false);
        _log.Append(Entry(12, Now, "s-bbbbbbbb", "after"));

        // Then session B is untouched and the chain verifies across every hole
        Assert.Equal(5, report.Events);
        Assert.Equal(5, _log.ReadSession("s-bbbbbbbb", 0, 100).Count - 1);
        Assert.Equal([AuditKinds.AuditPruned], _log.ReadSession("s-aaaaaaaa", 0, 100).Select(e => e.Entry.Kind));
        var verified = _log.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((7L, 5L, 1), (verified.Checked, verified.PrunedEvents, verified.CheckpointsCrossed));
    }

    [Fact]
    public void PruningBySizePerSessionKeepsEachSessionsNewest()
    {
        // Given three events of about 1.3 kilobytes in each of two sessions, and one event of neither
        for (var n = 1; n <= 6; n++)
        {
            _log.Append(Entry(n, Now, n <= 3 ? "s-aaaaaaaa" : "s-bbbbbbbb", new string('x', 1000)));
        }
        _log.Append(Entry(7, Now, null, new string('x', 1000)));

        // When each session may keep 3,000 bytes
        _retention.Prune(new RetentionPolicy(MaxSessionBytes: 3000), "local", dryRun: false);

        // Then each keeps its newest two, the event of no session stays, and the chain verifies
        Assert.Equal([2L, 3, 5, 6, 7, 8], _log.ReadRange(1, 100).Select(e => e.Seq));
        Assert.Null(_log.VerifyAll().Break);
    }

    [Fact]
    public void PruningTwiceCrossesBothCheckpointsAndNeverTakesTheirEvents()
    {
        // Given a log pruned once
        AppendAged(3, TimeSpan.FromDays(40));
        AppendAged(3, TimeSpan.FromDays(20));
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);

        // When everything older than ten days is pruned again
        var second = _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(10)), "local", dryRun: false);

        // Then the first pruning's event stays (it anchors its checkpoint), and both are crossed
        Assert.Equal(3, second.Events);
        Assert.Equal([7L, 8], _log.ReadRange(1, 100).Select(e => e.Seq));
        var verified = _log.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((6L, 2, 2), (verified.PrunedEvents, verified.CheckpointsCrossed, verified.Checkpoints));
    }

    [Fact]
    public void ALargePruningGoesInBatchesEachWithItsCheckpointAndTheChainCrossesThemAll()
    {
        // Given ten old events of two sessions, and one new
        AppendAged(10, TimeSpan.FromDays(40));
        AppendAged(1, TimeSpan.Zero);
        var retention = new AuditRetention(_scratch.Database, _log, TimeProvider.System) { BatchSize = 3 };

        // When the old events are pruned three at a time
        var report = retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);

        // Then four checkpoints, each anchored by its own event, and the chain crosses all of them
        Assert.Equal((10L, 1L, 4L, 15L), (report.Events, report.Checkpoint, report.LastCheckpoint, report.EventSeq));
        Assert.Equal([11L, 12, 13, 14, 15], _log.ReadRange(1, 100).Select(e => e.Seq));
        var verified = _log.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((10L, 4, 4), (verified.PrunedEvents, verified.CheckpointsCrossed, verified.Checkpoints));
    }

    [Fact]
    public void CheckHeadAcceptsAHeadRetentionPruned()
    {
        // Given a head recorded at event 4, then events 1..4 pruned
        AppendAged(4, TimeSpan.FromDays(40));
        var head = _log.Head();
        AppendAged(1, TimeSpan.Zero);
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);

        // When / Then the checkpoint still proves it; another hash at that number does not pass
        Assert.Null(_log.CheckHead(head.Seq, head.Hash));
        Assert.Null(_log.CheckHead(null, head.Hash));
        Assert.Contains("was pruned under checkpoint 1", _log.CheckHead(head.Seq, OtherHash), StringComparison.Ordinal);
    }

    [Fact]
    public void OldEventsLoseTheirOutputsOnlyWithThemselvesAndVerifyAcrossTheirPruning()
    {
        // Given a database exactly as schema 2 left it: its events hash their outputs verbatim
        var path = Path.Combine(_scratch.Directory, "v2", "session-mcp.db");
        VersionTwoDatabase.Write(path, events: 3);
        using var database = new SessionDatabase(path);
        var log = new AuditLog(database);
        var retention = new AuditRetention(database, log, TimeProvider.System);
        log.Append(Entry(4, Now, "s-aaaaaaaa", "new"));

        // When their outputs are pruned, then the events themselves
        var outputs = retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30), OutputsOnly: true), "local", dryRun: false);
        var events = retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);

        // Then the outputs stay until their events go, and the old and new encodings verify across the checkpoint
        Assert.Equal((0L, 3L), (outputs.Outputs, outputs.OldOutputsKept));
        Assert.Equal(3, events.Events);
        Assert.Equal([4L, 5], log.ReadRange(1, 100).Select(e => e.Seq));
        Assert.Null(log.VerifyAll().Break);
    }

    [Fact]
    public void NewEventsAreHashedWithTheOutputDigestAndOldOnesAsBefore()
    {
        // Given an event appended now
        var appended = _log.Append(Entry(1, Now, "s-aaaaaaaa", "out"));

        // When / Then it is stored with encoding 3, its output's digest, and a hash over that digest
        var stored = _log.ReadRange(1, 1)[0];
        Assert.Equal(HashChain.EncodingV3, stored.Encoding);
        Assert.Equal(HashChain.DigestOutput(stored.Entry.Output), stored.OutputDigest);
        Assert.Equal(HashChain.ComputeV3(1, HashChain.Genesis, stored.Entry, stored.OutputDigest), stored.Hash);
        Assert.Equal(appended.Hash, stored.Hash);
        Assert.NotEqual(HashChain.Compute(1, HashChain.Genesis, stored.Entry), stored.Hash);
    }

    [Fact]
    public void TheRetentionMigrationRunsAgainOnAFileWhoseVersionWasLoweredAndChangesNothing()
    {
        // Given a pruned log whose schema version was set back to 3 (restored, or written by hand)
        AppendAged(3, TimeSpan.FromDays(40));
        AppendAged(2, TimeSpan.Zero);
        _retention.Prune(new RetentionPolicy(OlderThan: TimeSpan.FromDays(30)), "local", dryRun: false);
        _scratch.ExecuteRaw("PRAGMA user_version=3;");

        // When it is opened again, and more is appended and pruned
        var reopened = new AuditLog(_scratch.OpenAnother());
        reopened.Append(Entry(9, Now, "s-aaaaaaaa", "again"));
        new AuditRetention(_scratch.Database, reopened, TimeProvider.System).Prune(new RetentionPolicy(MaxBytes: 0, SessionId: "s-bbbbbbbb"), "local", dryRun: false);

        // Then the migration ran without error, its triggers still guard the events, and everything verifies
        Assert.Throws<SqliteException>(() => _scratch.ExecuteRaw("DELETE FROM events WHERE seq = 4"));
        var verified = reopened.VerifyAll();
        Assert.Null(verified.Break);
        Assert.Equal((4L, 2), (verified.PrunedEvents, verified.Checkpoints));
    }

    [Theory]
    [InlineData("30d", 30 * 86400L)]
    [InlineData("12h", 12 * 3600L)]
    [InlineData("90m", 90 * 60L)]
    [InlineData("2w", 14 * 86400L)]
    [InlineData("0s", 0L)]
    public void AnAgeIsANumberAndAUnit(string text, long seconds)
    {
        Assert.True(RetentionPolicy.TryParseAge(text, out var age));
        Assert.Equal(seconds, (long)age.TotalSeconds);
    }

    [Theory]
    [InlineData("500", 500L)]
    [InlineData("10K", 10L << 10)]
    [InlineData("500MB", 500L << 20)]
    [InlineData("1G", 1L << 30)]
    [InlineData("2GiB", 2L << 30)]
    public void ASizeIsBytesOrANumberWithAUnit(string text, long bytes)
    {
        Assert.True(RetentionPolicy.TryParseSize(text, out var size));
        Assert.Equal(bytes, size);
    }

    [Theory]
    [InlineData("30")]
    [InlineData("d")]
    [InlineData("-1d")]
    [InlineData("1y")]
    [InlineData("99999999999999999d")]
    public void AnAgeWithoutAKnownUnitIsRefused(string text) => Assert.False(RetentionPolicy.TryParseAge(text, out _));

    [Theory]
    [InlineData("1X")]
    [InlineData("G")]
    [InlineData("1.5G")]
    [InlineData("99999999999T")]
    public void ASizeWithoutAKnownUnitIsRefused(string text) => Assert.False(RetentionPolicy.TryParseSize(text, out _));

    private const string OtherHash = "abababababababababababababababababababababababababababababababab";

    private void AppendAged(int count, TimeSpan age)
    {
        for (var i = 0; i < count; i++)
        {
            _log.Append(Entry(i, Now - age, i % 2 == 0 ? "s-aaaaaaaa" : "s-bbbbbbbb", $"line {i}"));
        }
    }

    private static AuditEntry Entry(int n, DateTimeOffset time, string? session, string stdout) => new(
        time.AddMilliseconds(n), session, AuditKinds.ToolCall, "session_exec", "tests/1", $$"""{"command":"echo {{n}}"}""",
        AuditOutcomes.Ok, null, """{"exit_code":0}""", 12, System.Text.Json.JsonSerializer.Serialize(new { stdout }), "local");

    public void Dispose() => _scratch.Dispose();
}
