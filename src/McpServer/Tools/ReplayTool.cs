using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Tools;

/// <summary>Reading a session's audited history.</summary>
[McpServerToolType]
internal sealed class ReplayTool(SessionRouter router, AuditLog audit, ResultBudget budget)
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 500;

    [McpServerTool(Name = "session_replay", Title = "Replay a session's history", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        Returns a session's audited events in order: every tool call (with arguments, outcome, exit codes, diffs) and lifecycle change. Page with from_seq/limit and continue from next_seq (a page also ends early when the result size limit is reached). format "transcript" gives a compact readable log; "events" (default) gives structured events. include_output: "truncated" (default, 2000 chars per stream), "none", or "full" (stored outputs as far as the result size limit allows). Secrets were redacted before storage.
        """)]
    public ReplayResult Replay(
        RequestContext<CallToolRequestParams> request,
        [Description("The session (destroyed and lost sessions can be replayed too).")] string session_id,
        [Description("First event sequence number to return (default: the beginning).")] long? from_seq = null,
        [Description("Maximum number of events (default 50, max 500).")] long? limit = null,
        [Description("Only calls of these tools, e.g. [\"session_exec\"].")] List<string>? tools = null,
        [Description("Default \"events\".")][AllowedValues("events", "transcript")] string? format = null,
        [Description("Default \"truncated\".")][AllowedValues("truncated", "none", "full")] string? include_output = null)
    {
        var call = CallAudit.Of(request);
        var session = router.Get(call.Caller, session_id);
        ToolArguments.RequireRange(from_seq, "from_seq", 0, long.MaxValue);
        ToolArguments.RequireRange(limit, "limit", 1, MaxLimit);
        var detail = include_output switch
        {
            "none" => OutputDetail.None,
            "full" => OutputDetail.Full,
            _ => OutputDetail.Truncated,
        };
        var transcript = format == "transcript";

        var pageSize = (int)(limit ?? DefaultLimit);
        var page = audit.ReadSession(session.Id, from_seq ?? 0, pageSize + 1, tools);
        var available = Math.Min(page.Count, pageSize);
        ReplayResult Build(int count, int maxStringChars) =>
            ReplayResult.Create(session.Id, page.Take(count).ToList(), count < page.Count ? page[count].Seq : null, transcript, detail, maxStringChars);

        var result = budget.Fit(available, count => Build(count, int.MaxValue));
        if (result.Count == 0 && available > 0)
        {
            // One event too large on its own: show it with its long strings cut, so paging always moves on.
            result = budget.Fit(budget.MaxChars, chars => Build(1, chars));
        }
        call.Summary = new JsonObject { ["events"] = result.Count, ["next_seq"] = result.NextSeq };
        return call.Complete(result);
    }
}

/// <summary>The result of session_replay: events or a transcript, and where to continue.</summary>
internal sealed record ReplayResult(string SessionId, string Format, long EventSeq, IReadOnlyList<ReplayEvent>? Events = null, string? Transcript = null, long? NextSeq = null) : IToolResult
{
    /// <summary>How many events the page holds.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Count { get; private init; }

    /// <summary>The events' transcript, which is also the rendering of the events format.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Rendered { get; private init; } = "";

    public static ReplayResult Create(string sessionId, IReadOnlyList<AuditEvent> events, long? next, bool transcript, OutputDetail detail, int maxStringChars)
    {
        var rendered = SessionRouting.Audit.Transcript.Render(events, detail, maxStringChars);
        if (transcript)
        {
            return new ReplayResult(sessionId, "transcript", 0, Transcript: rendered, NextSeq: next) { Count = events.Count, Rendered = rendered };
        }
        var shaped = events.Select(e => new ReplayEvent(
            e.Seq, e.Entry.Time, e.Entry.Kind, e.Entry.Outcome, e.Entry.DurationMs, e.Entry.Tool, e.Entry.Error, e.Entry.Client,
            SessionRouting.Audit.Transcript.Cap(SessionRouting.Audit.Transcript.Parse(e.Entry.Arguments), maxStringChars),
            SessionRouting.Audit.Transcript.Cap(SessionRouting.Audit.Transcript.Parse(e.Entry.Summary), maxStringChars),
            SessionRouting.Audit.Transcript.ShapeOutput(SessionRouting.Audit.Transcript.Parse(e.Entry.Output) as JsonObject, detail, maxStringChars),
            e.Entry.Principal,
            e.OutputPruned && detail != OutputDetail.None ? true : null)).ToList();
        return new ReplayResult(sessionId, "events", 0, Events: shaped, NextSeq: next) { Count = events.Count, Rendered = rendered };
    }

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        $"{Count} {(Count == 1 ? "event" : "events")} of session {SessionId}, event_seq {EventSeq}"
        + (NextSeq is { } next ? $"; more from from_seq {next}" : "; no more")
        + "\n" + Rendered;
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
    [property: Description("Who made the call: a token's name, or \"local\" (the server's own user); absent for what the server recorded on its own and for events older than principals.")] string? Principal = null,
    [property: Description("true: retention dropped this output.")] bool? OutputPruned = null);
