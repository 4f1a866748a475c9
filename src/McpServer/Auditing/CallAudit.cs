using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using SdkServer = ModelContextProtocol.Server.McpServer;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// What a tool adds to the audit record of the call it serves. The audit filter opens one per tools/call and writes the
/// event when the tool returns; tools only fill it in, so no tool can forget to audit or audit twice.
/// </summary>
internal sealed class CallAudit(SdkServer server, ProgressToken? progressToken)
{
    private static readonly AsyncLocal<CallAudit?> CurrentCall = new();

    /// <summary>The call being served on this async flow (null outside a tools/call).</summary>
    public static CallAudit? Current
    {
        get => CurrentCall.Value;
        set => CurrentCall.Value = value;
    }

    public SdkServer Server { get; } = server;

    public ProgressToken? ProgressToken { get; } = progressToken;

    /// <summary>The session the call concerns; set by session_create for the new session.</summary>
    public string? SessionId { get; set; }

    /// <summary>Small facts about the result (exit code, byte counts, diff stats), stored as JSON.</summary>
    public JsonObject? Summary { get; set; }

    /// <summary>Full output (complete stdout/stderr, the diff): stored, redacted, and readable through session_replay.</summary>
    public JsonObject? Output { get; set; }

    /// <summary>Sends a progress notification and waits until it is written, so none arrives after the result.</summary>
    public async Task ReportProgressAsync(double progress, string message, CancellationToken cancellationToken)
    {
        if (ProgressToken is { } token)
        {
            await Server.NotifyProgressAsync(token, new ModelContextProtocol.ProgressNotificationValue { Progress = (float)progress, Message = message }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }
}
