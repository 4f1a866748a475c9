using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.History;

/// <summary>What a path of the source directory holds now: nothing, a file or a symlink (with its content), or
/// something history cannot stand for (a directory, a FIFO, a path under a link).</summary>
internal sealed record SourceState(EntryKind? Kind, int Mode, string? Hash, byte[]? Content, string? Unusable = null)
{
    public static readonly SourceState Absent = new(null, 0, null, null);

    public bool Exists => Kind is not null || Unusable is not null;

    /// <summary>Whether this is what <paramref name="entry"/> describes (null: absent), by kind and content.</summary>
    public bool Matches(FileEntry? entry) => Unusable is null && (entry is null
        ? Kind is null
        : Kind == entry.Kind && Hash == entry.Hash);
}

/// <summary>
/// Reads and changes files of a user's source directory without ever following a link: every access walks from the
/// root one directory at a time with <c>openat(O_NOFOLLOW)</c> and works relative to the last directory's descriptor
/// (as <see cref="WorkspaceFiles"/> does for workspaces), so a link in the source cannot lead a write outside it. Calls
/// that .NET only offers by path (readlink, symlink) go through <c>/proc/self/fd/N/name</c>, which names the entry in
/// the directory already opened.
/// </summary>
internal sealed class SourceDirectory(string root)
{
    private const int PermissionBits = 0b111_111_111;
    private const int DirectoryMode = 0b111_101_101;

    public string Root { get; } = root.TrimEnd('/');

    public SourceState Read(string path)
    {
        var (directory, problem) = OpenParent(path, create: false);
        if (directory is null)
        {
            return problem is null ? SourceState.Absent : new SourceState(null, 0, null, null, problem);
        }
        using (directory)
        {
            var name = Name(path);
            var fd = Libc.OpenAt(directory.Fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                var errno = Libc.LastError;
                if (errno == Libc.ENOENT)
                {
                    return SourceState.Absent;
                }
                if (errno == Libc.ELOOP)
                {
                    var target = new FileInfo(directory.EntryPath(name)).LinkTarget ?? "";
                    var bytes = Encoding.UTF8.GetBytes(target);
                    return new SourceState(EntryKind.Symlink, PermissionBits, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes);
                }
                return new SourceState(null, 0, null, null, $"cannot be read (errno {errno})");
            }
            using var handle = new SafeFileHandle(fd, ownsHandle: true);
            using var stream = new FileStream(handle, FileAccess.Read, 0);
            if (!stream.CanSeek || Libc.OpenAt(fd, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0) is var probe && probe >= 0 && Libc.Close(probe) == 0)
            {
                return new SourceState(null, 0, null, null, "is a directory or a special file");
            }
            var content = new byte[stream.Length];
            stream.ReadExactly(content);
            var mode = (int)File.GetUnixFileMode(handle) & 0b111_111_111_111;
            return new SourceState(EntryKind.File, mode, Convert.ToHexStringLower(SHA256.HashData(content)), content);
        }
    }

    /// <summary>Writes a file through a temporary file and a rename (readers see the old or the new file), with exactly
    /// <paramref name="mode"/>; missing directories are made.</summary>
    public void WriteFile(string path, ReadOnlySpan<byte> content, int mode)
    {
        using var directory = RequireParent(path);
        var temporary = TemporaryName(path);
        var fd = Libc.OpenAt(directory.Fd, temporary, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0b110_000_000);
        if (fd < 0)
        {
            throw Failure("create a file beside", path, Libc.LastError);
        }
        try
        {
            using (var handle = new SafeFileHandle(fd, ownsHandle: true))
            {
                RandomAccess.Write(handle, content, 0);
                Libc.FChmod(fd, mode & 0b111_111_111_111);
            }
            Rename(directory, temporary, directory, Name(path), path);
        }
        catch
        {
            Libc.UnlinkAt(directory.Fd, temporary, 0);
            throw;
        }
    }

    /// <summary>Makes <paramref name="path"/> a symlink to <paramref name="target"/>, replacing what is there in one rename.</summary>
    public void WriteSymlink(string path, string target)
    {
        using var directory = RequireParent(path);
        var temporary = TemporaryName(path);
        File.CreateSymbolicLink(directory.EntryPath(temporary), target);
        try
        {
            Rename(directory, temporary, directory, Name(path), path);
        }
        catch
        {
            Libc.UnlinkAt(directory.Fd, temporary, 0);
            throw;
        }
    }

    /// <summary>Sets the permission bits of a file (never through a link: a symlink has none to set).</summary>
    public void Chmod(string path, int mode)
    {
        using var directory = RequireParent(path);
        var fd = Libc.OpenAt(directory.Fd, Name(path), Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Failure("open", path, Libc.LastError);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        Libc.FChmod(fd, mode & 0b111_111_111_111);
    }

    public void Move(string from, string to)
    {
        using var source = RequireParent(from);
        using var destination = RequireParent(to);
        Rename(source, Name(from), destination, Name(to), to);
        RemoveEmptyParents(from);
    }

    /// <summary>Removes a file or link, then the directories it leaves empty (a tree records no empty directory).</summary>
    public void Delete(string path)
    {
        using (var directory = RequireParent(path))
        {
            if (Libc.UnlinkAt(directory.Fd, Name(path), 0) != 0 && Libc.LastError != Libc.ENOENT)
            {
                throw Failure("remove", path, Libc.LastError);
            }
        }
        RemoveEmptyParents(path);
    }

    private void RemoveEmptyParents(string path)
    {
        for (var parent = ParentOf(path); parent.Length > 0; parent = ParentOf(parent))
        {
            var (directory, _) = OpenParent(parent, create: false);
            if (directory is null)
            {
                return;
            }
            using (directory)
            {
                if (Libc.UnlinkAt(directory.Fd, Name(parent), Libc.AT_REMOVEDIR) != 0)
                {
                    return;
                }
            }
        }
    }

    private static string ParentOf(string path) => path.LastIndexOf('/') is var slash and > 0 ? path[..slash] : "";

    private static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static string TemporaryName(string path) => $".{Name(path)}.session-mcp-{Guid.NewGuid():N}.tmp";

    private static void Rename(Descriptor fromDirectory, string fromName, Descriptor toDirectory, string toName, string visible)
    {
        if (Libc.RenameAt(fromDirectory.Fd, fromName, toDirectory.Fd, toName) != 0)
        {
            throw Failure("write", visible, Libc.LastError);
        }
    }

    private Descriptor RequireParent(string path)
    {
        var (directory, problem) = OpenParent(path, create: true);
        return directory ?? throw new ExportException($"{path} in {Root} {problem}; nothing more was written.");
    }

    /// <summary>The directory holding <paramref name="path"/>, walked without following links; null with a reason when a
    /// directory on the way is a link or a file, null without one when it is missing (and not created).</summary>
    private (Descriptor? Directory, string? Problem) OpenParent(string path, bool create)
    {
        if (path.Length == 0 || path.StartsWith('/') || path.Split('/').Any(c => c is "" or "." or ".."))
        {
            return (null, "is not a plain relative path");
        }
        var fd = Libc.Open(Root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return (null, "cannot be reached: the source directory is gone");
        }
        var components = path.Split('/');
        for (var i = 0; i < components.Length - 1; i++)
        {
            var next = Libc.OpenAt(fd, components[i], Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (next < 0 && Libc.LastError == Libc.ENOENT && create)
            {
                Libc.MkdirAt(fd, components[i], DirectoryMode);
                next = Libc.OpenAt(fd, components[i], Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            }
            if (next < 0)
            {
                var errno = Libc.LastError;
                Libc.Close(fd);
                return errno == Libc.ENOENT
                    ? (null, null)
                    : (null, $"lies under {string.Join('/', components[..(i + 1)])}, which is a link or a file in the source, not a directory");
            }
            Libc.Close(fd);
            fd = next;
        }
        return (new Descriptor(fd), null);
    }

    private static ExportException Failure(string what, string path, int errno) =>
        new($"Could not {what} {path} in the source directory (errno {errno}); the files listed before it in the plan were written.");

    private sealed class Descriptor(int fd) : IDisposable
    {
        public int Fd { get; } = fd;

        /// <summary>A path naming <paramref name="name"/> inside this very directory, for calls that take only paths.</summary>
        public string EntryPath(string name) => $"/proc/self/fd/{Fd}/{name}";

        public void Dispose() => Libc.Close(Fd);
    }
}
