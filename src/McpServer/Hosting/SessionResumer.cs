using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// Re-attaches the sessions of an earlier run in the background, so the MCP handshake is answered at once (a client
/// waits for <c>initialize</c>; a Docker engine that is slow or down must not make it wait). Tool calls wait for
/// <see cref="SessionRouter.Resumed"/> in the audit filter.
/// </summary>
internal sealed partial class SessionResumer(SessionRouter router, ILogger<SessionResumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the host start the transport first; the re-attach then runs beside the handshake.
        await Task.Yield();
        try
        {
            await router.ResumeAllAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Sessions keep their last known state; calls on them say what fails.
            LogResumeFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Re-attaching the sessions of the previous run failed")]
    private static partial void LogResumeFailed(ILogger logger, Exception exception);
}
