using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Puts recorded files into a directory: restoring a workspace to an earlier step, or filling a fork's. Every path is
/// reached by walking down from the root without following links (<c>openat</c> + <c>O_NOFOLLOW</c>), and every file is
/// replaced through a temporary name and a rename, so a session racing the writer with a planted link can make a write
/// fail but never land outside the directory.
/// </summary>
internal static class WorkspaceWriter
{
    private const int DirectoryMode = 0b111_101_101; // 0755

    /// <summary>
    /// Applies <paramref name="changes"/> (as <see cref="TreeDelta"/> makes them) to the directory <paramref name="workspace"/>.
    /// All content is read from <paramref name="blobs"/> first: when some is not stored, nothing is written and the error
    /// names the files.
    /// </summary>
    /// <param name="intoNewWorkspace">The directory is a fork's new workspace that no process uses yet: each file is created
    /// under its own name (exclusively, so never through anything planted there) instead of a temporary one and a rename.</param>
    /// <returns>What each written file is now on disk, with the entry written: history's scanner takes it as known, so it
    /// need not read back thousands of files it was just told the content of.</returns>
    public static IReadOnlyList<(string Path, FileStatus Status, FileEntry Entry)> Apply(WorkspaceLocation workspace, IReadOnlyList<FileChange> changes, IBlobReader blobs, bool intoNewWorkspace = false)
    {
        var wanted = changes.Where(c => c.After is { Stored: true } && c.Kind != ChangeKind.ModeChanged).Select(c => c.After!.Hash).ToHashSet(StringComparer.Ordinal);
        var contents = blobs.ReadMany(wanted);
        var missing = changes
            .Where(c => c.After is not null && c.Kind != ChangeKind.ModeChanged && !contents.ContainsKey(c.After.Hash))
            .Select(c => $"{c.Path} ({c.After!.Size} bytes)")
            .ToList();
        if (missing.Count > 0)
        {
            throw new SessionException($"the content of {missing.Count} file(s) is not in the history (larger than the stored-file limit, or pruned): {string.Join(", ", missing.Take(20))}{(missing.Count > 20 ? ", ..." : "")}. Nothing was changed");
        }

        var root = Libc.Open(workspace.HostRoot, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (root < 0)
        {
            throw new SessionException($"the workspace {workspace.VisibleRoot} no longer exists on the server");
        }
        try
        {
            // Removals first, deepest first, so a file can take the place of a directory that held removed files.
            var removed = changes.Where(c => c.After is null).Select(c => c.Path)
                .Concat(changes.Where(c => c.FromPath is not null).Select(c => c.FromPath!))
                .OrderByDescending(p => p.Count(ch => ch == '/')).ThenBy(p => p, StringComparer.Ordinal);
            foreach (var path in removed)
            {
                Remove(root, path);
            }
            // Each directory is opened (or made) once, in order, for all the files written into it; the files themselves
            // are written by as many threads as there are cores (a fork or a restore writes thousands, and each write
            // waits on the filesystem's journal, not on a core).
            var directories = new Dictionary<string, int>(StringComparer.Ordinal);
            var written = new System.Collections.Concurrent.ConcurrentBag<(string, FileStatus, FileEntry)>();
            try
            {
                var writes = changes.Where(c => c.After is not null).ToList();
                foreach (var directory in writes.Select(c => WorkspaceTreePaths.Parent(c.Path)).Distinct(StringComparer.Ordinal))
                {
                    if (Directory(root, directory, create: true, workspace, directories) < 0)
                    {
                        throw Failure(directory, Libc.LastError);
                    }
                }
                Parallel.ForEach(writes, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, change =>
                {
                    var parent = WorkspaceTreePaths.Parent(change.Path) is { Length: > 0 } directory ? directories[directory] : root;
                    if (change.Kind == ChangeKind.ModeChanged)
                    {
                        ChangeMode(parent, change.Path, change.After!.Mode);
                    }
                    else
                    {
                        Write(parent, change.Path, change.After!, contents[change.After!.Hash], workspace, intoNewWorkspace);
                    }
                    // After the rename, which changes the file's ctime.
                    if (Libc.StatAt(parent, NameOf(change.Path)) is { } status)
                    {
                        written.Add((change.Path, status, change.After!));
                    }
                });
                return [.. written];
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0 && e.InnerExceptions[0] is SessionException first)
            {
                throw first;
            }
            finally
            {
                foreach (var fd in directories.Values)
                {
                    Libc.Close(fd);
                }
            }
        }
        finally
        {
            Libc.Close(root);
        }
    }

    /// <summary>The directory <paramref name="relative"/> from <paramref name="cache"/>, or opened below its own parent
    /// (made when <paramref name="create"/>) and kept there; -1 when it cannot be reached.</summary>
    private static int Directory(int root, string relative, bool create, WorkspaceLocation workspace, Dictionary<string, int> cache)
    {
        if (relative.Length == 0)
        {
            return root;
        }
        if (cache.TryGetValue(relative, out var known))
        {
            return known;
        }
        var parent = Directory(root, WorkspaceTreePaths.Parent(relative), create, workspace, cache);
        if (parent < 0)
        {
            return -1;
        }
        var name = NameOf(relative);
        var flags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
        var fd = Libc.OpenAt(parent, name, flags, 0);
        if (fd < 0 && Libc.LastError == Libc.ENOENT && create
            && (Libc.MkdirAt(parent, name, DirectoryMode) == 0 || Libc.LastError == Libc.EEXIST))
        {
            fd = Libc.OpenAt(parent, name, flags, 0);
            if (fd >= 0)
            {
                GiveToOwner(workspace, fd);
            }
        }
        if (fd >= 0)
        {
            cache[relative] = fd;
        }
        return fd;
    }

    private static void Remove(int root, string path)
    {
        var parent = OpenParent(root, path);
        if (parent < 0)
        {
            return; // its directory is gone already
        }
        try
        {
            var name = NameOf(path);
            if (Libc.UnlinkAt(parent, name, 0) != 0 && Libc.LastError is not Libc.ENOENT)
            {
                throw Failure(path, Libc.LastError);
            }
            RemoveIfEmptyDirectories(root, WorkspaceTreePaths.Parent(path));
        }
        finally
        {
            Libc.Close(parent);
        }
    }

    /// <summary>Directories left empty by removals go too: history knows no empty directories, so a restored tree has none.</summary>
    private static void RemoveIfEmptyDirectories(int root, string directory)
    {
        while (directory.Length > 0)
        {
            var parent = OpenParent(root, directory);
            if (parent < 0)
            {
                return;
            }
            var removed = Libc.UnlinkAt(parent, NameOf(directory), Libc.AT_REMOVEDIR) == 0;
            Libc.Close(parent);
            if (!removed)
            {
                return;
            }
            directory = WorkspaceTreePaths.Parent(directory);
        }
    }

    private static void Write(int parent, string path, FileEntry entry, byte[] content, WorkspaceLocation workspace, bool intoNewWorkspace)
    {
        var name = NameOf(path);
        // The temporary name and the rename keep a reader from seeing half a file; in a workspace none of the session's
        // commands has run in yet there is no such reader, and the rename would double the directory operations.
        var temporary = intoNewWorkspace ? name : $".{name}.session-mcp-{Guid.NewGuid():N}.tmp";
        if (entry.Kind == EntryKind.Symlink)
        {
            if (Libc.SymlinkAt(System.Text.Encoding.UTF8.GetString(content), parent, temporary) != 0)
            {
                throw Failure(path, Libc.LastError);
            }
        }
        else
        {
            var fd = Libc.OpenAt(parent, temporary, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, entry.Mode & 0xFFF);
            if (fd < 0)
            {
                throw Failure(path, Libc.LastError);
            }
            using var handle = new SafeFileHandle(fd, ownsHandle: true);
            Libc.FChmod(fd, entry.Mode & 0xFFF);
            GiveToOwner(workspace, fd);
            RandomAccess.Write(handle, content, 0);
        }
        if (intoNewWorkspace)
        {
            return;
        }
        // A directory where a file goes may only be replaced when empty (what is in it is not history's to drop).
        if (Libc.RenameAt(parent, temporary, parent, name) != 0
            && !(Libc.LastError is Libc.EISDIR && Libc.UnlinkAt(parent, name, Libc.AT_REMOVEDIR) == 0 && Libc.RenameAt(parent, temporary, parent, name) == 0))
        {
            var errno = Libc.LastError;
            Libc.UnlinkAt(parent, temporary, 0);
            throw errno is Libc.ENOTEMPTY or Libc.EEXIST
                ? new SessionException($"cannot write {path}: a directory that is not empty is in its place (it holds files history does not track, such as ignored ones)")
                : Failure(path, errno);
        }
    }

    private static void ChangeMode(int parent, string path, int mode)
    {
        var fd = Libc.OpenAt(parent, NameOf(path), Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0 || Libc.FChmod(fd, mode & 0xFFF) != 0)
        {
            var errno = Libc.LastError;
            if (fd >= 0)
            {
                Libc.Close(fd);
            }
            throw Failure(path, errno);
        }
        Libc.Close(fd);
    }

    /// <summary>The directory holding <paramref name="path"/>, walked down from the root without following links; -1 when
    /// it cannot be reached (it is gone, or a link or a file is on the way).</summary>
    private static int OpenParent(int root, string path)
    {
        var fd = Libc.OpenAt(root, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        var parent = WorkspaceTreePaths.Parent(path);
        if (parent.Length == 0 || fd < 0)
        {
            return fd;
        }
        foreach (var component in parent.Split('/'))
        {
            var next = Libc.OpenAt(fd, component, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            var errno = Libc.LastError;
            Libc.Close(fd);
            if (next < 0)
            {
                Marshal.SetLastPInvokeError(errno);
                return -1;
            }
            fd = next;
        }
        return fd;
    }

    private static void GiveToOwner(WorkspaceLocation workspace, int fd)
    {
        if (workspace.OwnerUid is { } uid && Libc.GetEuid() == 0)
        {
            Libc.FChown(fd, uid, workspace.OwnerGid ?? uid);
        }
    }

    private static string NameOf(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static SessionException Failure(string path, int errno) => new(errno switch
    {
        Libc.ELOOP or Libc.ENOTDIR => $"cannot write {path}: a directory on its way is a link or a file now (refused: the writer never follows links)",
        Libc.ENOSPC => $"cannot write {path}: no space left on the device",
        Libc.EACCES or Libc.EPERM => $"cannot write {path}: permission denied",
        _ => $"cannot write {path} (errno {errno})",
    });
}
