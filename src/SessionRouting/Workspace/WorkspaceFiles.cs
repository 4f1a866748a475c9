using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// Reads and atomically writes files inside a workspace. Each access resolves the path with <see cref="WorkspacePaths"/>
/// (which yields a path with no link left in it), then walks it from the workspace root one directory at a time with
/// <c>openat(O_NOFOLLOW)</c>, creating missing directories with <c>mkdirat</c>, and works relative to the final
/// directory's descriptor. A link that a concurrent command swaps in anywhere on the way makes the walk fail instead of
/// leading it outside: no path-based call ever touches a host path inside the workspace.
/// </summary>
public static class WorkspaceFiles
{
    /// <summary>Files larger than this are refused by the file tools (use session_exec for them).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    private const int DirectoryMode = 0b111_101_101; // 0755
    private const int NewFileMode = 0b110_100_100; // 0644
    private const int PermissionBits = 0b111_111_111; // never copy setuid/setgid/sticky onto a rewritten file

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> PathLocks = new(StringComparer.Ordinal);

    public static (byte[] Content, ResolvedPath Path) Read(WorkspaceLocation workspace, string requested)
    {
        var path = WorkspacePaths.Resolve(workspace, requested);
        var name = FileName(workspace, path, requested);
        using var directory = OpenDirectory(workspace, path, createDirectories: false, forWrite: false);
        // O_NONBLOCK: opening a FIFO a command planted must not hang the server waiting for a writer.
        var fd = Libc.OpenAt(directory.Fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw OpenError(Libc.LastError, path.RelativePath);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (IsDirectory(handle))
        {
            throw new PathPolicyException($"{path.RelativePath} is a directory; give a file path (list it with session_exec 'ls')");
        }
        using var stream = new FileStream(handle, FileAccess.Read, 0);
        if (!stream.CanSeek)
        {
            throw new PathPolicyException($"{path.RelativePath} is not a regular file (a pipe, socket or device); read it with session_exec");
        }
        var length = stream.Length;
        if (length > MaxFileBytes)
        {
            throw new PathPolicyException($"{path.RelativePath} is {length:N0} bytes, over the {MaxFileBytes / (1024 * 1024)} MiB limit of the file tools; use session_exec (head, sed -n, grep) for it");
        }
        // Exactly the length seen: a file a command keeps appending to cannot grow this read without bound.
        var content = new byte[length];
        stream.ReadExactly(content);
        return (content, path);
    }

    /// <summary>Writes <paramref name="content"/> through a temporary file and a rename: readers see the old or the new file, never a mix.</summary>
    public static ResolvedPath WriteAtomic(WorkspaceLocation workspace, string requested, ReadOnlySpan<byte> content, bool createDirectories)
    {
        var path = WorkspacePaths.Resolve(workspace, requested);
        var name = FileName(workspace, path, requested);
        using var directory = OpenDirectory(workspace, path, createDirectories, forWrite: true);

        var mode = NewFileMode;
        var existing = Libc.OpenAt(directory.Fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (existing >= 0)
        {
            using var handle = new SafeFileHandle(existing, ownsHandle: true);
            if (IsDirectory(handle))
            {
                throw new PathPolicyException($"{path.RelativePath} is a directory; give a file path");
            }
            // An existing file keeps its permissions (read from the file itself, never through a link).
            mode = (int)File.GetUnixFileMode(handle) & PermissionBits;
        }

        var temporary = $".{name}.session-mcp-{Guid.NewGuid():N}.tmp";
        var fd = Libc.OpenAt(directory.Fd, temporary, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, mode);
        if (fd < 0)
        {
            throw OpenError(Libc.LastError, path.RelativePath);
        }
        try
        {
            using (var handle = new SafeFileHandle(fd, ownsHandle: true))
            {
                Libc.FChmod(fd, mode);
                GiveToOwner(workspace, fd);
                try
                {
                    RandomAccess.Write(handle, content, 0);
                }
                catch (IOException e) when (WorkspaceQuota.IsNoSpace(e))
                {
                    throw new Backends.SessionException($"{path.RelativePath} was not written: {WorkspaceQuota.FullMessage}", e);
                }
            }
            if (Libc.RenameAt(directory.Fd, temporary, directory.Fd, name) != 0)
            {
                throw OpenError(Libc.LastError, path.RelativePath);
            }
        }
        catch
        {
            Libc.UnlinkAt(directory.Fd, temporary, 0);
            throw;
        }
        return path;
    }

    /// <summary>
    /// Serialises read-modify-write cycles on one file within this server, so two edits of the same file cannot both
    /// read the old content and silently drop one change.
    /// </summary>
    public static async Task<T> WithFileLockAsync<T>(ResolvedPath path, Func<T> work, CancellationToken cancellationToken)
    {
        var gate = PathLocks.GetOrAdd(path.HostPath, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work();
        }
        finally
        {
            gate.Release();
        }
    }

    public static string Sha256Hex(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The last component of a file path; refuses the root and paths that name a directory.</summary>
    private static string FileName(WorkspaceLocation workspace, ResolvedPath path, string requested)
    {
        if (requested.EndsWith('/') || path.HostPath.Length <= workspace.HostRoot.TrimEnd('/').Length)
        {
            throw new PathPolicyException($"{path.RelativePath} is a directory; give a file path");
        }
        return Path.GetFileName(path.HostPath);
    }

    /// <summary>Opens the directory that holds <paramref name="path"/>, walking down from the root without following links.</summary>
    private static DirectoryDescriptor OpenDirectory(WorkspaceLocation workspace, ResolvedPath path, bool createDirectories, bool forWrite)
    {
        var root = workspace.HostRoot.TrimEnd('/');
        var fd = Libc.Open(root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new PathPolicyException($"the session workspace {workspace.VisibleRoot} no longer exists on the server");
        }
        var parent = Path.GetDirectoryName(path.HostPath)!;
        var components = parent.Length > root.Length ? parent[(root.Length + 1)..].Split('/') : [];
        try
        {
            foreach (var component in components)
            {
                var next = Libc.OpenAt(fd, component, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (next < 0 && Libc.LastError == Libc.ENOENT)
                {
                    if (!forWrite)
                    {
                        throw new PathPolicyException($"{path.RelativePath} does not exist (its directory is missing; relative paths start at the workspace root, not at the shell's cwd)");
                    }
                    if (!createDirectories)
                    {
                        throw new PathPolicyException($"the directory of {path.RelativePath} does not exist; pass create_dirs: true to create it");
                    }
                    if (Libc.MkdirAt(fd, component, DirectoryMode) != 0 && Libc.LastError != Libc.EEXIST)
                    {
                        throw OpenError(Libc.LastError, path.RelativePath);
                    }
                    next = Libc.OpenAt(fd, component, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (next >= 0)
                    {
                        GiveToOwner(workspace, next);
                    }
                }
                if (next < 0)
                {
                    throw Libc.LastError is Libc.ELOOP or Libc.ENOTDIR
                        ? new PathPolicyException($"{path.RelativePath} changed while it was being opened (a directory on its way is now a link or a file); refused")
                        : OpenError(Libc.LastError, path.RelativePath);
                }
                Libc.Close(fd);
                fd = next;
            }
            return new DirectoryDescriptor(fd);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>New files and directories belong to the session's user (a container's non-root user).</summary>
    private static void GiveToOwner(WorkspaceLocation workspace, int fd)
    {
        if (workspace.OwnerUid is { } uid && Libc.GetEuid() == 0)
        {
            Libc.FChown(fd, uid, workspace.OwnerGid ?? uid);
        }
    }

    private static bool IsDirectory(SafeFileHandle handle) =>
        Libc.OpenAt((int)handle.DangerousGetHandle(), ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0) is var probe && probe >= 0 && Libc.Close(probe) == 0;

    private static PathPolicyException OpenError(int errno, string visiblePath) => errno switch
    {
        Libc.ENOENT => new PathPolicyException($"{visiblePath} does not exist (relative paths start at the workspace root, not at the shell's cwd)"),
        Libc.ELOOP => new PathPolicyException($"{visiblePath} became a symbolic link while it was being opened; refused"),
        Libc.EISDIR => new PathPolicyException($"{visiblePath} is a directory; give a file path"),
        Libc.ENOTDIR => new PathPolicyException($"a parent of {visiblePath} is not a directory"),
        Libc.EACCES => new PathPolicyException($"permission denied on {visiblePath}"),
        Libc.ENOSPC => new PathPolicyException($"no space left on the device holding {visiblePath}"),
        _ => new PathPolicyException($"cannot open {visiblePath} (errno {errno})"),
    };

    private readonly struct DirectoryDescriptor(int fd) : IDisposable
    {
        public int Fd { get; } = fd;

        public void Dispose() => Libc.Close(Fd);
    }
}
