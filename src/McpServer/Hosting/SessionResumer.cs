using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// Checks the audit log against its recorded head and re-attaches the sessions of an earlier run in the background, so
/// the MCP handshake is answered at once (a client waits for <c>initialize</c>; a Docker engine that is slow or down must
/// not make it wait). Tool calls wait for <see cref="SessionRouter.Resumed"/> in the audit filter, so none appends
/// before the head check or races the re-attach.
/// </summary>
internal sealed partial class SessionResumer(IServiceProvider services, SessionRouter router, ILogger<SessionResumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the host start the transport first; this then runs beside the handshake.
        await Task.Yield();
        try
        {
            // Before anything appends: the first append overwrites the recorded head.
            AuditHeadCheck.Run(services);
            InterruptedCalls.Record(services);
        }
        catch (Exception e)
        {
            LogStartCheckFailed(logger, e, "checking the audit log's recorded head and recording interrupted calls");
        }
        try
        {
            // Completes SessionRouter.Resumed whatever happens, so calls never wait forever.
            await router.ResumeAllAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Sessions keep their last known state; calls on them say what fails.
            LogStartCheckFailed(logger, e, "re-attaching the sessions of the previous run");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Start-up step failed: {Step}")]
    private static partial void LogStartCheckFailed(ILogger logger, Exception exception, string step);
}
