using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>How much stored output a replay carries.</summary>
public enum OutputDetail
{
    None,
    Truncated,
    Full,
}

/// <summary>
/// Renders audited events as a compact log a human or an agent can read top to bottom: each command with its exit code
/// and output, each edit with its diff, each failure with its message.
/// </summary>
public static class Transcript
{
    /// <summary>Per-stream cap of outputs in truncated mode.</summary>
    public const int TruncatedOutputChars = 2_000;

    /// <summary>What a transcript shows in place of an output retention dropped.</summary>
    public const string PrunedOutputNote = "  [output pruned by retention: the event and its output's digest remain]";

    /// <param name="maxStringChars">Longer strings (outputs, arguments) are cut in the middle, so one huge event cannot
    /// make the transcript unbounded.</param>
    public static string Render(IEnumerable<AuditEvent> events, OutputDetail detail, int maxStringChars = int.MaxValue)
    {
        var text = new StringBuilder();
        foreach (var e in events)
        {
            var entry = e.Entry;
            var arguments = Cap(Parse(entry.Arguments), maxStringChars);
            var summary = Parse(entry.Summary);
            var output = ShapeOutput(Parse(entry.Output) as JsonObject, detail, maxStringChars);
            text.Append(CultureInfo.InvariantCulture, $"#{e.Seq} {entry.Time:yyyy-MM-dd HH:mm:ss}Z ");
            if (entry.Principal is { } principal && principal != Access.Principal.LocalName)
            {
                // Who called, when it is not the server's own user: the one case worth its tokens in every line.
                text.Append('[').Append(principal).Append("] ");
            }
            if (entry.Kind != AuditKinds.ToolCall)
            {
                text.Append(entry.Kind.Replace('_', ' ')).Append(' ').Append(summary?.ToJsonString() ?? "").Append('\n');
                continue;
            }
            text.Append(Headline(entry.Tool, arguments, summary));
            if (entry.Outcome != AuditOutcomes.Ok)
            {
                text.Append(CultureInfo.InvariantCulture, $" -> {entry.Outcome}: {entry.Error}");
            }
            text.Append(CultureInfo.InvariantCulture, $" ({entry.DurationMs} ms)\n");
            if (e.OutputPruned && detail != OutputDetail.None)
            {
                // Said, not left out: an empty output and a dropped one must not look the same.
                text.Append(PrunedOutputNote).Append('\n');
            }
            if (output is not null)
            {
                foreach (var (name, value) in output)
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0)
                    {
                        text.Append(CultureInfo.InvariantCulture, $"  [{name}]\n");
                        foreach (var line in s.TrimEnd('\n').Split('\n'))
                        {
                            text.Append("  ").Append(line).Append('\n');
                        }
                    }
                }
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// One line per event for an operator's terminal (<c>session-mcp audit tail</c>): sequence, time, session, principal
    /// (who called), tool or kind, outcome, and a short summary. Unlike <see cref="Render"/>, it names the session, since a tail mixes them.
    /// </summary>
    public static string RenderLine(AuditEvent e)
    {
        const int summaryChars = 120;
        var entry = e.Entry;
        var summary = entry.Kind == AuditKinds.ToolCall
            ? Headline(entry.Tool, Parse(entry.Arguments), Parse(entry.Summary))
            : Parse(entry.Summary)?.ToJsonString() ?? "";
        if (entry.Outcome != AuditOutcomes.Ok && entry.Error is not null)
        {
            summary += $" -> {entry.Error}";
        }
        // A command or an error may span lines; the tail must stay one line per event.
        summary = summary.ReplaceLineEndings("\\n");
        if (summary.Length > summaryChars)
        {
            summary = summary[..(summaryChars - 1)] + "…";
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"#{e.Seq,-6} {entry.Time:yyyy-MM-dd HH:mm:ss}Z  {entry.SessionId ?? "-",-10}  {entry.Principal ?? "-",-8}  {entry.Tool ?? entry.Kind,-18}  {entry.Outcome,-9}  {summary}");
    }

    /// <summary>The stored output in the requested detail (null for none), no string longer than <paramref name="maxStringChars"/>.</summary>
    public static JsonObject? ShapeOutput(JsonObject? output, OutputDetail detail, int maxStringChars = int.MaxValue) => detail switch
    {
        OutputDetail.None => null,
        OutputDetail.Truncated => Cap(output, Math.Min(TruncatedOutputChars, maxStringChars)) as JsonObject,
        _ => Cap(output, maxStringChars) as JsonObject,
    };

    /// <summary>A copy of <paramref name="node"/> with every string longer than <paramref name="maxChars"/> cut in the middle.</summary>
    public static JsonNode? Cap(JsonNode? node, int maxChars) => node switch
    {
        null => null,
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Cap(p.Value, maxChars)))),
        JsonArray array => new JsonArray([.. array.Select(child => Cap(child, maxChars))]),
        JsonValue value when value.TryGetValue<string>(out var s) && s.Length > maxChars => JsonValue.Create(OutputTruncation.Truncate(s, maxChars).Text),
        _ => node.DeepClone(),
    };

    /// <summary>A stored JSON field as a node; a field that is not JSON (a corrupt row) comes back as its raw text.</summary>
    public static JsonNode? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return JsonValue.Create(json);
        }
    }

    private static string Headline(string? tool, JsonNode? arguments, JsonNode? summary)
    {
        // A corrupt row may hold any JSON (or raw text) in these fields: read them only as objects.
        string Arg(string name) => (arguments as JsonObject)?[name]?.ToString() ?? "";
        string Sum(string name) => (summary as JsonObject)?[name]?.ToString() ?? "?";
        bool Flag(string name) => (summary as JsonObject)?[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;
        if (arguments is not (null or JsonObject))
        {
            return $"{tool} {arguments.ToJsonString()}";
        }
        return tool switch
        {
            "session_exec" => $"exec $ {Arg("command")}" + (summary is null ? ""
                : Flag("background") ? $" => started job {Sum("job_id")}"
                : Flag("handed_over") ? $" => still running at its timeout: handed over to job {Sum("job_id")}"
                : $" => exit {Sum("exit_code")}{(Flag("timed_out") ? " (timed out)" : "")}"),
            "session_edit_file" => $"edit {Arg("path")}" + (summary is null ? "" : $" (+{Sum("lines_added")} -{Sum("lines_removed")}, {Sum("replacements")} replacements{(Flag("dry_run") ? ", dry run" : "")})"),
            "session_write_file" => $"write {Arg("path")}" + (summary is null ? "" : $" ({Sum("bytes")} bytes)"),
            "session_read_file" => $"read {Arg("path")}" + (summary is null ? "" : $" ({Sum("lines")} lines)"),
            _ => $"{tool} {arguments?.ToJsonString() ?? ""}",
        };
    }
}
