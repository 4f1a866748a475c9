using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>What a pruning took (or, in a dry run, would take).</summary>
/// <param name="Events">Events removed.</param>
/// <param name="Outputs">Outputs dropped (events kept).</param>
/// <param name="Bytes">Stored bytes removed (approximately what the events or outputs took in the database).</param>
/// <param name="OldOutputsKept">Outputs the policy took that were kept because their events are hashed with an older
/// encoding that covers the output verbatim: they go only with the whole event.</param>
/// <param name="Checkpoint">The (first) checkpoint left; null in a dry run or when nothing matched.</param>
/// <param name="LastCheckpoint">The last checkpoint left: a large pruning goes in batches of <see cref="AuditRetention.DefaultBatchSize"/>, a checkpoint each.</param>
/// <param name="EventSeq">The <see cref="AuditKinds.AuditPruned"/> event that records the last checkpoint.</param>
public sealed record PruneReport(bool DryRun, long Events, long Outputs, long Bytes, long OldOutputsKept, long FirstSeq, long LastSeq, long? Checkpoint = null, long? LastCheckpoint = null, long? EventSeq = null);

/// <summary>
/// Retention: the one sanctioned way to remove events or their outputs. It selects what the policy takes (reading only),
/// then, batch by batch, in one write transaction each: records a checkpoint (the runs of removed events with the hashes
/// the chain needs to cross them, or the events whose outputs go, and digests of both), removes them (the schema's
/// triggers allow exactly that and nothing else), and appends an <see cref="AuditKinds.AuditPruned"/> event that names
/// the checkpoint, so the chain anchors it. A crash between batches leaves every committed batch complete and verifying.
/// </summary>
/// <remarks>
/// <see cref="AuditKinds.AuditPruned"/> events are never taken: each anchors its checkpoint. Only events of encoding 3 can
/// lose their output alone (their hash covers the output's digest); older ones keep it until the whole event goes.
/// </remarks>
public sealed class AuditRetention(SessionDatabase database, AuditLog log, TimeProvider time)
{
    /// <summary>
    /// Events (or outputs) removed per write transaction. Each batch is a checkpoint and an event of its own, so the write
    /// lock is held for well under a second at a time and a server appending beside the pruning (another process on the
    /// same file) waits that long at most, never its busy timeout.
    /// </summary>
    public const int DefaultBatchSize = 5_000;

    /// <summary>See <see cref="DefaultBatchSize"/>; smaller in tests, to cross batch boundaries with few events.</summary>
    internal int BatchSize { get; init; } = DefaultBatchSize;

    /// <param name="principal">Who prunes (recorded in the checkpoint and its event); null for the server on its own.</param>
    public PruneReport Prune(RetentionPolicy policy, string? principal, bool dryRun)
    {
        if (!policy.HasLimit)
        {
            throw new ArgumentException("a pruning needs a limit: an age (older than), a total size or a size per session");
        }
        // Pruning a broken chain would launder it: an altered event, once removed under a checkpoint, could no longer be
        // told from an intact one. So the chain must hold first, and a break is left for the operator to look at.
        if (log.VerifyAll().Break is { } chainBreak)
        {
            throw new AuditChainBrokenException($"the audit chain is broken at event {chainBreak.Seq} ({chainBreak.Reason}); pruning now would erase the evidence, so nothing was pruned: see 'session-mcp audit verify' and keep a copy of the database first");
        }
        var now = time.GetUtcNow();
        var cutoff = policy.OlderThan is { } age ? now - age : (DateTimeOffset?)null;

        // The selection only reads (a WAL reader blocks no writer); each batch then checks its rows are still as read.
        var taken = Select(Candidates(), policy, cutoff);
        var oldKept = policy.OutputsOnly ? taken.Count(r => r.HasOutput && !r.Prunable) : 0;
        var chosen = policy.OutputsOnly ? taken.Where(r => r.Prunable).ToList() : taken;
        var planned = new PruneReport(
            dryRun,
            policy.OutputsOnly ? 0 : chosen.Count,
            policy.OutputsOnly ? chosen.Count : 0,
            chosen.Sum(r => policy.OutputsOnly ? r.OutputBytes : r.Bytes),
            oldKept,
            chosen.Count == 0 ? 0 : chosen[0].Seq,
            chosen.Count == 0 ? 0 : chosen[^1].Seq);
        if (dryRun || chosen.Count == 0)
        {
            return planned;
        }

        long events = 0, outputs = 0, bytes = 0;
        long? firstCheckpoint = null, lastCheckpoint = null, lastEvent = null;
        foreach (var batch in chosen.Chunk(BatchSize))
        {
            var anchor = database.WriteTransaction((connection, transaction) =>
            {
                var rows = policy.OutputsOnly ? StillWithOutput(connection, transaction, batch) : StillThere(connection, transaction, batch);
                if (rows.Count == 0)
                {
                    return null;
                }
                var eventSeq = NextSeq(connection, transaction);
                var checkpoint = policy.OutputsOnly
                    ? DropOutputs(connection, transaction, rows, policy, cutoff, principal, now, eventSeq)
                    : RemoveEvents(connection, transaction, rows, policy, cutoff, principal, now, eventSeq);
                var batchBytes = rows.Sum(r => policy.OutputsOnly ? r.OutputBytes : r.Bytes);
                var summary = new JsonObject
                {
                    ["checkpoint"] = Checkpoints.Anchor(checkpoint),
                    ["events"] = policy.OutputsOnly ? 0 : rows.Count,
                    ["outputs"] = policy.OutputsOnly ? rows.Count : 0,
                    ["bytes"] = batchBytes,
                    ["old_outputs_kept"] = oldKept,
                };
                var appended = AuditLog.AppendIn(connection, transaction, new AuditEntry(
                    now, policy.SessionId, AuditKinds.AuditPruned, null, null, policy.ToJson(cutoff).ToJsonString(), AuditOutcomes.Ok, null,
                    summary.ToJsonString(), 0, null, principal));
                if (appended.Seq != eventSeq)
                {
                    // The checkpoint names its event by number; under the write lock the number cannot move, so this is a bug.
                    throw new InvalidOperationException($"the pruning's event got number {appended.Seq}, not the {eventSeq} its checkpoint names; this batch was not pruned");
                }
                (events, outputs, bytes) = policy.OutputsOnly ? (events, outputs + rows.Count, bytes + batchBytes) : (events + rows.Count, outputs, bytes + batchBytes);
                firstCheckpoint ??= checkpoint.Id;
                lastCheckpoint = checkpoint.Id;
                return appended;
            });
            if (anchor is not null)
            {
                log.RecordHead(anchor);
                lastEvent = anchor.Seq;
            }
        }
        return planned with { Events = events, Outputs = outputs, Bytes = bytes, Checkpoint = firstCheckpoint, LastCheckpoint = lastCheckpoint, EventSeq = lastEvent };
    }

    /// <summary>The rows of <paramref name="batch"/> still stored exactly as selected (another pruning may have taken some).</summary>
    private static List<Row> StillThere(SqliteConnection connection, SqliteTransaction transaction, Row[] batch)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT hash FROM events WHERE seq = $seq";
        var seq = command.Parameters.Add("$seq", SqliteType.Integer);
        return [.. batch.Where(row =>
        {
            seq.Value = row.Seq;
            return command.ExecuteScalar() is string hash && hash == row.Hash;
        })];
    }

    /// <summary>The rows of <paramref name="batch"/> whose output is still stored.</summary>
    private static List<Row> StillWithOutput(SqliteConnection connection, SqliteTransaction transaction, Row[] batch)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT output IS NOT NULL FROM events WHERE seq = $seq AND hash = $hash";
        var seq = command.Parameters.Add("$seq", SqliteType.Integer);
        var hash = command.Parameters.Add("$hash", SqliteType.Text);
        return [.. batch.Where(row =>
        {
            seq.Value = row.Seq;
            hash.Value = row.Hash;
            return command.ExecuteScalar() is long present && present != 0;
        })];
    }

    /// <summary>One event as retention weighs it.</summary>
    /// <param name="Bytes">Its stored size: every text field and the output.</param>
    /// <param name="Prunable">It has an output that can go alone (encoding 3).</param>
    private sealed record Row(long Seq, string? SessionId, string Kind, string Time, string PrevHash, string Hash, long Bytes, long OutputBytes, bool HasOutput, bool Prunable, string? OutputDigest);

    /// <summary>Every event, newest first, without its contents; page by page, so a server in this process is held up
    /// for one page at a time, not for the whole scan.</summary>
    private List<Row> Candidates()
    {
        const int page = 5_000;
        var rows = new List<Row>();
        while (true)
        {
            var before = rows.Count == 0 ? long.MaxValue : rows[^1].Seq;
            var added = database.Read(connection => ReadPage(connection, before, page, rows));
            if (added < page)
            {
                return rows;
            }
        }
    }

    private static int ReadPage(SqliteConnection connection, long before, int page, List<Row> rows)
    {
        using var command = connection.CreateCommand();
        // Sizes in bytes of what the row stores; the two hashes and the numbers count as a constant.
        command.CommandText = """
            SELECT seq, session_id, kind, ts, prev_hash, hash,
                   160 + COALESCE(length(CAST(session_id AS BLOB)), 0) + length(CAST(kind AS BLOB)) + COALESCE(length(CAST(tool AS BLOB)), 0)
                       + COALESCE(length(CAST(client AS BLOB)), 0) + COALESCE(length(CAST(arguments AS BLOB)), 0) + length(CAST(outcome AS BLOB))
                       + COALESCE(length(CAST(error AS BLOB)), 0) + COALESCE(length(CAST(summary AS BLOB)), 0) + COALESCE(length(CAST(principal AS BLOB)), 0)
                       + COALESCE(length(CAST(output_digest AS BLOB)), 0),
                   COALESCE(length(CAST(output AS BLOB)), 0), output IS NOT NULL, hash_version IS 3 AND output_digest IS NOT NULL, output_digest
            FROM events WHERE seq < $before ORDER BY seq DESC LIMIT $page
            """;
        command.Parameters.AddWithValue("$before", before);
        command.Parameters.AddWithValue("$page", page);
        using var reader = command.ExecuteReader();
        var added = 0;
        while (reader.Read())
        {
            var outputBytes = reader.GetInt64(7);
            var hasOutput = reader.GetInt64(8) != 0;
            rows.Add(new Row(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.GetString(5),
                reader.GetInt64(6) + outputBytes,
                outputBytes,
                hasOutput,
                hasOutput && reader.GetInt64(9) != 0,
                reader.IsDBNull(10) ? null : reader.GetString(10)));
            added++;
        }
        return added;
    }

    /// <summary>What the policy takes, oldest first. Sizes are counted from the newest event back, so the newest stay.</summary>
    private static List<Row> Select(List<Row> newestFirst, RetentionPolicy policy, DateTimeOffset? cutoff)
    {
        var before = cutoff is { } c ? HashChain.FormatTime(c) : null;
        long total = 0;
        var overTotal = false;
        var perSession = new Dictionary<string, long>(StringComparer.Ordinal);
        var overSession = new HashSet<string>(StringComparer.Ordinal);
        var taken = new List<Row>();
        foreach (var row in newestFirst)
        {
            if (row.Kind == AuditKinds.AuditPruned || (policy.SessionId is { } only && row.SessionId != only))
            {
                continue;
            }
            var take = before is not null && string.CompareOrdinal(row.Time, before) < 0;
            if (policy.MaxBytes is { } max)
            {
                overTotal |= total + row.Bytes > max;
                take |= overTotal;
            }
            if (policy.MaxSessionBytes is { } perSessionMax && row.SessionId is { } session)
            {
                var used = perSession.GetValueOrDefault(session);
                if (used + row.Bytes > perSessionMax)
                {
                    overSession.Add(session);
                }
                take |= overSession.Contains(session);
            }
            // What stays counts against the limits: the whole event, or its metadata once its output goes.
            var kept = !take ? row.Bytes : policy.OutputsOnly ? (row.Prunable ? row.Bytes - row.OutputBytes : row.Bytes) : 0;
            total += kept;
            if (row.SessionId is { } s)
            {
                perSession[s] = perSession.GetValueOrDefault(s) + kept;
            }
            if (take)
            {
                taken.Add(row);
            }
        }
        taken.Reverse();
        return taken;
    }

    private static long NextSeq(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT MAX(COALESCE((SELECT last_seq FROM event_sequence WHERE id = 1), 0),
                       COALESCE((SELECT MAX(seq) FROM events), 0),
                       COALESCE((SELECT MAX(last_seq) FROM pruned_runs), 0)) + 1
            """;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static Checkpoint RemoveEvents(SqliteConnection connection, SqliteTransaction transaction, List<Row> events, RetentionPolicy policy, DateTimeOffset? cutoff, string? principal, DateTimeOffset now, long eventSeq)
    {
        // Consecutive numbers form a run; a number already pruned (or kept) in between starts a new one, so runs never
        // overlap and each covers exactly the events it deletes.
        var runs = new List<(Row First, Row Last)>();
        foreach (var row in events)
        {
            if (runs.Count > 0 && runs[^1].Last.Seq + 1 == row.Seq)
            {
                runs[^1] = (runs[^1].First, row);
            }
            else
            {
                runs.Add((row, row));
            }
        }
        var checkpoint = new Checkpoint(
            0, now, principal, eventSeq, Checkpoints.Events, policy.ToJson(cutoff).ToJsonString(), events.Count, events[0].Seq, events[^1].Seq, events[^1].Hash,
            Checkpoints.Digest(events.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Seq} {e.Hash}"))),
            "");
        var stored = InsertCheckpoint(connection, transaction, checkpoint with
        {
            Digest = Checkpoints.RunsDigest(runs.Select(r => new PrunedRun(0, r.First.Seq, r.Last.Seq, r.First.PrevHash, r.Last.Hash))),
        });

        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO pruned_runs (first_seq, last_seq, checkpoint, first_prev_hash, last_hash) VALUES ($first, $last, $checkpoint, $prev, $hash);
            DELETE FROM events WHERE seq BETWEEN $first AND $last;
            """;
        var first = insert.Parameters.Add("$first", SqliteType.Integer);
        var last = insert.Parameters.Add("$last", SqliteType.Integer);
        insert.Parameters.AddWithValue("$checkpoint", stored.Id);
        var prev = insert.Parameters.Add("$prev", SqliteType.Text);
        var hash = insert.Parameters.Add("$hash", SqliteType.Text);
        foreach (var (runFirst, runLast) in runs)
        {
            first.Value = runFirst.Seq;
            last.Value = runLast.Seq;
            prev.Value = runFirst.PrevHash;
            hash.Value = runLast.Hash;
            insert.ExecuteNonQuery();
        }
        return stored;
    }

    private static Checkpoint DropOutputs(SqliteConnection connection, SqliteTransaction transaction, List<Row> outputs, RetentionPolicy policy, DateTimeOffset? cutoff, string? principal, DateTimeOffset now, long eventSeq)
    {
        var checkpoint = InsertCheckpoint(connection, transaction, new Checkpoint(
            0, now, principal, eventSeq, Checkpoints.Outputs, policy.ToJson(cutoff).ToJsonString(), outputs.Count, outputs[0].Seq, outputs[^1].Seq, null,
            Checkpoints.Digest(outputs.Select(o => string.Create(CultureInfo.InvariantCulture, $"{o.Seq} {o.OutputDigest}"))),
            Checkpoints.OutputsDigest(outputs.Select(o => o.Seq))));
        using var drop = connection.CreateCommand();
        drop.Transaction = transaction;
        // The record first: the update trigger lets only an output listed in pruned_outputs go.
        drop.CommandText = """
            INSERT INTO pruned_outputs (seq, checkpoint) VALUES ($seq, $checkpoint);
            UPDATE events SET output = NULL WHERE seq = $seq;
            """;
        var seq = drop.Parameters.Add("$seq", SqliteType.Integer);
        drop.Parameters.AddWithValue("$checkpoint", checkpoint.Id);
        foreach (var row in outputs)
        {
            seq.Value = row.Seq;
            drop.ExecuteNonQuery();
        }
        return checkpoint;
    }

    private static Checkpoint InsertCheckpoint(SqliteConnection connection, SqliteTransaction transaction, Checkpoint c)
    {
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO checkpoints (created_at, principal, event_seq, what, criteria, count, first_seq, last_seq, last_hash, pruned_digest, digest)
            VALUES ($created, $principal, $event, $what, $criteria, $count, $first, $last, $lastHash, $pruned, $digest);
            SELECT last_insert_rowid();
            """;
        insert.Parameters.AddWithValue("$created", HashChain.FormatTime(c.CreatedAt));
        insert.Parameters.AddWithValue("$principal", (object?)c.Principal ?? DBNull.Value);
        insert.Parameters.AddWithValue("$event", c.EventSeq);
        insert.Parameters.AddWithValue("$what", c.What);
        insert.Parameters.AddWithValue("$criteria", c.Criteria);
        insert.Parameters.AddWithValue("$count", c.Count);
        insert.Parameters.AddWithValue("$first", c.FirstSeq);
        insert.Parameters.AddWithValue("$last", c.LastSeq);
        insert.Parameters.AddWithValue("$lastHash", (object?)c.LastHash ?? DBNull.Value);
        insert.Parameters.AddWithValue("$pruned", c.PrunedDigest);
        insert.Parameters.AddWithValue("$digest", c.Digest);
        return c with { Id = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture) };
    }
}

/// <summary>Retention refused to prune because <c>audit verify</c> fails; nothing was changed.</summary>
public sealed class AuditChainBrokenException(string message) : InvalidOperationException(message);
