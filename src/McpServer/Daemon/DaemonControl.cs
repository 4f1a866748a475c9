using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.McpServer.Hosting;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// <c>daemon stop</c> and <c>daemon status</c>. Whether a daemon runs is whether its lock is held (the kernel drops it
/// when the daemon dies, so a crash leaves no false "running"); its pid comes from the pid file it wrote under that lock.
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
        if (!DaemonLock.IsHeld(paths.Lock))
        {
            await stdout.WriteLineAsync($"no daemon runs for {settings.DataDir}: nothing to stop").ConfigureAwait(false);
            return 0;
        }
        if (paths.ReadPidFile() is not { } running)
        {
            await stderr.WriteLineAsync($"session-mcp: a daemon holds {paths.Lock} but {paths.PidFile} names no pid (it may be starting or stopping); try again").ConfigureAwait(false);
            return 1;
        }
        if (SessionMcp.Containers.Local.Native.LibC.kill(running.Pid, DaemonNative.SIGTERM) != 0)
        {
            var error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            await stderr.WriteLineAsync($"session-mcp: cannot signal the daemon (pid {running.Pid}): {error}").ConfigureAwait(false);
            return 1;
        }

        var deadline = DateTime.UtcNow + StopTimeout;
        using var ticks = new PeriodicTimer(StopPollInterval);
        while (DaemonLock.IsHeld(paths.Lock))
        {
            if (DateTime.UtcNow > deadline)
            {
                await stderr.WriteLineAsync($"session-mcp: the daemon (pid {running.Pid}) did not stop within {StopTimeout.TotalSeconds:0} s; see {paths.Log}; 'kill -9 {running.Pid}' ends it at once").ConfigureAwait(false);
                return 1;
            }
            await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        await stdout.WriteLineAsync($"stopped the daemon of {settings.DataDir} (pid {running.Pid})").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> StatusAsync(ServerSettings settings, TextWriter stdout, CancellationToken cancellationToken)
    {
        var paths = new DaemonPaths(settings.DataDir);
        if (!DaemonLock.IsHeld(paths.Lock))
        {
            await stdout.WriteLineAsync($"not running: no daemon for {settings.DataDir} ('session-mcp serve' starts one; so does 'session-mcp daemon')").ConfigureAwait(false);
            return NotRunning;
        }
        var running = paths.ReadPidFile();
        var since = running is null ? (DateTime?)null : File.GetLastWriteTimeUtc(paths.PidFile);
        var uptime = since is { } start ? Format(DateTime.UtcNow - start) : "?";
        await stdout.WriteLineAsync($"running: pid {running?.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}, up {uptime}{(since is { } s ? $" (since {s:yyyy-MM-ddTHH:mm:ssZ})" : "")}").ConfigureAwait(false);
        if (running?.Build is { } build && build != DaemonPaths.ThisBuild)
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
