using System.Runtime.InteropServices;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// The libc calls the daemon needs that the other wrappers (<c>Containers.Local.Native.LibC</c> for spawning and
/// signals, <c>SessionRouting.Workspace.Libc</c> for files) do not have: putting its log on fds 1 and 2, and knowing
/// whose connections to accept.
/// </summary>
internal static partial class DaemonNative
{
    // The same numbers on x86_64 and arm64 (asm-generic).
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_APPEND = 0x400;
    public const int O_CLOEXEC = 0x80000;

    public const int SIGTERM = 15;

    /// <summary>SOL_SOCKET / SO_PEERCRED: the pid, uid and gid of the process at the other end of a unix socket.</summary>
    public const int SOL_SOCKET = 1;
    public const int SO_PEERCRED = 17;

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    /// <summary>
    /// Points fds 0 at /dev/null and 1 and 2 at <paramref name="logPath"/> (appended, created 0600): whatever this
    /// process writes to stdout or stderr from now on — the logger, a crash's stack trace — lands in the log.
    /// </summary>
    /// <exception cref="IOException">A file cannot be opened or a descriptor not replaced.</exception>
    public static void RedirectStandardStreams(string logPath)
    {
        var log = SessionMcp.SessionRouting.Workspace.Libc.Open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_000_000);
        if (log < 0)
        {
            throw new IOException($"cannot open {logPath}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        var devNull = SessionMcp.SessionRouting.Workspace.Libc.Open("/dev/null", SessionMcp.SessionRouting.Workspace.Libc.O_RDONLY | O_CLOEXEC, 0);
        try
        {
            // dup2 leaves close-on-exec off on the new descriptors, as standard streams should be.
            if (devNull < 0 || Dup2(devNull, 0) < 0 || Dup2(log, 1) < 0 || Dup2(log, 2) < 0)
            {
                throw new IOException($"cannot redirect the standard streams to {logPath}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            SessionMcp.Containers.Local.Native.LibC.close(log);
            if (devNull >= 0)
            {
                SessionMcp.Containers.Local.Native.LibC.close(devNull);
            }
        }
    }
}
