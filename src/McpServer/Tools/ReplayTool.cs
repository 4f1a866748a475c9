using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Tools;

/// <summary>Reading a session's audited history.</summary>
[McpServerToolType]
internal sealed class ReplayTool(SessionRouter router, AuditLog audit, WorkspaceHistory history, SessionRerunner rerunner, ResultBudget budget)
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 500;

    [McpServerTool(Name = "session_replay", Title = "Replay a session's history", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        Returns a session's audited events in order: every tool call (with arguments, outcome, exit codes, diffs) and lifecycle change. Page with from_seq/limit and continue from next_seq (a page also ends early when the result size limit is reached). format "transcript" gives a compact readable log; "events" (default) gives structured events; "diff": per step, the command or edit and the diff of what it changed in the workspace. include_output: "truncated" (default, 2000 chars per stream), "none", or "full" (stored outputs as far as the result size limit allows). Secrets were redacted before storage. mode "rerun" (full access) re-executes the recorded commands, writes and edits in a fork of the session's start (or into_session_id) and reports each step whose exit code, output or files differ; the session itself is not changed.
        """)]
    public async Task<ReplayResult> ReplayAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session (destroyed and lost sessions can be replayed too).")] string session_id,
        [Description("First event sequence number to return (default: the beginning).")] long? from_seq = null,
        [Description("Maximum number of events (default 50, max 500).")] long? limit = null,
        [Description("Only calls of these tools, e.g. [\"session_exec\"].")] List<string>? tools = null,
        [Description("Default \"events\".")][AllowedValues("events", "transcript", "diff")] string? format = null,
        [Description("Default \"truncated\".")][AllowedValues("truncated", "none", "full")] string? include_output = null,
        [Description("\"history\" (default) or \"rerun\".")][AllowedValues("history", "rerun")] string? mode = null,
        [Description("rerun: the session to rerun into (default: a new fork).")] string? into_session_id = null,
        [Description("rerun: only list the steps.")] bool dry_run = false,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        if (mode == "rerun")
        {
            var report = await rerunner.RunAsync(call.Caller, session_id, into_session_id, dry_run,
                (done, all) => call.ReportProgressAsync(done, _ => $"step {done} of {all} rerun", cancellationToken), cancellationToken).ConfigureAwait(false);
            var verdicts = report.Steps.Select(RerunStepResult.From).ToList();
            call.Summary = new JsonObject
            {
                ["mode"] = "rerun",
                ["into_session_id"] = report.IntoSessionId,
                ["steps"] = verdicts.Count,
                ["differing"] = verdicts.Count(s => s.Status == "differs"),
            };
            return call.Complete(budget.Fit(verdicts.Count, count => ReplayResult.ForRerun(report.SessionId, report.IntoSessionId, dry_run, verdicts, count)));
        }
        if (into_session_id is not null || dry_run)
        {
            throw new SessionException("into_session_id and dry_run belong to mode \"rerun\"; nothing was done");
        }
        var session = router.Get(call.Caller, session_id);
        ToolArguments.RequireRange(from_seq, "from_seq", 0, long.MaxValue);
        ToolArguments.RequireRange(limit, "limit", 1, MaxLimit);
        var detail = include_output switch
        {
            "none" => OutputDetail.None,
            "full" => OutputDetail.Full,
            _ => OutputDetail.Truncated,
        };
        var shape = format ?? "events";

        var pageSize = (int)(limit ?? DefaultLimit);
        var page = audit.ReadSession(session.Id, from_seq ?? 0, pageSize + 1, tools);
        var available = Math.Min(page.Count, pageSize);
        // A step's changes are computed once per page, whatever the fitting below tries.
        var steps = shape == "diff" ? page.Take(available).ToDictionary(e => e.Seq, e => StepChanges(e)) : null;
        // Each event is shaped and rendered once; fitting the page to the budget then only counts how many to take.
        var whole = ReplayResult.Prepare(page.Take(available).ToList(), shape, detail, int.MaxValue, steps);
        ReplayResult Build(int count, int maxStringChars) => ReplayResult.Create(
            session.Id,
            maxStringChars == int.MaxValue ? whole.Take(count).ToList() : ReplayResult.Prepare(page.Take(count).ToList(), shape, detail, maxStringChars, steps),
            count < page.Count ? page[count].Seq : null,
            shape);

        // Where the page will end, from each event's own cost (its rendering and its JSON): the fitting then starts at
        // a count that fits, instead of searching by building and measuring whole pages.
        var costs = whole.Select(e => e.Rendered.Length + (
            e.Event is { } shaped ? System.Text.Json.JsonSerializer.Serialize(shaped, ToolJson.Options).Length
            : e.Step is { } step ? System.Text.Json.JsonSerializer.Serialize(step, ToolJson.Options).Length
            : e.Rendered.Length)).ToList();
        var likely = 0;
        for (long spent = 0; likely < costs.Count && (spent += costs[likely]) <= budget.MaxChars; likely++)
        {
        }
        var result = budget.Fit(Math.Max(likely, Math.Min(1, available)), count => Build(count, int.MaxValue));
        if (result.Count == 0 && available > 0)
        {
            // One event too large on its own: show it with its long strings cut, so paging always moves on.
            result = budget.Fit(budget.MaxChars, chars => Build(1, chars));
        }
        call.Summary = new JsonObject { ["events"] = result.Count, ["next_seq"] = result.NextSeq };
        return call.Complete(result);

        (IReadOnlyList<FileChange> Changes, string Diff) StepChanges(AuditEvent e)
        {
            if (e.Entry.Summary?.Contains("\"workspace\"", StringComparison.Ordinal) != true)
            {
                return ([], "");
            }
            var changes = history.Changes(session.Id, e.Seq - 1, e.Seq);
            return (changes, GitPatch.Write(changes, history.Store, PatchStyle.Review).Text);
        }
    }
}

/// <summary>The result of session_replay: events or a transcript, and where to continue.</summary>
internal sealed record ReplayResult(string SessionId, string Format, long EventSeq, IReadOnlyList<ReplayEvent>? Events = null, string? Transcript = null, long? NextSeq = null, IReadOnlyList<ReplayStep>? Steps = null, RerunResult? Rerun = null) : IToolResult
{
    /// <summary>A rerun's verdict: the first <paramref name="shown"/> steps (differing ones first), and the counts of all.</summary>
    public static ReplayResult ForRerun(string sessionId, string? into, bool dryRun, IReadOnlyList<RerunStepResult> steps, int shown)
    {
        var ordered = steps.OrderBy(s => s.Status == "differs" ? 0 : 1).ThenBy(s => s.Seq).Take(shown).OrderBy(s => s.Seq).ToList();
        var rerun = new RerunResult(dryRun, steps.Count(s => s.Status is "same" or "differs"), steps.Count(s => s.Status == "differs"), steps.Count(s => s.Status == "skipped"), ordered, steps.Count, into);
        var text = (dryRun ? $"rerun of {sessionId} (dry run): {steps.Count} steps" : $"rerun of {sessionId} into {into}: {rerun.Run} steps run, {rerun.Differing} differ, {rerun.Skipped} skipped")
            + string.Concat(ordered.Select(s => "\n" + s.Line())) + (ordered.Count < steps.Count ? $"\n... {steps.Count - ordered.Count} more steps, all as the original" : "");
        return new ReplayResult(sessionId, "rerun", 0, Rerun: rerun) { Count = ordered.Count, Rendered = text };
    }

    /// <summary>How many events the page holds.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Count { get; private init; }

    /// <summary>The events' transcript, which is also the rendering of the events format.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Rendered { get; private init; } = "";

    /// <summary>One event of a page as each format shows it, made once per page.</summary>
    internal sealed record PreparedEvent(string Rendered, ReplayEvent? Event, ReplayStep? Step);

    public static IReadOnlyList<PreparedEvent> Prepare(IReadOnlyList<AuditEvent> events, string format, OutputDetail detail, int maxStringChars,
        IReadOnlyDictionary<long, (IReadOnlyList<FileChange> Changes, string Diff)>? steps = null) =>
        [.. events.Select(e =>
        {
            if (format == "diff" && steps is not null)
            {
                var step = ReplayStep.Create(e, steps[e.Seq].Changes, steps[e.Seq].Diff, maxStringChars);
                return new PreparedEvent(step.Render() + "\n", null, step);
            }
            var rendered = SessionRouting.Audit.Transcript.Render([e], detail, maxStringChars);
            return format == "transcript" ? new PreparedEvent(rendered, null, null) : new PreparedEvent(rendered, new ReplayEvent(
                e.Seq, e.Entry.Time, e.Entry.Kind, e.Entry.Outcome, e.Entry.DurationMs, e.Entry.Tool, e.Entry.Error, e.Entry.Client,
                SessionRouting.Audit.Transcript.Cap(SessionRouting.Audit.Transcript.Parse(e.Entry.Arguments), maxStringChars),
                SessionRouting.Audit.Transcript.Cap(SessionRouting.Audit.Transcript.Parse(e.Entry.Summary), maxStringChars),
                SessionRouting.Audit.Transcript.ShapeOutput(SessionRouting.Audit.Transcript.Parse(e.Entry.Output) as JsonObject, detail, maxStringChars),
                e.Entry.Principal,
                e.OutputPruned && detail != OutputDetail.None ? true : null), null);
        })];

    public static ReplayResult Create(string sessionId, IReadOnlyList<PreparedEvent> events, long? next, string format)
    {
        var rendered = string.Concat(events.Select(e => e.Rendered));
        return format switch
        {
            "diff" => new ReplayResult(sessionId, "diff", 0, NextSeq: next, Steps: [.. events.Select(e => e.Step!)]) { Count = events.Count, Rendered = rendered.TrimEnd('\n') },
            "transcript" => new ReplayResult(sessionId, "transcript", 0, Transcript: rendered, NextSeq: next) { Count = events.Count, Rendered = rendered },
            _ => new ReplayResult(sessionId, "events", 0, Events: [.. events.Select(e => e.Event!)], NextSeq: next) { Count = events.Count, Rendered = rendered },
        };
    }

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() => Rerun is not null ? $"{Rendered}\nevent_seq {EventSeq}" :
        $"{Count} {(Count == 1 ? "event" : "events")} of session {SessionId}, event_seq {EventSeq}"
        + (NextSeq is { } next ? $"; more from from_seq {next}" : "; no more")
        + "\n" + Rendered;
}

/// <summary>A rerun: where it ran, how many steps were run, differed and skipped, and the steps shown.</summary>
internal sealed record RerunResult(bool DryRun, int Run, int Differing, int Skipped, IReadOnlyList<RerunStepResult> Steps, int TotalSteps, string? IntoSessionId = null);

/// <summary>One step of a rerun.</summary>
/// <param name="Status">same, differs, skipped, or planned (dry run).</param>
internal sealed record RerunStepResult(long Seq, string Tool, string What, string Status, IReadOnlyList<string>? Differences = null, string? Reason = null, string? Caveat = null)
{
    public static RerunStepResult From((RerunStep Step, IReadOnlyList<string>? Differences) s) => new(
        s.Step.Seq,
        s.Step.Tool,
        s.Step.What.Length > 300 ? s.Step.What[..300] + "..." : s.Step.What,
        s.Step.Skipped is not null ? "skipped" : s.Differences is null ? "planned" : s.Differences.Count == 0 ? "same" : "differs",
        s.Differences is { Count: > 0 } d ? d : null,
        s.Step.Skipped,
        s.Step.Caveat);

    public string Line() =>
        $"#{Seq} {What}: {Status}" + (Differences is null ? "" : ": " + string.Join("; ", Differences)) + (Reason is null ? "" : $" ({Reason})") + (Caveat is null ? "" : $" [{Caveat}]");
}

/// <summary>One event as the diff format shows it: what was called and what it did to the workspace.</summary>
/// <param name="What">The command (session_exec), the path (file tools), or what the event was.</param>
internal sealed record ReplayStep(long Seq, string Kind, string Outcome, string What, string? Tool = null, int? ExitCode = null, ChangeSet? Changes = null)
{
    public static ReplayStep Create(AuditEvent e, IReadOnlyList<FileChange> changes, string diff, int maxStringChars)
    {
        var arguments = SessionRouting.Audit.Transcript.Parse(e.Entry.Arguments) as JsonObject;
        var summary = SessionRouting.Audit.Transcript.Parse(e.Entry.Summary) as JsonObject;
        var what = arguments?["command"]?.GetValue<string>() is { } command ? "$ " + command
            : arguments?["path"]?.GetValue<string>() is { } path ? $"{e.Entry.Tool} {path}"
            : e.Entry.Tool ?? e.Entry.Kind;
        if (what.Length > 500)
        {
            what = what[..500] + "...";
        }
        int? exitCode = summary?["exit_code"] is JsonValue code && code.TryGetValue<int>(out var value) ? value : null;
        return new ReplayStep(e.Seq, e.Entry.Kind, e.Entry.Outcome, what, e.Entry.Tool, exitCode,
            changes.Count == 0 ? null : ChangeSet.Create(changes, diff, maxStringChars));
    }

    public string Render() =>
        $"#{Seq} {What}" + (ExitCode is { } code ? $" (exit {code})" : "") + (Outcome == "ok" ? "" : $" [{Outcome}]")
        + (Changes is null ? "" : "\n" + Changes.Render());
}

/// <summary>One audited event as replay shows it.</summary>
internal sealed record ReplayEvent(
    long Seq,
    DateTimeOffset Time,
    string Kind,
    string Outcome,
    long DurationMs,
    string? Tool = null,
    string? Error = null,
    string? Client = null,
    JsonNode? Arguments = null,
    JsonNode? Summary = null,
    JsonNode? Output = null,
    [property: Description("Who made the call: a token's name, or \"local\".")] string? Principal = null,
    [property: Description("true: retention dropped this output.")] bool? OutputPruned = null);
