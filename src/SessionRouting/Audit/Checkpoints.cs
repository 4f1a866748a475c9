using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// What one pruning removed, as stored in <c>checkpoints</c>. <see cref="Digest"/> covers its own records (the runs of
/// removed events, or the events whose outputs were dropped), so verify recomputes it; <see cref="PrunedDigest"/> covers
/// what was removed (each event's number and hash, or each output's digest), so a copy of the log taken before pruning
/// (an <c>audit export</c>) can be checked against it. The checkpoint's fields are repeated in the summary of its
/// <see cref="AuditKinds.AuditPruned"/> event, which the chain covers: a checkpoint altered after the fact no longer
/// matches its event.
/// </summary>
/// <param name="What"><see cref="Checkpoints.Events"/> or <see cref="Checkpoints.Outputs"/>.</param>
/// <param name="LastHash">Events: the hash of the last event removed; the chain resumes from it.</param>
public sealed record Checkpoint(
    long Id,
    DateTimeOffset CreatedAt,
    string? Principal,
    long EventSeq,
    string What,
    string Criteria,
    long Count,
    long FirstSeq,
    long LastSeq,
    string? LastHash,
    string PrunedDigest,
    string Digest);

/// <summary>Reads and checks checkpoints; <see cref="AuditRetention"/> writes them.</summary>
internal static class Checkpoints
{
    public const string Events = "events";
    public const string Outputs = "outputs";

    public static List<PrunedRun> ReadRuns(SqliteConnection connection, long? checkpoint = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT checkpoint, first_seq, last_seq, first_prev_hash, last_hash FROM pruned_runs"
            + (checkpoint is null ? "" : " WHERE checkpoint = $checkpoint") + " ORDER BY first_seq";
        command.Parameters.AddWithValue("$checkpoint", (object?)checkpoint ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var runs = new List<PrunedRun>();
        while (reader.Read())
        {
            runs.Add(new PrunedRun(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), Text(reader, 3), Text(reader, 4)));
        }
        return runs;
    }

    /// <summary>The events whose output retention dropped (with the checkpoint of each, for the digest).</summary>
    public static List<(long Seq, long Checkpoint)> ReadPrunedOutputs(SqliteConnection connection, long? checkpoint = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, checkpoint FROM pruned_outputs"
            + (checkpoint is null ? "" : " WHERE checkpoint = $checkpoint") + " ORDER BY seq";
        command.Parameters.AddWithValue("$checkpoint", (object?)checkpoint ?? DBNull.Value);
        using var reader = command.ExecuteReader();
        var outputs = new List<(long, long)>();
        while (reader.Read())
        {
            outputs.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }
        return outputs;
    }

    public static List<Checkpoint> Read(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, created_at, principal, event_seq, what, criteria, count, first_seq, last_seq, last_hash, pruned_digest, digest FROM checkpoints ORDER BY id";
        using var reader = command.ExecuteReader();
        var checkpoints = new List<Checkpoint>();
        while (reader.Read())
        {
            checkpoints.Add(new Checkpoint(
                reader.GetInt64(0),
                DateTimeOffset.TryParse(Text(reader, 1), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created) ? created : DateTimeOffset.UnixEpoch,
                reader.IsDBNull(2) ? null : Text(reader, 2),
                reader.GetInt64(3),
                Text(reader, 4),
                Text(reader, 5),
                reader.GetInt64(6),
                reader.GetInt64(7),
                reader.GetInt64(8),
                reader.IsDBNull(9) ? null : Text(reader, 9),
                Text(reader, 10),
                Text(reader, 11)));
        }
        return checkpoints;
    }

    /// <summary>The run of pruned events holding <paramref name="seq"/>, if retention removed it.</summary>
    public static PrunedRun? RunCovering(SqliteConnection connection, long seq)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT checkpoint, first_seq, last_seq, first_prev_hash, last_hash FROM pruned_runs WHERE first_seq <= $seq ORDER BY first_seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$seq", seq);
        using var reader = command.ExecuteReader();
        if (!reader.Read() || reader.GetInt64(2) < seq)
        {
            return null;
        }
        return new PrunedRun(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), Text(reader, 3), Text(reader, 4));
    }

    /// <summary>The digest of a checkpoint's runs: one line per run.</summary>
    public static string RunsDigest(IEnumerable<PrunedRun> runs) =>
        Digest(runs.Select(r => string.Create(CultureInfo.InvariantCulture, $"run {r.FirstSeq} {r.LastSeq} {r.FirstPrevHash} {r.LastHash}")));

    /// <summary>The digest of a checkpoint's dropped outputs: one line per event.</summary>
    public static string OutputsDigest(IEnumerable<long> seqs) =>
        Digest(seqs.Select(s => string.Create(CultureInfo.InvariantCulture, $"output {s}")));

    public static string Digest(IEnumerable<string> lines)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var line in lines)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(line + "\n"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The checkpoint as its <see cref="AuditKinds.AuditPruned"/> event's summary repeats it.</summary>
    public static JsonObject Anchor(Checkpoint c) => new()
    {
        ["id"] = c.Id,
        ["what"] = c.What,
        ["count"] = c.Count,
        ["first_seq"] = c.FirstSeq,
        ["last_seq"] = c.LastSeq,
        ["last_hash"] = c.LastHash,
        ["pruned_digest"] = c.PrunedDigest,
        ["digest"] = c.Digest,
    };

    /// <summary>
    /// Checks every checkpoint against its own records and against the event that anchors it in the chain; also that no
    /// record belongs to a checkpoint that is not there, and no anchoring event to a checkpoint that is gone.
    /// </summary>
    /// <param name="eventAt">The stored event of a number, or null when there is none.</param>
    public static ChainBreak? Verify(SqliteConnection connection, Func<long, AuditEvent?> eventAt)
    {
        var checkpoints = Read(connection);
        var ids = checkpoints.Select(c => c.Id).ToHashSet();
        var runsByCheckpoint = ReadRuns(connection).ToLookup(r => r.Checkpoint);
        var outputsByCheckpoint = ReadPrunedOutputs(connection).ToLookup(o => o.Checkpoint, o => o.Seq);
        if (runsByCheckpoint.FirstOrDefault(g => !ids.Contains(g.Key)) is { } orphanRuns)
        {
            return new ChainBreak(orphanRuns.First().FirstSeq, $"pruned events {orphanRuns.First().FirstSeq}..{orphanRuns.First().LastSeq} name checkpoint {orphanRuns.Key}, which is not there (it was deleted)");
        }
        if (outputsByCheckpoint.FirstOrDefault(g => !ids.Contains(g.Key)) is { } orphanOutputs)
        {
            return new ChainBreak(orphanOutputs.First(), $"the pruned output of event {orphanOutputs.First()} names checkpoint {orphanOutputs.Key}, which is not there (it was deleted)");
        }
        foreach (var c in checkpoints)
        {
            if (Problem(c) is { } problem)
            {
                return new ChainBreak(c.EventSeq, $"checkpoint {c.Id}: {problem}");
            }
        }
        return null;

        string? Problem(Checkpoint c)
        {
            long count, first, last;
            string digest;
            if (c.What == Events)
            {
                var runs = runsByCheckpoint[c.Id].ToList();
                count = runs.Sum(r => r.LastSeq - r.FirstSeq + 1);
                first = runs.Count == 0 ? 0 : runs[0].FirstSeq;
                last = runs.Count == 0 ? 0 : runs[^1].LastSeq;
                digest = RunsDigest(runs);
                if (runs.Count > 0 && runs[^1].LastHash != c.LastHash)
                {
                    return $"its last hash {c.LastHash} is not the hash of its last pruned event {runs[^1].LastHash} (the checkpoint was altered)";
                }
            }
            else
            {
                var seqs = outputsByCheckpoint[c.Id].ToList();
                count = seqs.Count;
                first = seqs.Count == 0 ? 0 : seqs[0];
                last = seqs.Count == 0 ? 0 : seqs[^1];
                digest = OutputsDigest(seqs);
            }
            if (digest != c.Digest || count != c.Count || first != c.FirstSeq || last != c.LastSeq)
            {
                return $"its records do not match it (it says {c.Count} {c.What} {c.FirstSeq}..{c.LastSeq}, digest {c.Digest}; its records hold {count} {first}..{last}, digest {digest}): the checkpoint or its records were altered";
            }
            if (eventAt(c.EventSeq) is not { } anchor)
            {
                return $"the event that records it ({c.EventSeq}) is not in the log";
            }
            if (anchor.Entry.Kind != AuditKinds.AuditPruned
                || (Transcript.Parse(anchor.Entry.Summary) as JsonObject)?["checkpoint"] is not JsonObject recorded
                || !JsonNode.DeepEquals(recorded, Anchor(c))
                || anchor.Entry.Principal != c.Principal)
            {
                return $"it does not match what event {c.EventSeq} recorded when it was made (the checkpoint was altered)";
            }
            return null;
        }
    }

    /// <summary>Every <see cref="AuditKinds.AuditPruned"/> event must still have its checkpoint.</summary>
    public static ChainBreak? VerifyAnchors(IEnumerable<AuditEvent> anchors, IReadOnlySet<long> checkpointIds)
    {
        foreach (var anchor in anchors)
        {
            var id = ((Transcript.Parse(anchor.Entry.Summary) as JsonObject)?["checkpoint"] as JsonObject)?["id"];
            if (id is not JsonValue value || !value.TryGetValue<long>(out var checkpoint) || !checkpointIds.Contains(checkpoint))
            {
                return new ChainBreak(anchor.Seq, $"event {anchor.Seq} records a pruning whose checkpoint ({id?.ToJsonString() ?? "none"}) is not there (it was deleted)");
            }
        }
        return null;
    }

    private static string Text(SqliteDataReader reader, int ordinal) => Convert.ToString(reader.GetValue(ordinal), CultureInfo.InvariantCulture) ?? "";
}
