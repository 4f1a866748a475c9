using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using SessionMcp.SessionRouting.Attention;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>One message of the live feed: its SSE event name, the session it concerns (null: none) and its JSON.</summary>
internal sealed record FeedItem(string Type, string? SessionId, string Json);

/// <summary>
/// Fans out what happens in the daemon to every open dashboard: each audited event as it is committed (the audit log
/// notifies in process, nothing is polled) and each attention flag raised or cleared. Every subscriber has a bounded
/// queue: a dashboard that stops reading loses its oldest items, never slows the calls being audited.
/// </summary>
internal sealed class DashboardFeed : IDisposable
{
    private const int QueueLength = 1000;
    private const int MaxErrorChars = 500;

    private readonly ConcurrentDictionary<Channel<FeedItem>, byte> _subscribers = new();
    private readonly AuditLog _audit;
    private readonly AttentionBoard _board;

    public DashboardFeed(AuditLog audit, AttentionBoard board)
    {
        _audit = audit;
        _board = board;
        _audit.Appended += OnAppended;
        _board.Raised += OnRaised;
        _board.Cleared += OnCleared;
    }

    /// <summary>A new subscriber's queue; dispose the handle to leave.</summary>
    public (ChannelReader<FeedItem> Reader, IDisposable Leave) Subscribe()
    {
        var channel = Channel.CreateBounded<FeedItem>(new BoundedChannelOptions(QueueLength) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        _subscribers[channel] = 0;
        return (channel.Reader, new Leaving(() =>
        {
            _subscribers.TryRemove(channel, out _);
            channel.Writer.TryComplete();
        }));
    }

    /// <summary>An event as the dashboard shows it: what the timeline needs, the error cut to a line's worth.</summary>
    public static JsonObject Describe(AuditEvent e, bool withDetails = false)
    {
        var entry = e.Entry;
        var node = new JsonObject
        {
            ["seq"] = e.Seq,
            ["ts"] = HashChain.FormatTime(entry.Time),
            ["session_id"] = entry.SessionId,
            ["kind"] = entry.Kind,
            ["tool"] = entry.Tool,
            ["outcome"] = entry.Outcome,
            ["principal"] = entry.Principal,
            ["duration_ms"] = entry.DurationMs,
            ["error"] = entry.Error is { } error && error.Length > MaxErrorChars ? error[..MaxErrorChars] + "..." : entry.Error,
            ["summary"] = Parse(entry.Summary),
            ["target"] = Target(entry.Arguments),
        };
        if (withDetails)
        {
            node["arguments"] = Parse(entry.Arguments);
            node["output"] = Parse(entry.Output);
        }
        return node;
    }

    public static JsonObject Describe(AttentionFlag flag) => new()
    {
        ["session_id"] = flag.SessionId,
        ["reason"] = flag.Reason,
        ["detail"] = flag.Detail,
        ["since"] = HashChain.FormatTime(flag.Since),
        ["seq"] = flag.Seq,
        ["job_id"] = flag.JobId,
    };

    public void Dispose()
    {
        _audit.Appended -= OnAppended;
        _board.Raised -= OnRaised;
        _board.Cleared -= OnCleared;
    }

    private void OnAppended(AuditEvent e) => Publish(new FeedItem("event", e.Entry.SessionId, Describe(e).ToJsonString()));

    private void OnRaised(AttentionFlag flag) => Publish(new FeedItem("attention", flag.SessionId, Describe(flag).ToJsonString()));

    private void OnCleared(string sessionId) => Publish(new FeedItem("attention_cleared", sessionId, new JsonObject { ["session_id"] = sessionId }.ToJsonString()));

    private void Publish(FeedItem item)
    {
        foreach (var channel in _subscribers.Keys)
        {
            channel.Writer.TryWrite(item);
        }
    }

    /// <summary>What a call acted on, for a one-line view: its command or path (arguments are already redacted), cut short.</summary>
    private static string? Target(string? arguments)
    {
        if (Parse(arguments) is not JsonObject args)
        {
            return null;
        }
        var text = (args["command"] ?? args["path"] ?? args["job_id"] ?? args["terminal_id"]) is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
        return text is { Length: > 200 } ? text[..197] + "..." : text;
    }

    private static JsonNode? Parse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException)
        {
            return json;
        }
    }

    private sealed class Leaving(Action leave) : IDisposable
    {
        public void Dispose() => leave();
    }
}
