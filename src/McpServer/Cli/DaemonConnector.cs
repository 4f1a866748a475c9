using System.Net.Sockets;
using SessionMcp.Containers.Local.Native;
using SessionMcp.McpServer.Daemon;

namespace SessionMcp.McpServer.Cli;

/// <summary>How <c>serve</c> reaches its server: through the data directory's daemon, or in its own process.</summary>
internal enum DaemonMode
{
    /// <summary>Connect to the daemon, starting it when none answers (the default).</summary>
    Auto,

    /// <summary>Serve in this process over stdio, as before the daemon existed: no daemon is used or started.</summary>
    Never,

    /// <summary>Connect to a running daemon, or fail.</summary>
    Require,
}

/// <summary>A daemon could not be reached or started; the message says why and what to do.</summary>
internal sealed class DaemonUnavailableException(string message) : Exception(message);

/// <summary>
/// Connects a client to the daemon of its data directory — connect; else take the start lock, connect again (another
/// client may have started it meanwhile), and only then start one and wait for it to answer — as tmux's client does.
/// Two clients starting at once thus start one daemon; should a second daemon start anyway (one started by hand), it
/// finds the daemon lock taken and exits, and the client connects to the one that runs.
/// </summary>
internal static class DaemonConnector
{
    public const string ModeVariable = "SESSION_MCP_DAEMON";

    /// <summary>How long a client waits for a daemon to start (or for another client starting one).</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ConnectRetryInterval = TimeSpan.FromMilliseconds(20);

    /// <summary><c>--daemon</c> if given, else <see cref="ModeVariable"/>, else <see cref="DaemonMode.Auto"/>.</summary>
    /// <exception cref="ArgumentException">A value that is not auto, never or require, naming where it came from.</exception>
    public static DaemonMode ResolveMode(string? flag, Func<string, string?> environment)
    {
        var (value, source) = flag is not null ? (flag, "--daemon") : (environment(ModeVariable) is { Length: > 0 } variable ? variable : null, ModeVariable);
        return value switch
        {
            null or "auto" => DaemonMode.Auto,
            "never" => DaemonMode.Never,
            "require" => DaemonMode.Require,
            _ => throw new ArgumentException($"{source} must be auto, never or require (got '{value}')"),
        };
    }

    /// <summary>A connection to the daemon of <paramref name="paths"/>; with <see cref="DaemonMode.Auto"/> one is started if none answers.</summary>
    /// <param name="daemonArguments">The options a started daemon gets (the data directory and the client's server settings).</param>
    /// <exception cref="DaemonUnavailableException">No daemon answers (require), or none could be started (auto).</exception>
    public static async Task<Socket> ConnectAsync(DaemonPaths paths, DaemonMode mode, IReadOnlyList<string> daemonArguments, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (TryConnect(paths.Socket) is { } connected)
        {
            await WarnIfAnotherBuildAsync(paths, stderr).ConfigureAwait(false);
            return connected;
        }
        if (mode == DaemonMode.Require)
        {
            throw new DaemonUnavailableException(
                $"no daemon answers on {paths.Socket} (--daemon require); start one with 'session-mcp daemon --data-dir {paths.DataDir}', or use --daemon auto to start it on demand");
        }

        Directory.CreateDirectory(paths.DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var startLock = await DaemonLock.AcquireAsync(paths.StartLock, StartTimeout, cancellationToken).ConfigureAwait(false)
            ?? throw new DaemonUnavailableException($"another client has been starting the daemon of {paths.DataDir} for {StartTimeout.TotalSeconds:0} s ({paths.StartLock} is held); see {paths.Log}");
        if (TryConnect(paths.Socket) is { } startedByAnother)
        {
            return startedByAnother;
        }

        int pid;
        try
        {
            pid = DaemonSpawner.Spawn(daemonArguments, paths.Log);
        }
        catch (ProcessSpawnException e)
        {
            throw new DaemonUnavailableException(e.Message);
        }
        await stderr.WriteLineAsync($"session-mcp: started the daemon of {paths.DataDir} (pid {pid}, log {paths.Log})").ConfigureAwait(false);

        var deadline = DateTime.UtcNow + StartTimeout;
        string? exit = null;
        using var ticks = new PeriodicTimer(ConnectRetryInterval);
        while (true)
        {
            if (TryConnect(paths.Socket) is { } socket)
            {
                return socket;
            }
            // A daemon that exits at start failed — unless it lost the lock to another daemon, which answers soon (the
            // lock can also be held, shared, by servers running in their clients' processes: then none will answer).
            if (exit is null && DaemonSpawner.ExitOf(pid) is { } status)
            {
                exit = status;
                if (!DaemonLock.IsHeld(paths.Lock) || paths.LiveDaemonPid() is null)
                {
                    throw new DaemonUnavailableException($"the daemon exited at start ({status}); the end of {paths.Log}:\n{Tail(paths.Log)}");
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new DaemonUnavailableException($"the daemon (pid {pid}) did not answer on {paths.Socket} within {StartTimeout.TotalSeconds:0} s; the end of {paths.Log}:\n{Tail(paths.Log)}");
            }
            await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A connected socket, or null when nothing listens there (no file, a stale file, a daemon not yet listening).</summary>
    /// <remarks>
    /// Connected synchronously (a unix socket connects or fails at once): an asynchronous operation would switch the
    /// socket to non-blocking for good, and the relay's blocking reads would then wait through .NET's event loop — a
    /// hand-off between threads per message that costs more than the copy (<see cref="StdioRelay"/>).
    /// </remarks>
    private static Socket? TryConnect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>A daemon started from another build keeps running old code: say so once, in the client's log.</summary>
    private static async Task WarnIfAnotherBuildAsync(DaemonPaths paths, TextWriter stderr)
    {
        if (paths.ReadPidFile() is { Build: { } build } running && build != DaemonPaths.ThisBuild)
        {
            await stderr.WriteLineAsync($"session-mcp: the daemon of {paths.DataDir} (pid {running.Pid}) runs another build of session-mcp; 'session-mcp daemon stop' and a new client start this one (its jobs and terminals stop with it)").ConfigureAwait(false);
        }
    }

    private static string Tail(string path)
    {
        try
        {
            return string.Join('\n', File.ReadLines(path).TakeLast(20));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"({e.Message})";
        }
    }
}
