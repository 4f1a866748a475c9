using System.Net.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Attention;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>
/// Feeds the <see cref="AttentionBoard"/>: every audited event as it is committed, and twice a second which jobs and
/// terminals of running sessions wait for input (the backends detect it; nothing is audited for a look) and which
/// agents went idle. Each new flag is POSTed to the configured webhook, if any, as JSON.
/// </summary>
internal sealed partial class AttentionMonitor(
    AttentionBoard board,
    AuditLog audit,
    SessionRegistry registry,
    SessionRouter router,
    DashboardSettings settings,
    TimeProvider time,
    ILogger<AttentionMonitor> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan WebhookTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpClient _webhook = new() { Timeout = WebhookTimeout };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        audit.Appended += board.Observe;
        board.Raised += Post;
        try
        {
            using var timer = new PeriodicTimer(Interval, time);
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Poll();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            audit.Appended -= board.Observe;
            board.Raised -= Post;
        }
    }

    public override void Dispose()
    {
        _webhook.Dispose();
        base.Dispose();
    }

    private void Poll()
    {
        var now = time.GetUtcNow();
        try
        {
            foreach (var session in registry.List().Where(s => s.Status == SessionStatus.Running))
            {
                foreach (var job in router.Jobs.List(session.Id))
                {
                    var status = router.Jobs.StatusOf(job);
                    board.ObserveWaiting(session.Id, job.Info.JobId, job.Info.Command, status.State == "running" && status.WaitingForInput == true, now);
                }
            }
            board.Tick(now);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The next tick tries again; the board must not stop because one probe failed.
            LogPollFailed(logger, e);
        }
    }

    private void Post(AttentionFlag flag)
    {
        if (settings.Webhook is not { } url)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                using var response = await _webhook.PostAsJsonAsync(url, DashboardFeed.Describe(flag)).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    LogWebhookRefused(logger, url, (int)response.StatusCode);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                LogWebhookFailed(logger, e, url);
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention poll failed")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention webhook {Url} answered {Status}")]
    private static partial void LogWebhookRefused(ILogger logger, Uri url, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention webhook {Url} failed")]
    private static partial void LogWebhookFailed(ILogger logger, Exception exception, Uri url);
}
