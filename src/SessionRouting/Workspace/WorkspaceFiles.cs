using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// Reads and atomically writes files inside a workspace. Each access resolves the path with <see cref="WorkspacePaths"/>,
/// opens the parent directory without following links, checks that the kernel's path of that directory is still inside
/// the workspace, and then works relative to that descriptor, so a link planted by a concurrent command cannot redirect
/// the access outside.
/// </summary>
public static class WorkspaceFiles
{
    /// <summary>Files larger than this are refused by the file tools (use session_exec for them).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> PathLocks = new(StringComparer.Ordinal);

    public static (byte[] Content, ResolvedPath Path) Read(WorkspaceLocation workspace, string requested)
    {
        var path = WorkspacePaths.Resolve(workspace, requested);
        using var directory = OpenVerifiedDirectory(workspace, path, createDirectories: false, mustExist: true);
        var name = Path.GetFileName(path.HostPath);
        if (name.Length == 0)
        {
            throw new PathPolicyException($"{path.VisiblePath} is a directory; give a file path");
        }
        // O_NONBLOCK: opening a FIFO a command planted must not hang the server waiting for a writer.
        var fd = Libc.OpenAt(directory.Fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw OpenError(Libc.LastError, path.VisiblePath);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Directory.Exists(path.HostPath))
        {
            throw new PathPolicyException($"{path.VisiblePath} is a directory; give a file path (list it with session_exec 'ls')");
        }
        using var stream = new FileStream(handle, FileAccess.Read, 0);
        if (!stream.CanSeek)
        {
            throw new PathPolicyException($"{path.VisiblePath} is not a regular file (a pipe, socket or device); read it with session_exec");
        }
        var length = stream.Length;
        if (length > MaxFileBytes)
        {
            throw new PathPolicyException($"{path.VisiblePath} is {length:N0} bytes, over the {MaxFileBytes / (1024 * 1024)} MiB limit of the file tools; use session_exec (head, sed -n, grep) for it");
        }
        using var memory = new MemoryStream((int)length);
        stream.CopyTo(memory);
        return (memory.ToArray(), path);
    }

    /// <summary>Writes <paramref name="content"/> through a temporary file and a rename: readers see the old or the new file, never a mix.</summary>
    public static ResolvedPath WriteAtomic(WorkspaceLocation workspace, string requested, ReadOnlySpan<byte> content, bool createDirectories)
    {
        var path = WorkspacePaths.Resolve(workspace, requested);
        using var directory = OpenVerifiedDirectory(workspace, path, createDirectories, mustExist: false);
        var name = Path.GetFileName(path.HostPath);
        if (name.Length == 0 || Directory.Exists(path.HostPath))
        {
            throw new PathPolicyException($"{path.VisiblePath} is a directory; give a file path");
        }

        var mode = 0b110_100_100; // 0644 for a new file; an existing file keeps its mode.
        if (File.Exists(path.HostPath))
        {
            mode = (int)File.GetUnixFileMode(path.HostPath);
        }

        var temporary = $".{name}.session-mcp-{Guid.NewGuid():N}.tmp";
        var fd = Libc.OpenAt(directory.Fd, temporary, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, mode);
        if (fd < 0)
        {
            throw OpenError(Libc.LastError, path.VisiblePath);
        }
        try
        {
            using (var handle = new SafeFileHandle(fd, ownsHandle: true))
            {
                Libc.FChmod(fd, mode);
                if (workspace.OwnerUid is { } uid && Libc.GetEuid() == 0)
                {
                    Libc.FChown(fd, uid, workspace.OwnerGid ?? uid);
                }
                RandomAccess.Write(handle, content, 0);
            }
            if (Libc.RenameAt(directory.Fd, temporary, directory.Fd, name) != 0)
            {
                throw OpenError(Libc.LastError, path.VisiblePath);
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

    private static DirectoryDescriptor OpenVerifiedDirectory(WorkspaceLocation workspace, ResolvedPath path, bool createDirectories, bool mustExist)
    {
        var directoryPath = Path.GetDirectoryName(path.HostPath) ?? workspace.HostRoot;
        var root = Libc.CanonicalPath(workspace.HostRoot)
            ?? throw new PathPolicyException($"the session workspace {workspace.VisibleRoot} no longer exists on the server");
        if (!Directory.Exists(directoryPath))
        {
            if (mustExist)
            {
                throw new PathPolicyException($"{path.VisiblePath} does not exist (its directory is missing)");
            }
            if (!createDirectories)
            {
                throw new PathPolicyException($"the directory of {path.VisiblePath} does not exist; pass create_dirs: true to create it");
            }
            CreateDirectories(workspace, directoryPath);
        }

        var fd = Libc.Open(directoryPath, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw OpenError(Libc.LastError, path.VisiblePath);
        }
        var actual = Libc.PathOfDescriptor(fd);
        if (actual is null || !WorkspacePaths.IsUnder(actual, root))
        {
            Libc.Close(fd);
            throw new PathPolicyException($"{path.VisiblePath} changed while it was being opened (a directory on its way was replaced by a link out of the workspace); refused");
        }
        return new DirectoryDescriptor(fd);
    }

    private static void CreateDirectories(WorkspaceLocation workspace, string directoryPath)
    {
        // Create one level at a time so each new directory can be handed to the session's user.
        var missing = new Stack<string>();
        for (var current = directoryPath; !Directory.Exists(current); current = Path.GetDirectoryName(current)!)
        {
            missing.Push(current);
        }
        while (missing.TryPop(out var next))
        {
            Directory.CreateDirectory(next);
            if (workspace.OwnerUid is { } uid && Libc.GetEuid() == 0)
            {
                var fd = Libc.Open(next, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (fd >= 0)
                {
                    Libc.FChown(fd, uid, workspace.OwnerGid ?? uid);
                    Libc.Close(fd);
                }
            }
        }
    }

    private static PathPolicyException OpenError(int errno, string visiblePath) => errno switch
    {
        Libc.ENOENT => new PathPolicyException($"{visiblePath} does not exist"),
        Libc.ELOOP => new PathPolicyException($"{visiblePath} became a symbolic link while it was being opened; refused"),
        Libc.EISDIR => new PathPolicyException($"{visiblePath} is a directory; give a file path"),
        Libc.ENOTDIR => new PathPolicyException($"a parent of {visiblePath} is not a directory"),
        13 => new PathPolicyException($"permission denied on {visiblePath}"),
        _ => new PathPolicyException($"cannot open {visiblePath} (errno {errno})"),
    };

    private readonly struct DirectoryDescriptor(int fd) : IDisposable
    {
        public int Fd { get; } = fd;

        public void Dispose() => Libc.Close(Fd);
    }
}
