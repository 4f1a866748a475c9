using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// What the server does between calls, once the sessions of the previous run are re-attached: hibernates idle sessions,
/// checks that helpers answer, reaps leftover containers every grace period, and follows each backend's engine events
/// so a container that dies or is OOM-killed is noticed when it happens, not at the next call.
/// </summary>
internal sealed partial class SessionLifecycleMonitor(SessionRouter router, ILogger<SessionLifecycleMonitor> logger) : BackgroundService
{
    /// <summary>How often idle sessions are looked for: hibernation is due within this of its time.</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>How long a lost engine connection waits before watching again.</summary>
    private static readonly TimeSpan RewatchDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await router.Resumed.WaitAsync(stoppingToken).ConfigureAwait(false);
            var watchers = router.WatchedBackends.Select(b => WatchAsync(b.Name, b.Backend, stoppingToken)).ToList();
            await Task.WhenAll([.. watchers, SweepAsync(stoppingToken)]).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SweepAsync(CancellationToken stoppingToken)
    {
        var options = router.Options;
        var nextHealth = DateTimeOffset.UtcNow + options.HealthInterval;
        var nextReap = DateTimeOffset.UtcNow + options.ReapInterval;
        using var timer = new PeriodicTimer(Tick);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await Guard("hibernating idle sessions", () => router.HibernateIdleAsync(stoppingToken)).ConfigureAwait(false);
            var now = DateTimeOffset.UtcNow;
            if (options.HealthInterval > TimeSpan.Zero && now >= nextHealth)
            {
                await Guard("checking helpers", async () => { await router.CheckHealthAsync(stoppingToken).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
                nextHealth = DateTimeOffset.UtcNow + options.HealthInterval;
            }
            if (now >= nextReap)
            {
                await Guard("reaping leftovers", () => router.ReapAsync(stoppingToken)).ConfigureAwait(false);
                nextReap = DateTimeOffset.UtcNow + options.ReapInterval;
            }
        }
    }

    /// <summary>Follows one backend's events while it has sessions; watches again after the engine comes back.</summary>
    private async Task WatchAsync(string name, ILifecycleBackend backend, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            // No engine connection for a backend with no sessions: the server may have no engine at all.
            if (router.HasSessionsOn(name))
            {
                try
                {
                    await foreach (var failure in backend.WatchAsync(stoppingToken).ConfigureAwait(false))
                    {
                        LogFailure(logger, failure.SessionId, failure.Detail);
                        await router.HandleFailureAsync(failure, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogWatchFailed(logger, name, e.Message);
                }
            }
            // Soon after the first session appears (its failures are watched from then on); a while after a lost connection.
            await Task.Delay(router.HasSessionsOn(name) ? RewatchDelay : Tick, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task Guard(string step, Func<Task<int>> work)
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStepFailed(logger, e, step);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}: {Detail}")]
    private static partial void LogFailure(ILogger logger, string sessionId, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watching the {Backend} backend's events failed: {Reason}; watching again shortly")]
    private static partial void LogWatchFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Lifecycle step failed: {Step}")]
    private static partial void LogStepFailed(ILogger logger, Exception exception, string step);
}
