using System.ComponentModel;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Tools;

/// <summary>Reading a session's audited history.</summary>
[McpServerToolType]
internal sealed class ReplayTool(SessionRouter router, AuditLog audit)
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 500;

    [McpServerTool(Name = "session_replay", Title = "Replay a session's history", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        Returns a session's audited events in order: every tool call (with arguments, outcome, exit codes, diffs) and lifecycle change. Page with from_seq/limit and continue from next_seq. format "transcript" gives a compact readable log; "events" (default) gives structured events. include_output: "truncated" (default, 2000 chars per stream), "none", or "full" for complete stored outputs (e.g. the whole output of a command whose result was truncated). Secrets were redacted before storage.
        """)]
    public ReplayResult Replay(
        [Description("The session (destroyed and lost sessions can be replayed too).")] string session_id,
        [Description("First event sequence number to return (default: the beginning).")] long? from_seq = null,
        [Description("Maximum number of events (default 50, max 500).")] int? limit = null,
        [Description("Only calls of these tools, e.g. [\"session_exec\"].")] List<string>? tools = null,
        [Description("\"events\" (default) or \"transcript\".")] string? format = null,
        [Description("\"truncated\" (default), \"none\" or \"full\".")] string? include_output = null)
    {
        var session = router.Get(session_id);
        ToolArguments.RequireRange(from_seq, "from_seq", 0, long.MaxValue);
        ToolArguments.RequireRange(limit, "limit", 1, MaxLimit);
        var detail = include_output switch
        {
            null or "truncated" => OutputDetail.Truncated,
            "none" => OutputDetail.None,
            "full" => OutputDetail.Full,
            _ => throw new SessionException($"include_output must be \"truncated\", \"none\" or \"full\", got \"{include_output}\""),
        };
        if (format is not (null or "events" or "transcript"))
        {
            throw new SessionException($"format must be \"events\" or \"transcript\", got \"{format}\"");
        }

        var pageSize = limit ?? DefaultLimit;
        var page = audit.ReadSession(session.Id, from_seq ?? 0, pageSize + 1, tools);
        var more = page.Count > pageSize;
        var events = more ? page.Take(pageSize).ToList() : page;
        long? next = more ? page[pageSize].Seq : null;
        CallAudit.Current?.Summary = new JsonObject { ["events"] = events.Count, ["next_seq"] = next };

        if (format == "transcript")
        {
            return new ReplayResult(session.Id, "transcript", null, Transcript.Render(events, detail), next, 0);
        }
        var shaped = events.Select(e => new ReplayEvent(
            e.Seq, e.Entry.Time, e.Entry.Kind, e.Entry.Tool, e.Entry.Outcome, e.Entry.Error, e.Entry.Client,
            Transcript.Parse(e.Entry.Arguments), Transcript.Parse(e.Entry.Summary), e.Entry.DurationMs,
            Transcript.ShapeOutput(Transcript.Parse(e.Entry.Output) as JsonObject, detail))).ToList();
        return new ReplayResult(session.Id, "events", shaped, null, next, 0);
    }
}

/// <summary>The result of session_replay: events or a transcript, and where to continue.</summary>
internal sealed record ReplayResult(string SessionId, string Format, IReadOnlyList<ReplayEvent>? Events, string? Transcript, long? NextSeq, long EventSeq);

/// <summary>One audited event as replay shows it.</summary>
internal sealed record ReplayEvent(
    long Seq,
    DateTimeOffset Time,
    string Kind,
    string? Tool,
    string Outcome,
    string? Error,
    string? Client,
    JsonNode? Arguments,
    JsonNode? Summary,
    long DurationMs,
    JsonNode? Output);
