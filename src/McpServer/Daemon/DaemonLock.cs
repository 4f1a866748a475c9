namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// An exclusive lock on a file, held while this object lives. On Linux, .NET takes <c>flock(LOCK_EX | LOCK_NB)</c> for
/// <see cref="FileShare.None"/>: advisory, between processes, and released by the kernel when the holder dies however
/// it dies — so a crashed daemon never leaves a stale lock behind, unlike a pid file.
/// </summary>
internal sealed class DaemonLock : IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(20);

    private readonly FileStream _file;

    private DaemonLock(FileStream file) => _file = file;

    /// <summary>The lock, or null when another process holds it.</summary>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened at all.</exception>
    public static DaemonLock? TryAcquire(string path)
    {
        try
        {
            return new DaemonLock(new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }));
        }
        catch (IOException) when (File.Exists(path))
        {
            // EWOULDBLOCK from flock: someone holds it.
            return null;
        }
    }

    /// <summary>
    /// The lock shared (flock LOCK_SH: what .NET takes for any other sharing than <see cref="FileShare.None"/>), or null
    /// when a process holds it exclusively. A server in its own process (<c>serve --daemon never</c>) holds the daemon
    /// lock shared: such servers may share a data directory with each other, as before the daemon, but not with a daemon.
    /// </summary>
    public static DaemonLock? TryAcquireShared(string path)
    {
        try
        {
            return new DaemonLock(new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }));
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }

    /// <summary>Waits for the lock until <paramref name="timeout"/> has passed; null if it is still held then.</summary>
    public static async Task<DaemonLock?> AcquireAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var ticks = new PeriodicTimer(RetryInterval);
        while (true)
        {
            if (TryAcquire(path) is { } acquired)
            {
                return acquired;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }
            await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether a process holds the lock. Asking takes it for an instant when it is free, so this is for the admin
    /// commands (status, stop), never for deciding to start a daemon.
    /// </summary>
    public static bool IsHeld(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        using var probe = TryAcquire(path);
        return probe is null;
    }

    public void Dispose() => _file.Dispose();
}
