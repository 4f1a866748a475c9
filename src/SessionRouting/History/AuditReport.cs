using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.History;

/// <summary>How much a report shows.</summary>
/// <param name="MaxOutputChars">Per stream (stdout, stderr, a diff): longer text is cut in the middle, and the report
/// says how much.</param>
internal sealed record AuditReportOptions(int MaxOutputChars = 4_000)
{
    public static readonly AuditReportOptions Default = new();
}

/// <summary>
/// A session's audited events as a Markdown document a person reviews like a pull request (<c>session-mcp audit export
/// --format markdown</c>): a header (id, name, backend, owner, created, status), a tally, then one section per step
/// that did something (commands with exit codes and outputs, edits and writes with their diffs, what each step changed
/// in the workspace, jobs and terminals from start to end, errors) and one line per step that only looked (reads,
/// listings, output polls). A pure function of the events: the same log gives the same report.
/// </summary>
internal static class AuditReport
{
    /// <summary>Reports for every session that has events in <paramref name="events"/> (in order of their first
    /// event), then the events that belong to no session (tokens, integrity warnings).</summary>
    /// <param name="sessionOf">The registry's record of a session, or null when it is gone (the header then comes from
    /// its <c>session_created</c> event).</param>
    /// <param name="stepDiff">The unified diff of what the event with this seq changed in its session's workspace, or
    /// null when it changed nothing (or history is not kept).</param>
    public static string RenderAll(IEnumerable<AuditEvent> events, Func<string, SessionRecord?> sessionOf, Func<long, string?>? stepDiff = null, AuditReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(sessionOf);
        var all = events.ToList();
        var text = new StringBuilder();
        foreach (var group in all.Where(e => e.Entry.SessionId is not null).GroupBy(e => e.Entry.SessionId!, StringComparer.Ordinal))
        {
            text.Append(Render(group.Key, sessionOf(group.Key), group.ToList(), stepDiff, options)).Append('\n');
        }
        var serverEvents = all.Where(e => e.Entry.SessionId is null).ToList();
        if (serverEvents.Count > 0)
        {
            text.Append("# Server events\n\n");
            foreach (var e in serverEvents)
            {
                text.Append("- ").Append(Stamp(e)).Append(' ').Append(e.Entry.Tool ?? e.Entry.Kind.Replace('_', ' '));
                var summary = Transcript.Parse(e.Entry.Summary);
                if (summary is not null)
                {
                    text.Append(' ').Append(Code(summary.ToJsonString()));
                }
                if (e.Entry.Outcome != AuditOutcomes.Ok)
                {
                    text.Append(" — **").Append(e.Entry.Outcome).Append("**: ").Append(OneLine(e.Entry.Error ?? ""));
                }
                text.Append('\n');
            }
        }
        return text.Length == 0 ? "No audited events.\n" : text.ToString();
    }

    /// <summary>The report of one session from its events (in seq order).</summary>
    public static string Render(string sessionId, SessionRecord? session, IReadOnlyList<AuditEvent> events, Func<long, string?>? stepDiff = null, AuditReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(events);
        options ??= AuditReportOptions.Default;
        var text = new StringBuilder();
        var created = events.FirstOrDefault(e => e.Entry.Kind == AuditKinds.SessionCreated);
        var createdSummary = Transcript.Parse(created?.Entry.Summary) as JsonObject;
        var name = session?.Name ?? Str(createdSummary, "name");
        text.Append("# Session ").Append(sessionId);
        if (!string.IsNullOrEmpty(name))
        {
            text.Append(" — ").Append(Escape(name));
        }
        text.Append("\n\n| | |\n|---|---|\n");
        Row(text, "Backend", session?.Backend ?? Str(createdSummary, "backend"));
        Row(text, "Owner", session?.Owner ?? created?.Entry.Principal);
        Row(text, "Created", (session?.CreatedAt ?? created?.Entry.Time) is { } at ? Time(at) : null);
        Row(text, "Status", session is null ? "not in the registry" : SessionRecord.StatusName(session.Status) + (session.StatusDetail is { } detail ? $" ({detail})" : ""));
        Row(text, "Workspace", session?.WorkspacePath ?? Str(createdSummary, "workdir"));
        if (events.Count > 0)
        {
            Row(text, "Events", string.Create(CultureInfo.InvariantCulture, $"{events.Count:N0} (#{events[0].Seq} to #{events[^1].Seq}, {Time(events[0].Entry.Time)} to {Time(events[^1].Entry.Time)})"));
        }
        text.Append('\n').Append(Tally(events)).Append("\n\n");

        if (events.Count == 0)
        {
            text.Append("No events were recorded for this session.\n");
            return text.ToString();
        }
        text.Append("## Steps\n\n");
        foreach (var e in events)
        {
            Step(text, e, stepDiff?.Invoke(e.Seq), options);
        }
        return text.ToString();
    }

    private static string Tally(IReadOnlyList<AuditEvent> events)
    {
        int Count(Func<AuditEvent, bool> which) => events.Count(which);
        var commands = Count(e => e.Entry.Tool == "session_exec");
        var failed = Count(e => e.Entry.Tool == "session_exec" && Summary(e) is { } s && s["exit_code"] is JsonValue v && v.TryGetValue<int>(out var code) && code != 0);
        var parts = new List<string>
        {
            Plural(commands, "command") + (failed > 0 ? $" ({failed:N0} exited non-zero)" : ""),
            Plural(Count(e => e.Entry.Tool == "session_edit_file"), "edit"),
            Plural(Count(e => e.Entry.Tool == "session_write_file"), "file write"),
            Plural(Count(e => e.Entry.Kind is "job_ended" or "job_lost" && !IsTerminal(Str(Summary(e), "job_id"))), "job end"),
            Plural(Count(e => e.Entry.Tool == "session_terminal_open"), "terminal"),
            Plural(Count(e => e.Entry.Outcome != AuditOutcomes.Ok), "error"),
        };
        return "**" + string.Join(", ", parts) + ".**";
    }

    private static void Step(StringBuilder text, AuditEvent e, string? diff, AuditReportOptions options)
    {
        var entry = e.Entry;
        var arguments = Transcript.Parse(entry.Arguments) as JsonObject;
        var summary = Summary(e);
        var output = Transcript.Parse(entry.Output) as JsonObject;
        var failed = entry.Outcome != AuditOutcomes.Ok;
        string Arg(string key) => Str(arguments, key) ?? "";

        // Steps that only looked at something are one line each, unless they failed or changed files.
        if (!failed && string.IsNullOrEmpty(diff) && OneLiner(e, arguments, summary) is { } line)
        {
            text.Append("- ").Append(Stamp(e)).Append(' ').Append(line).Append('\n');
            return;
        }

        BlankLine(text);
        text.Append("### ").Append(Stamp(e)).Append(' ').Append(Title(e, arguments, summary)).Append("\n\n");
        if (entry.Principal is { } principal && principal != Access.Principal.LocalName)
        {
            text.Append("By ").Append(Code(principal)).Append(".\n\n");
        }
        switch (entry.Tool)
        {
            case "session_exec":
                var command = Arg("command");
                if (command.Contains('\n') || command.Contains('`') || command.Length > 80)
                {
                    Fenced(text, command, "sh");
                }
                Facts(text, summary, ("cwd", "in "), ("duration_ms", "ms: "), ("note", "note: "));
                if (output is not null)
                {
                    Stream(text, "stdout", Str(output, "stdout"), summary?["truncated"] is JsonValue t && t.TryGetValue<bool>(out var cut) && cut, options);
                    Stream(text, "stderr", Str(output, "stderr"), false, options);
                }
                break;
            case "session_edit_file" when output is not null:
                Labelled(text, "Edit", Str(output, "diff"), "diff", options);
                break;
            case "session_terminal_send":
                var typed = Flag(summary, "input_hidden") ? "(hidden input: not recorded)" : Arg("text");
                if (typed.Length > 0)
                {
                    Labelled(text, "Typed", typed, "text", options);
                }
                break;
        }
        if (entry.Kind is "job_ended" or "job_lost" && Str(summary, "command") is { } jobCommand)
        {
            Fenced(text, jobCommand, "sh");
        }
        if (failed)
        {
            text.Append("**").Append(entry.Outcome).Append(":** ").Append(Escape(OneLine(entry.Error ?? "(no message)"))).Append("\n\n");
        }
        if (!string.IsNullOrEmpty(diff))
        {
            Labelled(text, "Workspace changes", diff, "diff", options);
        }
    }

    /// <summary>The one line for a step that did not change anything, or null when it deserves a section.</summary>
    private static string? OneLiner(AuditEvent e, JsonObject? arguments, JsonObject? summary)
    {
        string Arg(string key) => Str(arguments, key) ?? "";
        string Sum(string key) => Str(summary, key) ?? "?";
        return e.Entry.Tool switch
        {
            "session_read_file" => $"read {Code(Arg("path"))} ({Sum("lines")} lines)",
            "session_list" => "listed sessions",
            "session_jobs" => $"listed jobs ({Sum("jobs")}, {Sum("running")} running)",
            "session_job_output" => $"read the output of job {Code(Arg("job_id"))} ({Sum("state")})",
            "session_job_input" => $"wrote {Sum("bytes_written")} bytes to job {Code(Arg("job_id"))}'s stdin{(Flag(summary, "stdin_open") ? "" : ", stdin closed")}",
            "session_terminal_read" => $"read terminal {Code(Arg("terminal_id"))} ({Sum("mode")}, {Sum("state")})",
            "session_terminal_resize" => $"resized terminal {Code(Arg("terminal_id"))} to {Sum("cols")}×{Sum("rows")}",
            "session_replay" => "read this session's history",
            "session_create" => "created the session",
            "session_share" => $"shared with {Code(Sum("token_name"))} ({Sum("scope")})",
            "session_edit_file" when Flag(summary, "dry_run") => $"tried an edit of {Code(Arg("path"))} without writing it (dry run)",
            null when e.Entry.Kind is AuditKinds.SessionCreated or AuditKinds.SessionDestroyed or AuditKinds.SessionLost or AuditKinds.SessionResumed =>
                $"**{e.Entry.Kind.Replace('_', ' ')}**{(summary is null ? "" : " " + Code(summary.ToJsonString()))}",
            _ => null,
        };
    }

    private static string Title(AuditEvent e, JsonObject? arguments, JsonObject? summary)
    {
        string Arg(string key) => Str(arguments, key) ?? "";
        string Sum(string key) => Str(summary, key) ?? "?";
        switch (e.Entry.Tool)
        {
            case "session_exec":
                var command = Arg("command");
                var shown = command.Contains('\n') || command.Contains('`') || command.Length > 80 ? "command" : Code("$ " + command);
                if (summary is null)
                {
                    return shown;
                }
                return shown + (Flag(summary, "background") ? $" → started job {Code(Sum("job_id"))}"
                    : Flag(summary, "handed_over") ? $" → still running at its timeout: handed over to job {Code(Sum("job_id"))}"
                    : $" → exit {Sum("exit_code")}{(Flag(summary, "timed_out") ? " (timed out)" : "")}");
            case "session_edit_file":
                return $"edit {Code(Arg("path"))}" + (summary is null ? "" : $" (+{Sum("lines_added")} −{Sum("lines_removed")}, {Sum("replacements")} replacement(s))");
            case "session_write_file":
                return $"write {Code(Arg("path"))}" + (summary is null ? "" : $" ({(Flag(summary, "created") ? "new file, " : "")}{Sum("bytes")} bytes)");
            case "session_job_kill":
                return $"kill job {Code(Arg("job_id"))}" + (summary is null ? "" : $" → {Sum("state")}");
            case "session_terminal_open":
                return $"open terminal {Code(Sum("terminal_id"))} ({Sum("cols")}×{Sum("rows")}): {Code(Str(arguments, "command") ?? "interactive shell")}";
            case "session_terminal_send":
                return $"type into terminal {Code(Arg("terminal_id"))}" + (arguments?["keys"] is JsonArray keys && keys.Count > 0 ? $" (keys: {string.Join(" ", keys.Select(k => k?.ToString()))})" : "");
            case "session_terminal_close":
                return $"close terminal {Code(Arg("terminal_id"))}" + (summary is null ? "" : $" → {Sum("state")}");
            case null when e.Entry.Kind is "job_ended" or "job_lost":
                var how = Str(summary, "exit_code") is { } code ? $"exit {code}" : Str(summary, "signal") is { } signal ? $"signal {signal}" : "no exit code";
                return $"{(IsTerminal(Str(summary, "job_id")) ? "terminal" : "job")} {Code(Sum("job_id"))} {(e.Entry.Kind == "job_lost" ? "lost" : "ended")}: {how}{(Flag(summary, "killed") ? " (killed)" : "")}, {Sum("output_bytes")} bytes of output";
            case null:
                return e.Entry.Kind.Replace('_', ' ') + (summary is null ? "" : " " + Code(summary.ToJsonString()));
            default:
                return e.Entry.Tool + (arguments is null ? "" : " " + Code(OneLine(Transcript.Cap(arguments, 200)!.ToJsonString())));
        }
    }

    private static void Facts(StringBuilder text, JsonObject? summary, params (string Key, string Label)[] facts)
    {
        var shown = facts.Where(f => Str(summary, f.Key) is { Length: > 0 }).Select(f => f.Key == "duration_ms"
            ? $"{Str(summary, f.Key)} ms"
            : f.Label + Code(Str(summary, f.Key)!)).ToList();
        if (shown.Count > 0)
        {
            text.Append(string.Join(" · ", shown)).Append("\n\n");
        }
    }

    private static void Stream(StringBuilder text, string name, string? content, bool capturedInPart, AuditReportOptions options)
    {
        if (string.IsNullOrEmpty(content))
        {
            return;
        }
        Labelled(text, name + (capturedInPart ? " (the server kept only part of it)" : ""), content, "text", options);
    }

    private static void Labelled(StringBuilder text, string label, string? content, string language, AuditReportOptions options)
    {
        if (string.IsNullOrEmpty(content))
        {
            return;
        }
        var (shown, note) = Cut(content, options.MaxOutputChars);
        text.Append("**").Append(label).Append("**").Append(note).Append('\n');
        Fenced(text, shown, language);
    }

    private static void Fenced(StringBuilder text, string content, string language)
    {
        // A fence longer than any run of backticks inside, so output holding ``` cannot end the block (CommonMark).
        var longest = 0;
        for (int i = 0, run = 0; i < content.Length; i++)
        {
            run = content[i] == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        var fence = new string('`', Math.Max(3, longest + 1));
        text.Append(fence).Append(language).Append('\n').Append(content);
        if (!content.EndsWith('\n'))
        {
            text.Append('\n');
        }
        text.Append(fence).Append("\n\n");
    }

    /// <summary>The start and the end of a long text with a line saying what was cut between them.</summary>
    private static (string Text, string Note) Cut(string content, int maxChars)
    {
        if (content.Length <= maxChars)
        {
            return (content, "");
        }
        var head = content.LastIndexOf('\n', Math.Max(0, maxChars * 2 / 5 - 1)) is var h and > 0 ? h + 1 : maxChars * 2 / 5;
        var tail = content.IndexOf('\n', content.Length - maxChars * 3 / 5) is var t and >= 0 && t < content.Length - 1 ? t + 1 : content.Length - maxChars * 3 / 5;
        tail = Math.Max(tail, head);
        var omitted = content.AsSpan(head, tail - head);
        var lines = omitted.Count('\n');
        var text = string.Concat(content.AsSpan(0, head), $"[… {omitted.Length:N0} characters ({lines:N0} lines) cut here …]\n", content.AsSpan(tail));
        return (text, string.Create(CultureInfo.InvariantCulture, $" ({content.Length:N0} characters; the first {head:N0} and the last {content.Length - tail:N0} shown)"));
    }

    /// <summary>Terminals are jobs with a PTY; their ids start with "t-".</summary>
    private static bool IsTerminal(string? jobId) => jobId?.StartsWith("t-", StringComparison.Ordinal) == true;

    /// <summary>Ends what was written with exactly one blank line, so sections are apart however the last one ended.</summary>
    private static void BlankLine(StringBuilder text)
    {
        while (text.Length > 0 && text[^1] == '\n')
        {
            text.Length--;
        }
        text.Append("\n\n");
    }

    private static JsonObject? Summary(AuditEvent e) => Transcript.Parse(e.Entry.Summary) as JsonObject;

    private static string? Str(JsonObject? node, string key) => node?[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        var other => other.ToJsonString(),
    };

    private static bool Flag(JsonObject? node, string key) => node?[key] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static void Row(StringBuilder text, string name, string? value) =>
        text.Append("| ").Append(name).Append(" | ").Append(value is null ? "—" : Escape(value)).Append(" |\n");

    private static string Stamp(AuditEvent e) => string.Create(CultureInfo.InvariantCulture, $"#{e.Seq} {e.Entry.Time.UtcDateTime:HH:mm:ss}");

    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Plural(int count, string noun) => string.Create(CultureInfo.InvariantCulture, $"{count:N0} {noun}{(count == 1 ? "" : "s")}");

    private static string OneLine(string text) => text.ReplaceLineEndings(" ⏎ ");

    /// <summary>Inline code that survives backticks inside (a longer delimiter, padded with spaces as CommonMark asks).</summary>
    private static string Code(string content)
    {
        content = OneLine(content);
        var delimiter = "`";
        while (content.Contains(delimiter, StringComparison.Ordinal))
        {
            delimiter += "`";
        }
        var pad = content.StartsWith('`') || content.EndsWith('`') ? " " : "";
        return delimiter + pad + content + pad + delimiter;
    }

    /// <summary>Text that Markdown shows as written: its punctuation escaped.</summary>
    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\\' or '`' or '*' or '_' or '[' or ']' or '<' or '>' or '|')
            {
                escaped.Append('\\');
            }
            escaped.Append(c);
        }
        return escaped.ToString();
    }
}
