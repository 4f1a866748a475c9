using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// Removes a session's directory whatever its commands left in it: any depth (a path of 3,000 nested directories is
/// far beyond PATH_MAX, which defeats <see cref="Directory.Delete(string, bool)"/>), directories without permissions,
/// files of the container's user. The walk works relative to directory descriptors (<c>openat</c>/<c>unlinkat</c>,
/// never a path), never follows a symbolic link, and keeps at most three descriptors open at any depth: it goes down
/// one directory at a time and back up through "..", checking on the way up that ".." is the directory it came from.
/// </summary>
public static class WorkspaceRemoval
{
    private const int OwnerAll = 0b111_000_000; // 0700: enough for the owner to list, enter and unlink

    /// <summary>Removes <paramref name="path"/> and everything under it; nothing when it does not exist.</summary>
    public static void RemoveTree(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        var parentPath = Path.GetDirectoryName(full);
        var name = Path.GetFileName(full);
        if (parentPath is null || name.Length == 0)
        {
            throw new ArgumentException($"refusing to remove {path}", nameof(path));
        }
        var parent = Libc.Open(parentPath, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (parent < 0)
        {
            if (Libc.LastError == Libc.ENOENT)
            {
                return;
            }
            throw Failure(full, "open its parent", Libc.LastError);
        }
        try
        {
            var (top, errno) = OpenDirectory(parent, name);
            if (top < 0)
            {
                if (errno == Libc.ENOENT)
                {
                    return;
                }
                if (errno is Libc.ENOTDIR or Libc.ELOOP && Libc.UnlinkAt(parent, name, 0) == 0)
                {
                    return;
                }
                throw Failure(full, "open it", errno);
            }
            EmptyTree(top, full);
            if (Libc.UnlinkAt(parent, name, Libc.AT_REMOVEDIR) != 0 && Libc.LastError != Libc.ENOENT)
            {
                throw Failure(full, "remove it", Libc.LastError);
            }
        }
        finally
        {
            Libc.Close(parent);
        }
    }

    /// <summary>
    /// Empties the directory open on <paramref name="top"/> (and closes it). Iterative: the stack holds names and the
    /// identity of each directory on the way down, not descriptors, so depth costs memory, not file descriptors.
    /// </summary>
    private static void EmptyTree(int top, string shownPath)
    {
        var levels = new Stack<Level>();
        var current = top;
        var pending = ListAndUnlink(current, shownPath);
        try
        {
            while (true)
            {
                if (pending.Count > 0)
                {
                    var child = pending.Pop();
                    var (next, errno) = OpenDirectory(current, child);
                    if (next < 0)
                    {
                        if (errno == Libc.ENOENT)
                        {
                            continue;
                        }
                        throw Failure(shownPath, $"enter a directory {levels.Count + 1} levels down", errno);
                    }
                    levels.Push(new Level(child, Libc.Identity(current), pending));
                    Libc.Close(current);
                    current = next;
                    pending = ListAndUnlink(current, shownPath);
                    continue;
                }
                if (levels.Count == 0)
                {
                    return;
                }
                // This directory is empty: go up and remove it from its parent.
                var level = levels.Pop();
                var up = Libc.OpenAt(current, "..", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
                if (up < 0)
                {
                    throw Failure(shownPath, "go back up", Libc.LastError);
                }
                Libc.Close(current);
                current = up;
                // A directory moved meanwhile would make ".." lead somewhere else: stop rather than delete there.
                if (level.ParentIdentity is null || Libc.Identity(current) != level.ParentIdentity)
                {
                    throw new SessionException($"could not remove {shownPath}: a directory in it was moved while it was being removed");
                }
                if (Libc.UnlinkAt(current, level.Name, Libc.AT_REMOVEDIR) != 0 && Libc.LastError != Libc.ENOENT)
                {
                    throw Failure(shownPath, $"remove a directory {levels.Count + 1} levels down", Libc.LastError);
                }
                pending = level.Pending;
            }
        }
        finally
        {
            Libc.Close(current);
        }
    }

    /// <summary>Unlinks every entry of the directory that is not a directory; returns the names of those that are.</summary>
    private static Stack<string> ListAndUnlink(int directory, string shownPath)
    {
        var names = ReadNames(directory, shownPath);
        var directories = new Stack<string>();
        var madeWritable = false;
        foreach (var name in names)
        {
            while (true)
            {
                if (Libc.UnlinkAt(directory, name, 0) == 0)
                {
                    break;
                }
                var errno = Libc.LastError;
                if (errno == Libc.EISDIR)
                {
                    // Linux answers unlink of a directory with EISDIR: no stat needed to tell them apart.
                    directories.Push(name);
                    break;
                }
                if (errno is Libc.EACCES or Libc.EPERM && !madeWritable)
                {
                    // A directory the session made read-only (chmod 000 .): its owner may give the write bit back.
                    Libc.FChmod(directory, OwnerAll);
                    madeWritable = true;
                    continue;
                }
                if (errno != Libc.ENOENT)
                {
                    throw Failure(shownPath, $"remove '{name}'", errno);
                }
                break;
            }
        }
        return directories;
    }

    private static List<string> ReadNames(int directory, string shownPath)
    {
        // fdopendir takes over the descriptor it is given: give it a copy (close-on-exec, like every descriptor here,
        // so a process the server spawns meanwhile inherits none), and the walk keeps its own.
        var copy = Libc.OpenAt(directory, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (copy < 0)
        {
            throw Failure(shownPath, "list a directory", Libc.LastError);
        }
        var stream = Libc.FdOpenDir(copy);
        if (stream == 0)
        {
            var errno = Libc.LastError;
            Libc.Close(copy);
            throw Failure(shownPath, "list a directory", errno);
        }
        try
        {
            var names = new List<string>();
            while (Libc.ReadDir(stream) is var entry && entry != 0)
            {
                var name = Libc.DirentName(entry);
                if (name is not ("." or ".."))
                {
                    names.Add(name);
                }
            }
            return names;
        }
        finally
        {
            Libc.CloseDir(stream);
        }
    }

    /// <summary>
    /// Opens a directory for listing without following a link; one without read or search permission for its owner
    /// is given them first (through an O_PATH descriptor, so the chmod lands on that very directory, never a link).
    /// Returns the descriptor, or -1 and the errno.
    /// </summary>
    private static (int Fd, int Errno) OpenDirectory(int parent, string name)
    {
        const int flags = Libc.O_RDONLY | Libc.O_CLOEXEC;
        var fd = Libc.OpenAt(parent, name, flags | Libc.O_DIRECTORY | Libc.O_NOFOLLOW, 0);
        if (fd >= 0)
        {
            return (fd, 0);
        }
        var errno = Libc.LastError;
        if (errno != Libc.EACCES)
        {
            return (-1, errno);
        }
        var pathOnly = Libc.OpenAt(parent, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (pathOnly < 0)
        {
            return (-1, Libc.LastError);
        }
        // fchmod refuses O_PATH descriptors; chmod through /proc/self/fd acts on the inode the descriptor holds.
        Libc.Chmod($"/proc/self/fd/{pathOnly}", OwnerAll);
        fd = Libc.OpenAt(pathOnly, ".", flags | Libc.O_DIRECTORY, 0);
        errno = fd < 0 ? Libc.LastError : 0;
        Libc.Close(pathOnly);
        return (fd, errno);
    }

    private static SessionException Failure(string path, string what, int errno) =>
        new($"could not remove {path}: failed to {what} (errno {errno})");

    private sealed record Level(string Name, (long Device, long Inode)? ParentIdentity, Stack<string> Pending);
}
