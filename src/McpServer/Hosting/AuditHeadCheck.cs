using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// At start, compares the log with the head the server recorded outside it (<see cref="AuditHeadFile"/>). A log that
/// lost its newest events, or holds another event at the recorded number, is logged as an error and recorded as an
/// event of its own, so the loss stays visible in the log itself; the server keeps serving.
/// </summary>
internal static partial class AuditHeadCheck
{
    public static void Run(IServiceProvider services)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var file = services.GetRequiredService<AuditHeadFile>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("SessionMcp.Audit");

        AuditHead? recorded;
        try
        {
            recorded = file.Read();
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            LogHeadUnreadable(logger, file.Path, e.Message);
            return;
        }
        if (recorded is null || audit.CheckHead(recorded.Seq, recorded.Hash) is not { } mismatch)
        {
            return;
        }

        var found = audit.Head();
        LogHeadMismatch(logger, file.Path, mismatch);
        audit.Append(new AuditEntry(
            services.GetRequiredService<TimeProvider>().GetUtcNow(),
            SessionId: null,
            Kind: found.Seq < recorded.Seq ? AuditKinds.AuditTailMissing : AuditKinds.AuditHeadMismatch,
            Tool: null,
            Client: null,
            Arguments: null,
            Outcome: AuditOutcomes.Error,
            Error: $"the log does not hold the head recorded in {file.Path}: {mismatch}",
            Summary: new JsonObject
            {
                ["expected_seq"] = recorded.Seq,
                ["expected_hash"] = recorded.Hash,
                ["found_seq"] = found.Seq,
                ["found_hash"] = found.Hash,
            }.ToJsonString(),
            DurationMs: 0,
            Output: null));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit log does not match the head recorded in {HeadFile}: {Mismatch}")]
    private static partial void LogHeadMismatch(ILogger logger, string headFile, string mismatch);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit head file {HeadFile} is unreadable, so a deleted tail cannot be detected at this start: {Problem}")]
    private static partial void LogHeadUnreadable(ILogger logger, string headFile, string problem);
}
