using System.Globalization;
using System.Text;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// Where the daemon of one data directory keeps its files; one daemon per data directory, so the names are fixed.
/// </summary>
/// <param name="DataDir">The data directory (absolute).</param>
internal sealed record DaemonPaths(string DataDir)
{
    /// <summary>The longest path a unix socket can be bound to: <c>sun_path</c> is 108 bytes with the terminating NUL.</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>The unix socket the daemon listens on (mode 0600).</summary>
    public string Socket => Path.Combine(DataDir, "daemon.sock");

    /// <summary>Held (flock, exclusive) by the running daemon for its whole life: one daemon per data directory.</summary>
    public string Lock => Path.Combine(DataDir, "daemon.lock");

    /// <summary>Held by a client while it starts a daemon, so that clients starting at once start one.</summary>
    public string StartLock => Path.Combine(DataDir, "daemon.start.lock");

    /// <summary>The running daemon's pid (first line) and build (second line); written after it took <see cref="Lock"/>.</summary>
    public string PidFile => Path.Combine(DataDir, "daemon.pid");

    /// <summary>The daemon's log (its stdout and stderr), appended to across runs.</summary>
    public string Log => Path.Combine(DataDir, "daemon.log");

    /// <summary>Why the socket cannot live at <see cref="Socket"/>, or null when it can.</summary>
    public string? SocketPathProblem =>
        Encoding.UTF8.GetByteCount(Socket) <= MaxSocketPathBytes ? null
        : $"the daemon's socket path {Socket} is {Encoding.UTF8.GetByteCount(Socket)} bytes long; unix sockets allow {MaxSocketPathBytes}: use a shorter --data-dir";

    /// <summary>The build of this program, as written into <see cref="PidFile"/>: another build means another daemon binary.</summary>
    public static string ThisBuild => typeof(DaemonPaths).Assembly.ManifestModule.ModuleVersionId.ToString("N", CultureInfo.InvariantCulture);

    /// <summary>What <see cref="PidFile"/> says: the pid, and the build when written (null if absent or unreadable).</summary>
    public (int Pid, string? Build)? ReadPidFile()
    {
        try
        {
            var lines = File.ReadAllLines(PidFile);
            return lines.Length > 0 && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
                ? (pid, lines.Length > 1 ? lines[1] : null)
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The pid of the running daemon as its pid file says, if that process is alive; null otherwise.</summary>
    public int? LiveDaemonPid() => ReadPidFile() is { } running && Directory.Exists($"/proc/{running.Pid}") ? running.Pid : null;

    /// <summary>Writes <see cref="PidFile"/> (mode 0600) for this process.</summary>
    public void WritePidFile()
    {
        using var file = new FileStream(PidFile, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        file.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}\n{ThisBuild}\n")));
    }
}
