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
        if (entry.SessionId is not { } session)
        {
            return null;
        }
        switch (entry.Kind)
        {
            case AuditKinds.SessionLost:
                return new AttentionFlag(session, AttentionReasons.SessionLost, "session lost" + (Text(entry.Summary, "detail") is { } detail ? ": " + detail : ""), entry.Time, e.Seq);
            case "job_lost":
                return new AttentionFlag(session, AttentionReasons.CommandFailed, $"job {Text(entry.Summary, "job_id")} was lost: {entry.Error ?? "the server stopped while it ran"}", entry.Time, e.Seq, Text(entry.Summary, "job_id"));
            case "job_ended":
            {
                var jobId = Text(entry.Summary, "job_id");
                var command = Shorten(Text(entry.Summary, "command") ?? "");
                if (Bool(entry.Summary, "killed") == true)
                {
                    return null; // someone stopped it on purpose: nothing to look at
                }
                if (Int(entry.Summary, "exit_code") is { } code && code != 0 || Int(entry.Summary, "signal") is not null)
                {
                    var how = Int(entry.Summary, "exit_code") is { } c ? $"exited {c}" : $"died of signal {Int(entry.Summary, "signal")}";
                    return new AttentionFlag(session, AttentionReasons.CommandFailed, $"job {jobId} {how}: {command}", entry.Time, e.Seq, jobId);
                }
                return TimeSpan.FromMilliseconds(entry.DurationMs) >= thresholds.LongCommand
                    ? new AttentionFlag(session, AttentionReasons.LongCommandFinished, $"job {jobId} finished after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq, jobId)
                    : null;
            }
            case AuditKinds.ToolCall when entry.Tool == "session_exec" && entry.Outcome == AuditOutcomes.Ok:
            {
                var command = Shorten(Text(entry.Arguments, "command") ?? "");
                if (Bool(entry.Summary, "timed_out") == true)
                {
                    return new AttentionFlag(session, AttentionReasons.CommandFailed, $"timed out after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq);
                }
                if (Int(entry.Summary, "exit_code") is { } code && code != 0)
                {
                    return new AttentionFlag(session, AttentionReasons.CommandFailed, $"exit {code}: {command}", entry.Time, e.Seq);
                }
                return Int(entry.Summary, "exit_code") is not null && TimeSpan.FromMilliseconds(entry.DurationMs) >= thresholds.LongCommand
                    ? new AttentionFlag(session, AttentionReasons.LongCommandFinished, $"finished after {Seconds(entry.DurationMs)}: {command}", entry.Time, e.Seq)
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

    private static JsonElement? Property(string? json, string name)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var value) ? value.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(string? json, string name) => Property(json, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static int? Int(string? json, string name) => Property(json, name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out var i) ? i : null;

    private static bool? Bool(string? json, string name) => Property(json, name) is { ValueKind: JsonValueKind.True or JsonValueKind.False } v ? v.GetBoolean() : null;
}
