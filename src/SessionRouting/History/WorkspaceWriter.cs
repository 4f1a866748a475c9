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
    public static void Apply(WorkspaceLocation workspace, IReadOnlyList<FileChange> changes, IBlobReader blobs)
    {
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var change in changes.Where(c => c.After is not null && c.Kind != ChangeKind.ModeChanged))
        {
            var after = change.After!;
            if (contents.ContainsKey(after.Hash))
            {
                continue;
            }
            if (after.Stored && blobs.Read(after.Hash) is { } content)
            {
                contents[after.Hash] = content;
            }
            else
            {
                missing.Add($"{change.Path} ({after.Size} bytes)");
            }
        }
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
            foreach (var change in changes.Where(c => c.After is not null))
            {
                if (change.Kind == ChangeKind.ModeChanged)
                {
                    ChangeMode(root, change.Path, change.After!.Mode, workspace);
                }
                else
                {
                    Write(root, change.Path, change.After!, contents[change.After!.Hash], workspace);
                }
            }
        }
        finally
        {
            Libc.Close(root);
        }
    }

    private static void Remove(int root, string path)
    {
        var parent = OpenParent(root, path, create: false, workspace: null);
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
            var parent = OpenParent(root, directory, create: false, workspace: null);
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

    private static void Write(int root, string path, FileEntry entry, byte[] content, WorkspaceLocation workspace)
    {
        var parent = OpenParent(root, path, create: true, workspace);
        if (parent < 0)
        {
            throw Failure(path, Libc.LastError);
        }
        try
        {
            var name = NameOf(path);
            // A directory where a file goes: it may only be replaced when empty (what is in it is not history's to drop).
            if (Libc.StatAt(parent, name) is { Type: Libc.S_IFDIR } && Libc.UnlinkAt(parent, name, Libc.AT_REMOVEDIR) != 0)
            {
                throw new SessionException($"cannot restore {path}: a directory that is not empty is in its place (it holds files history does not track, such as ignored ones). Nothing more was changed");
            }
            var temporary = $".{name}.session-mcp-{Guid.NewGuid():N}.tmp";
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
            if (Libc.RenameAt(parent, temporary, parent, name) != 0)
            {
                var errno = Libc.LastError;
                Libc.UnlinkAt(parent, temporary, 0);
                throw Failure(path, errno);
            }
        }
        finally
        {
            Libc.Close(parent);
        }
    }

    private static void ChangeMode(int root, string path, int mode, WorkspaceLocation workspace)
    {
        var parent = OpenParent(root, path, create: false, workspace);
        if (parent < 0)
        {
            throw Failure(path, Libc.LastError);
        }
        try
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
        finally
        {
            Libc.Close(parent);
        }
    }

    /// <summary>The directory holding <paramref name="path"/>, walked down from the root without following links; missing
    /// directories are made when <paramref name="create"/>. -1 when it cannot be reached.</summary>
    private static int OpenParent(int root, string path, bool create, WorkspaceLocation? workspace)
    {
        var fd = Libc.OpenAt(root, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        var parent = WorkspaceTreePaths.Parent(path);
        if (parent.Length == 0 || fd < 0)
        {
            return fd;
        }
        foreach (var component in parent.Split('/'))
        {
            var flags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
            var next = Libc.OpenAt(fd, component, flags, 0);
            if (next < 0 && Libc.LastError == Libc.ENOENT && create)
            {
                if (Libc.MkdirAt(fd, component, DirectoryMode) == 0 || Libc.LastError == Libc.EEXIST)
                {
                    next = Libc.OpenAt(fd, component, flags, 0);
                    if (next >= 0 && workspace is not null)
                    {
                        GiveToOwner(workspace, next);
                    }
                }
            }
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
