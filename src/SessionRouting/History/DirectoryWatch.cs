using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// inotify on a workspace's directories, so a scan after a call looks only at the paths something touched: the cost of
/// recording a step grows with what changed, not with the workspace. The kernel queues an event when the write happens,
/// so once a command has ended, draining the queue without blocking sees every change it made — the barrier that makes
/// this exact rather than best effort. Writes from a container through its bind mount reach the same inodes and queue the
/// same events. When the kernel cannot keep up (queue overflow) or refuses another watch (the per-user limit), the watch
/// says so and the scanner falls back to a full walk.
/// </summary>
internal sealed partial class DirectoryWatch : IDisposable
{
    private const uint InModify = 0x2, InAttrib = 0x4, InCloseWrite = 0x8, InMovedFrom = 0x40, InMovedTo = 0x80, InCreate = 0x100,
        InDelete = 0x200, InDeleteSelf = 0x400, InMoveSelf = 0x800, InQueueOverflow = 0x4000, InIgnored = 0x8000,
        InOnlyDir = 0x1000000, InExclUnlink = 0x4000000, InIsDir = 0x40000000;

    private const uint Mask = InModify | InAttrib | InCloseWrite | InMovedFrom | InMovedTo | InCreate | InDelete | InDeleteSelf | InMoveSelf
        | InOnlyDir | InExclUnlink;

    private const int InNonBlock = 0x800, InCloExec = 0x80000;

    private readonly int _fd;
    private readonly Dictionary<int, string> _pathOf = [];
    private readonly Dictionary<string, int> _watchOf = new(StringComparer.Ordinal);
    private readonly byte[] _buffer = new byte[64 * 1024];

    private DirectoryWatch(int fd) => _fd = fd;

    /// <summary>A new, empty watch; null when inotify is unavailable (the scanner then walks every time).</summary>
    public static DirectoryWatch? TryCreate()
    {
        var fd = InotifyInit(InNonBlock | InCloExec);
        return fd < 0 ? null : new DirectoryWatch(fd);
    }

    /// <summary>Set when events were lost (queue overflow) or a directory could not be watched: the next scan must walk everything.</summary>
    public bool Incomplete { get; private set; }

    public int WatchCount => _pathOf.Count;

    /// <summary>Watches the directory open as <paramref name="directoryFd"/>, known as <paramref name="relativePath"/> ("" for the root).</summary>
    public void Add(int directoryFd, string relativePath)
    {
        // Through the descriptor, so the watch lands on the directory the walk opened without following links, even if
        // its path was swapped for a link a moment later.
        var wd = InotifyAddWatch(_fd, $"/proc/self/fd/{directoryFd}", Mask);
        if (wd < 0)
        {
            Incomplete = true;
            return;
        }
        if (_pathOf.TryGetValue(wd, out var previous))
        {
            // The same directory under a new name (it was moved): the watch follows the inode.
            _watchOf.Remove(previous);
        }
        _pathOf[wd] = relativePath;
        _watchOf[relativePath] = wd;
    }

    /// <summary>Whether <paramref name="relativePath"/> is a watched directory.</summary>
    public bool IsWatched(string relativePath) => _watchOf.ContainsKey(relativePath);

    /// <summary>Forgets the watches of <paramref name="relativePath"/> and every directory under it (it is gone or moved).</summary>
    public void Forget(string relativePath)
    {
        foreach (var (path, wd) in _watchOf.Where(w => WorkspaceTreePaths.IsAtOrUnder(w.Key, relativePath)).ToList())
        {
            InotifyRmWatch(_fd, wd);
            _watchOf.Remove(path);
            _pathOf.Remove(wd);
        }
    }

    /// <summary>Forgets everything (before a full walk re-adds what exists) and clears <see cref="Incomplete"/>.</summary>
    public void Reset()
    {
        foreach (var wd in _pathOf.Keys)
        {
            InotifyRmWatch(_fd, wd);
        }
        _pathOf.Clear();
        _watchOf.Clear();
        Drain(_ => { });
        Incomplete = false;
    }

    /// <summary>
    /// Reads every queued event without blocking and reports each touched path: a relative path, and whether the whole
    /// subtree under it must be looked at (a directory appeared, moved or vanished).
    /// </summary>
    public void Drain(Action<TouchedPath> touched)
    {
        while (true)
        {
            var read = Libc.Read(_fd, _buffer, _buffer.Length);
            if (read < 0)
            {
                if (Libc.LastError == Libc.EINTR)
                {
                    continue;
                }
                return; // EAGAIN: the queue is empty
            }
            var offset = 0;
            while (offset + 16 <= read)
            {
                var span = _buffer.AsSpan(offset);
                var wd = BinaryPrimitives.ReadInt32LittleEndian(span);
                var mask = BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[12..]);
                var name = length == 0 ? "" : Encoding.UTF8.GetString(span.Slice(16, length)).TrimEnd('\0');
                offset += 16 + length;

                if ((mask & InQueueOverflow) != 0)
                {
                    Incomplete = true;
                    continue;
                }
                if (!_pathOf.TryGetValue(wd, out var directory))
                {
                    continue;
                }
                if ((mask & InIgnored) != 0)
                {
                    _pathOf.Remove(wd);
                    if (_watchOf.TryGetValue(directory, out var current) && current == wd)
                    {
                        _watchOf.Remove(directory);
                    }
                    continue;
                }
                if (name.Length == 0)
                {
                    // The watched directory itself was deleted or moved away.
                    if ((mask & (InDeleteSelf | InMoveSelf)) != 0)
                    {
                        touched(new TouchedPath(directory, Deep: true));
                    }
                    continue;
                }
                var path = directory.Length == 0 ? name : directory + "/" + name;
                var deep = (mask & InIsDir) != 0 && (mask & (InCreate | InMovedTo | InMovedFrom | InDelete)) != 0;
                touched(new TouchedPath(path, deep));
            }
        }
    }

    public void Dispose() => Libc.Close(_fd);

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int InotifyRmWatch(int fd, int wd);
}

/// <summary>A path an event named; <paramref name="Deep"/>: a directory appeared, moved or vanished there.</summary>
internal readonly record struct TouchedPath(string Path, bool Deep);

/// <summary>Relative workspace paths ('/'-separated, "" for the root).</summary>
internal static class WorkspaceTreePaths
{
    public static bool IsAtOrUnder(string path, string directory) =>
        directory.Length == 0
        || path.Equals(directory, StringComparison.Ordinal)
        || (path.Length > directory.Length && path[directory.Length] == '/' && path.StartsWith(directory, StringComparison.Ordinal));

    public static string Join(string directory, string name) => directory.Length == 0 ? name : directory + "/" + name;

    public static string Parent(string path) => path.LastIndexOf('/') is var slash and >= 0 ? path[..slash] : "";
}
