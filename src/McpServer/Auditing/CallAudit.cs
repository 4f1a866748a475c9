using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Access;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// What a tool adds to the audit record of the call it serves. The audit filter opens one per tools/call, keeps it in the
/// request's own state (<see cref="MessageContext.Items"/>) and writes the event when the tool returns; tools only fill
/// it in, so no tool can forget to audit or audit twice.
/// </summary>
internal sealed class CallAudit
{
    private const string ItemKey = "session-mcp.call";

    private readonly ModelContextProtocol.Server.McpServer _server;
    private readonly ProgressToken? _progressToken;
    private double _lastProgress;

    private readonly CallContext? _caller;

    private CallAudit(ModelContextProtocol.Server.McpServer server, ProgressToken? progressToken, string? sessionId, CallContext? caller)
    {
        _server = server;
        _progressToken = progressToken;
        _caller = caller;
        SessionId = sessionId;
    }

    /// <summary>Opens the record of <paramref name="request"/>; tools find it with <see cref="Of"/>.</summary>
    /// <param name="caller">Who calls; null when the request carries no valid identity (the filter then refuses it).</param>
    public static CallAudit Open(RequestContext<CallToolRequestParams> request, string? sessionId, CallContext? caller)
    {
        var call = new CallAudit(request.Server, request.Params?.ProgressToken, sessionId, caller);
        request.Items[ItemKey] = call;
        return call;
    }

    /// <summary>The record of the call a tool is serving.</summary>
    public static CallAudit Of(RequestContext<CallToolRequestParams> request) =>
        request.Items.TryGetValue(ItemKey, out var item) && item is CallAudit call
            ? call
            : throw new InvalidOperationException("tools/call reached a tool without the audit filter");

    /// <summary>Who calls, as the router needs it; a tool only runs for a caller the filter resolved and allowed.</summary>
    public CallContext Caller => _caller ?? throw new InvalidOperationException("a tool ran for a call without a caller");

    /// <summary>The session the call concerns; set by session_create for the new session.</summary>
    public string? SessionId { get; set; }

    /// <summary>Small facts about the result (exit code, byte counts, diff stats), stored as JSON.</summary>
    public JsonObject? Summary { get; set; }

    /// <summary>Full output (complete stdout/stderr, the diff): stored, redacted, and readable through session_replay.</summary>
    public JsonObject? Output { get; set; }

    /// <summary>
    /// Arguments whose values the record must not keep, set by the tool once it knows (text typed at a terminal that
    /// was not echoing: a password).
    /// </summary>
    public HashSet<string> HiddenArguments { get; } = new(StringComparer.Ordinal);

    /// <summary>The typed result; the filter turns it into the protocol result once the event (and its number) exists.</summary>
    public IToolResult? Result { get; private set; }

    public bool WantsProgress => _progressToken is not null;

    /// <summary>Records the tool's result and hands it back, so a tool ends with <c>return call.Complete(result)</c>.</summary>
    public T Complete<T>(T result)
        where T : IToolResult
    {
        Result = result;
        return result;
    }

    /// <summary>
    /// Sends a progress notification and waits until it is written, so none arrives after the result. Progress must
    /// strictly increase (the specification requires it), so a value not above the last one is raised just above it;
    /// the message is made from the value actually sent.
    /// </summary>
    public async Task ReportProgressAsync(double progress, Func<double, string> message, CancellationToken cancellationToken)
    {
        if (_progressToken is not { } token)
        {
            return;
        }
        var value = Math.Round(Math.Max(progress, _lastProgress + 0.1), 1);
        _lastProgress = value;
        await _server.NotifyProgressAsync(token, new ModelContextProtocol.ProgressNotificationValue { Progress = (float)value, Message = message(value) }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
