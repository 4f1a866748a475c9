using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.McpServer.Hosting;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// <c>daemon stop</c> and <c>daemon status</c>. Whether a daemon runs is whether its lock is held (the kernel drops it
/// when the daemon dies, so a crash leaves no false "running") and the pid file it wrote under that lock names a live
/// process (servers in their clients' processes hold the lock too, shared, and write no pid file).
/// Stopping sends SIGTERM — the daemon ends its connections, stops its jobs and terminals and exits — and waits for the
/// lock to be released.
/// </summary>
internal static class DaemonControl
{
    /// <summary>Exit code of <c>daemon status</c> when no daemon runs (as LSB init scripts and systemctl say it).</summary>
    public const int NotRunning = 3;

    /// <summary>How long <c>daemon stop</c> waits: the host's own shutdown timeout (30 s) plus the release of the backends.</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(45);

    private static readonly TimeSpan StopPollInterval = TimeSpan.FromMilliseconds(50);

    public static async Task<int> StopAsync(ServerSettings settings, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var paths = new DaemonPaths(settings.DataDir);
        if (!DaemonLock.IsHeld(paths.Lock) || paths.LiveDaemonPid() is not { } pid)
        {
            // Free, or shared by servers in their clients' processes (serve --daemon never), which end with their clients.
            await stdout.WriteLineAsync($"no daemon runs for {settings.DataDir}: nothing to stop").ConfigureAwait(false);
            return 0;
        }
        if (SessionMcp.Containers.Local.Native.LibC.kill(pid, DaemonNative.SIGTERM) != 0)
        {
            var error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            await stderr.WriteLineAsync($"session-mcp: cannot signal the daemon (pid {pid}): {error}").ConfigureAwait(false);
            return 1;
        }

        var deadline = DateTime.UtcNow + StopTimeout;
        using var ticks = new PeriodicTimer(StopPollInterval);
        // Its lock is free once it has exited (or shared by a server in a client's process that started meanwhile).
        while (DaemonLock.IsHeld(paths.Lock) && Directory.Exists($"/proc/{pid}"))
        {
            if (DateTime.UtcNow > deadline)
            {
                await stderr.WriteLineAsync($"session-mcp: the daemon (pid {pid}) did not stop within {StopTimeout.TotalSeconds:0} s; see {paths.Log}; 'kill -9 {pid}' ends it at once").ConfigureAwait(false);
                return 1;
            }
            await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        await stdout.WriteLineAsync($"stopped the daemon of {settings.DataDir} (pid {pid})").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> StatusAsync(ServerSettings settings, TextWriter stdout, CancellationToken cancellationToken)
    {
        var paths = new DaemonPaths(settings.DataDir);
        if (!DaemonLock.IsHeld(paths.Lock) || paths.LiveDaemonPid() is not { } pid)
        {
            await stdout.WriteLineAsync($"not running: no daemon for {settings.DataDir} ('session-mcp serve' starts one; so does 'session-mcp daemon')").ConfigureAwait(false);
            return NotRunning;
        }
        var since = File.GetLastWriteTimeUtc(paths.PidFile);
        await stdout.WriteLineAsync($"running: pid {pid}, up {Format(DateTime.UtcNow - since)} (since {since:yyyy-MM-ddTHH:mm:ssZ})").ConfigureAwait(false);
        if (paths.ReadPidFile()?.Build is { } build && build != DaemonPaths.ThisBuild)
        {
            await stdout.WriteLineAsync("build: another build than this session-mcp (stop and start it to run this one)").ConfigureAwait(false);
        }
        await stdout.WriteLineAsync($"socket: {paths.Socket} ({(await AnswersAsync(paths.Socket, cancellationToken).ConfigureAwait(false) ? "answers" : "DOES NOT ANSWER")})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"log: {paths.Log}").ConfigureAwait(false);
        await stdout.WriteLineAsync($"sessions: {CountSessions(settings)}").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Whether something accepts connections on <paramref name="socketPath"/>.</summary>
    internal static async Task<bool> AnswersAsync(string socketPath, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The registry's sessions by status, read from the database as <c>session-mcp sessions</c> reads it.</summary>
    private static string CountSessions(ServerSettings settings)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSessionCore(settings);
        using var provider = services.BuildServiceProvider();
        var sessions = provider.GetRequiredService<SessionRegistry>().List();
        var byStatus = sessions.GroupBy(s => s.StatusText).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}");
        return sessions.Count == 0 ? "0" : $"{sessions.Count} ({string.Join(", ", byStatus)})";
    }

    private static string Format(TimeSpan span) =>
        span.TotalDays >= 1 ? $"{(int)span.TotalDays}d{span.Hours}h"
        : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes}m"
        : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds}s"
        : $"{Math.Max(0, (int)span.TotalSeconds)}s";
}
