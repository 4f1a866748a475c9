using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// Applies the configured retention (<see cref="ServerSettings.Retention"/>) while the server runs: once the start-up
/// checks are done, then every <see cref="Interval"/>. Each pruning is the same as <c>session-mcp audit prune</c>: a
/// checkpoint and an <see cref="AuditKinds.AuditPruned"/> event, here without a principal (the server did it on its
/// own). Nothing is configured by default, so nothing is pruned unless the operator asked for it.
/// </summary>
internal sealed partial class AuditRetentionService(ServerSettings settings, AuditRetention retention, SessionRouter router, TimeProvider time, ILogger<AuditRetentionService> logger) : BackgroundService
{
    /// <summary>How often the policy runs: retention works in days, an hour late costs nothing.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.Retention.Count == 0)
        {
            return;
        }
        // After the head check: a pruning appends, and the first append overwrites the recorded head.
        await router.Resumed.WaitAsync(stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            foreach (var policy in settings.Retention)
            {
                try
                {
                    var report = retention.Prune(policy, principal: null, dryRun: false);
                    if (report.Checkpoint is { } checkpoint)
                    {
                        LogPruned(logger, report.Events, report.Outputs, report.Bytes, checkpoint, report.EventSeq ?? 0);
                    }
                }
                catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
                {
                    // The log stays as it was (the pruning is one transaction); the next round tries again.
                    LogFailed(logger, e);
                }
            }
            await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention pruned {Events} events and {Outputs} outputs ({Bytes} bytes) under checkpoint {Checkpoint} (event {EventSeq})")]
    private static partial void LogPruned(ILogger logger, long events, long outputs, long bytes, long checkpoint, long eventSeq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit retention failed; nothing was pruned this round")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
