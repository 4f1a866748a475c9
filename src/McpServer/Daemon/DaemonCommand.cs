using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.AspNetCore.Builder;
using SessionMcp.McpServer.Dashboard;
using SessionMcp.McpServer.Hosting;
using SessionMcp.McpServer.Http;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// <c>session-mcp daemon</c>: one long-lived process per data directory that holds the registry, the backends, the jobs
/// and the terminals once, and serves MCP on <c>&lt;data&gt;/daemon.sock</c> to every client (<c>serve</c> relays to
/// it). It runs in the foreground — a supervisor can run it as is; <c>serve --daemon auto</c> starts it detached — and
/// logs to <c>&lt;data&gt;/daemon.log</c>. SIGTERM (<c>daemon stop</c>) or SIGINT stops it gracefully; SIGHUP is ignored.
/// </summary>
internal static class DaemonCommand
{
    public static async Task<int> RunAsync(ServerSettings settings, HttpSettings? http, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var paths = new DaemonPaths(settings.DataDir);
        if (paths.SocketPathProblem is { } problem)
        {
            await stderr.WriteLineAsync($"session-mcp: cannot start the daemon: {problem}").ConfigureAwait(false);
            return 2;
        }
        Directory.CreateDirectory(settings.DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // Held until this process ends, however it ends: one daemon per data directory.
        using var daemonLock = DaemonLock.TryAcquire(paths.Lock);
        if (daemonLock is null)
        {
            // Held exclusively by a daemon, or shared by servers running in their clients' processes.
            await stderr.WriteLineAsync(paths.LiveDaemonPid() is { } pid
                ? $"session-mcp: a daemon already runs for {settings.DataDir} (pid {pid}) on {paths.Socket}; 'session-mcp daemon stop --data-dir {settings.DataDir}' stops it"
                : $"session-mcp: a server in its client's process (serve --daemon never) uses {settings.DataDir}; a daemon can start there once it ended").ConfigureAwait(false);
            return 1;
        }
        DashboardSettings? dashboard = null;
        if (http is not null)
        {
            try
            {
                dashboard = DashboardSettings.Resolve(Environment.GetEnvironmentVariable);
            }
            catch (ArgumentException e)
            {
                await stderr.WriteLineAsync($"session-mcp: cannot start the daemon: {e.Message}").ConfigureAwait(false);
                return 2;
            }
        }
        paths.WritePidFile();
        try
        {
            var httpNote = http is null ? "" : $", http {string.Join(' ', http.Urls.Select(u => u.GetLeftPart(UriPartial.Authority) + HttpServiceExtensions.McpPath))}, dashboard {http.Urls[0].GetLeftPart(UriPartial.Authority)}{DashboardEndpoints.Root}/";
            await stdout.WriteLineAsync($"session-mcp daemon: pid {Environment.ProcessId}, socket {paths.Socket}{httpNote}, log {paths.Log}").ConfigureAwait(false);
            await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
            // From here on the log is stdout and stderr: the logger, and a crash's stack trace, land in it.
            DaemonNative.RedirectStandardStreams(paths.Log);
            // A daemon outlives the terminal it may have been started from.
            using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => context.Cancel = true);

            if (http is null)
            {
                var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
                Configure(builder, settings).WithDaemonSocketTransport(paths);
                using var host = builder.Build();
                await host.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Empty: no appsettings.json or ASPNETCORE_ variables from wherever the daemon was started.
                var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
                Configure(builder, settings).WithDaemonSocketTransport(paths).WithSessionHttpTransport(builder.WebHost, http);
                builder.Services.AddSessionDashboard(dashboard!);
                await using var app = builder.Build();
                app.MapSessionHttp().MapSessionDashboard();
                await app.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            return 0;
        }
        finally
        {
            // Still under the lock: nobody else can have written it.
            try
            {
                File.Delete(paths.PidFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static IMcpServerBuilder Configure(IHostApplicationBuilder builder, ServerSettings settings)
    {
        builder.Logging
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            })
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .SetMinimumLevel(LogLevel.Information)
            .AddFilter("ModelContextProtocol", LogLevel.Warning)
            .AddFilter("Microsoft.Hosting", LogLevel.Warning)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // The generic host's console lifetime turns SIGTERM and SIGINT into a graceful stop.
        builder.Services.AddHostedService<SessionResumer>();
        builder.Services.AddHostedService<AuditRetentionService>();
        builder.Services.AddHostedService<SessionLifecycleMonitor>();
        return builder.Services.AddSessionCore(settings).AddSessionMcpServer();
    }
}
