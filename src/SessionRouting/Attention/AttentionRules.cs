using System.Globalization;
using System.Text.Json;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Attention;

/// <summary>Why a session wants a person: the flag's <see cref="AttentionFlag.Reason"/>.</summary>
internal static class AttentionReasons
{
    /// <summary>A job or terminal waits for input.</summary>
    public const string WaitingForInput = "waiting_for_input";

    /// <summary>A command that ran for a long time finished (successfully).</summary>
    public const string LongCommandFinished = "long_command_finished";

    /// <summary>A command or job exited with a non-zero code or was lost.</summary>
    public const string CommandFailed = "command_failed";

    /// <summary>The session's container or processes disappeared (killed, OOM-killed, removed).</summary>
    public const string SessionLost = "session_lost";

    /// <summary>An agent worked in the session, then stopped calling tools.</summary>
    public const string AgentIdle = "agent_idle";
}

/// <summary>A session wants a person: why, in words, since when, and the event that raised it (if one did).</summary>
internal sealed record AttentionFlag(string SessionId, string Reason, string Detail, DateTimeOffset Since, long? Seq = null, string? JobId = null);

/// <summary>
/// When a command counts as long and an agent as idle. The defaults suit a person watching agents; tests shorten them.
/// </summary>
internal sealed record AttentionThresholds(TimeSpan LongCommand, TimeSpan IdleAfter)
{
    public static readonly AttentionThresholds Default = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
}

/// <summary>Which audited events raise attention, as a pure function of the event.</summary>
internal static class AttentionRules
{
    /// <summary>The flag <paramref name="e"/> raises, or null: a lost session, a failed or long command, a job's end.</summary>
    public static AttentionFlag? FromEvent(AuditEvent e, AttentionThresholds thresholds)
    {
        var entry = e.Entry;
        if (entry.SessionId is not { } session || entry.Kind is not (AuditKinds.SessionLost or AuditKinds.SessionOom or "job_lost" or "job_ended" or AuditKinds.ToolCall))
        {
            return null;
        }
        var summary = Fields.Of(entry.Summary);
        var lasted = TimeSpan.FromMilliseconds(entry.DurationMs);
        switch (entry.Kind)
        {
            case AuditKinds.SessionLost:
                return new AttentionFlag(session, AttentionReasons.SessionLost, "session lost" + (summary.Text("detail") is { } detail ? ": " + detail : ""), entry.Time, e.Seq);
            case AuditKinds.SessionOom:
                // The container survived, but a process of it was killed for memory: its work is likely broken.
                return new AttentionFlag(session, AttentionReasons.SessionLost, "out of memory" + (summary.Text("detail") is { } oom ? ": " + oom : ""), entry.Time, e.Seq);
            case "job_lost":
                return new AttentionFlag(session, AttentionReasons.CommandFailed, $"job {summary.Text("job_id")} was lost: {entry.Error ?? "the server stopped while it ran"}", entry.Time, e.Seq, summary.Text("job_id"));
            case "job_ended":
            {
                var jobId = summary.Text("job_id");
                var command = Shorten(summary.Text("command") ?? "");
                if (summary.Bool("killed") == true)
                {
                    return null; // someone stopped it on purpose: nothing to look at
                }
                if (summary.Int("exit_code") is { } code && code != 0 || summary.Int("signal") is not null)
                {
                    var how = summary.Int("exit_code") is { } c ? $"exited {c}" : $"died of signal {summary.Int("signal")}";
                    return new AttentionFlag(session, AttentionReasons.CommandFailed, $"job {jobId} {how}: {command}", entry.Time, e.Seq, jobId);
                }
                return lasted >= thresholds.LongCommand
                    ? new AttentionFlag(session, AttentionReasons.LongCommandFinished, $"job {jobId} finished after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq, jobId)
                    : null;
            }
            case AuditKinds.ToolCall when entry.Tool == "session_exec" && entry.Outcome == AuditOutcomes.Ok:
            {
                var command = Shorten(Fields.Of(entry.Arguments).Text("command") ?? "");
                if (summary.Bool("timed_out") == true)
                {
                    return new AttentionFlag(session, AttentionReasons.CommandFailed, $"timed out after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq);
                }
                if (summary.Int("exit_code") is not { } code)
                {
                    return null; // it runs on as a job: its end tells
                }
                return code != 0 ? new AttentionFlag(session, AttentionReasons.CommandFailed, $"exit {code}: {command}", entry.Time, e.Seq)
                    : lasted >= thresholds.LongCommand ? new AttentionFlag(session, AttentionReasons.LongCommandFinished, $"finished after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq)
                    : null;
            }
            default:
                return null;
        }
    }

    /// <summary>Whether <paramref name="e"/> is an agent's activity in its session (any tool call that named one).</summary>
    public static bool IsActivity(AuditEvent e) => e.Entry.Kind == AuditKinds.ToolCall && e.Entry.SessionId is not null;

    private static string Seconds(long ms) => (ms / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + " s";

    private static string Shorten(string text) => text.Length <= 120 ? text : text[..117] + "...";

    /// <summary>The top-level fields of a stored JSON object (summary, arguments), parsed once; empty when it is not one.</summary>
    private readonly struct Fields
    {
        private readonly JsonElement _root;

        private Fields(JsonElement root) => _root = root;

        public static Fields Of(string? json)
        {
            if (string.IsNullOrEmpty(json))
            {
                return default;
            }
            try
            {
                using var document = JsonDocument.Parse(json);
                return document.RootElement.ValueKind == JsonValueKind.Object ? new Fields(document.RootElement.Clone()) : default;
            }
            catch (JsonException)
            {
                return default;
            }
        }

        public string? Text(string name) => Get(name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

        public int? Int(string name) => Get(name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out var i) ? i : null;

        public bool? Bool(string name) => Get(name) is { ValueKind: JsonValueKind.True or JsonValueKind.False } v ? v.GetBoolean() : null;

        private JsonElement? Get(string name) => _root.ValueKind == JsonValueKind.Object && _root.TryGetProperty(name, out var value) ? value : null;
    }
}
