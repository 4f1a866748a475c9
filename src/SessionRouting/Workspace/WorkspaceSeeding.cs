using System.Buffers;
using Microsoft.Win32.SafeHandles;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>Fills a new workspace from a host directory (<c>session_create {source_dir}</c>).</summary>
public static class WorkspaceSeeding
{
    /// <summary>
    /// Makes the directory that holds every session's directory private to the server's user (mode 0700, created so
    /// if missing), before any workspace is made in it. A session's commands can plant setuid/setgid files in their
    /// workspace (a container's user may chmod its own files; on the host they belong to its uid, 1000 by default, on
    /// many hosts a real account). Rather than chase the bits after every command (a walk per exec, and racy: a
    /// background job can plant one a moment later) or re-mount workspaces nosuid, the host never lets anyone else reach
    /// them: a file no other user can get to cannot be executed as a privilege. The engine does not need the way
    /// through, since bind mounts are set up by its root, and the server's own user gains nothing from its own uid.
    /// </summary>
    public static void SecureSessionsRoot(string sessionsDir)
    {
        Directory.CreateDirectory(sessionsDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var fd = Libc.Open(sessionsDir, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new SessionException($"the server cannot open its sessions directory {sessionsDir} (errno {Libc.LastError}); check the data directory");
        }
        try
        {
            // As root, also take it over: an owner other than the server could open it up again.
            var owned = Libc.GetEuid() != 0 || Libc.FChown(fd, 0, Libc.GetEgid()) == 0;
            if (!owned || Libc.FChmod(fd, PrivateDirectoryMode) != 0)
            {
                throw new SessionException($"the server cannot make its sessions directory {sessionsDir} private (errno {Libc.LastError}): it must belong to the server's user, so that no other host user can reach the workspaces in it");
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private const int PrivateDirectoryMode = 0b111_000_000; // 0700

    /// <summary>Creates an empty workspace owned by the session's user.</summary>
    public static void CreateEmpty(string destination, int? ownerUid = null, int? ownerGid = null)
    {
        Directory.CreateDirectory(destination);
        Chown(destination, ownerUid, ownerGid);
    }

    /// <summary>
    /// Checks a requested source directory against the roots this server may copy from, and returns its canonical path.
    /// A relative path is taken from the first root (so an agent can name a project without knowing where the server
    /// runs). A session must not be a way to read host directories the operator did not offer (into a container, above all),
    /// nor the server's own <paramref name="dataDir"/> (other sessions' workspaces, the audit log), even under a root.
    /// </summary>
    public static string CheckSource(string source, IReadOnlyList<string> allowedRoots, string? dataDir = null)
    {
        if (string.IsNullOrWhiteSpace(source))
        {
            throw new SessionException("source_dir is empty; give a directory under the server's source roots (\".\" is the first root itself)");
        }
        if (allowedRoots.Count == 0)
        {
            throw new SessionException("this server copies from no directory; the operator can allow some with --source-roots");
        }
        var absolute = Path.IsPathFullyQualified(source) ? source : Path.Combine(allowedRoots[0], source);
        // realpath resolves '..' and symbolic links, so the containment check below judges where the copy would really read.
        var canonical = Libc.CanonicalPath(absolute);
        if (canonical is null || !Directory.Exists(canonical))
        {
            var relativeTo = Path.IsPathFullyQualified(source) ? "" : $" (a relative path is taken from {allowedRoots[0]})";
            throw new SessionException($"source_dir '{source}' is not an existing directory on the server{relativeTo}");
        }
        var roots = allowedRoots.Select(r => Libc.CanonicalPath(r)).OfType<string>().ToList();
        if (!roots.Any(root => WorkspacePaths.IsUnder(canonical, root)))
        {
            throw new SessionException($"source_dir '{source}' is outside the directories this server copies from ({string.Join(", ", allowedRoots)}); the operator can allow more with --source-roots");
        }
        if (dataDir is not null && Libc.CanonicalPath(dataDir) is { } data && WorkspacePaths.IsUnder(canonical, data))
        {
            throw new SessionException($"source_dir '{source}' is inside this server's data directory, which holds other sessions' workspaces and the audit log; it cannot be copied. Copy a project directory instead");
        }
        return canonical;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/>: directories, regular files, and symbolic links
    /// as links (never followed, so a link cannot pull host files in; the path policy judges them later). Pipes, sockets
    /// and devices are skipped, and so is <paramref name="skip"/> (a canonical path: the server's data directory, when
    /// the source contains it). More than <paramref name="maxBytes"/> in all is refused.
    /// <para>
    /// The source may be another session's live workspace (<c>session_fork</c>), so it is read the way history reads one:
    /// every name opened below its directory's descriptor with <c>O_NOFOLLOW</c>, a file opened without blocking and
    /// copied only when the opened file is a regular one. The files of a directory are copied on every core: a fork of a
    /// 5,000-file workspace waits on the filesystem for each file it creates, not on a CPU.
    /// </para>
    /// </summary>
    public static void CopyDirectory(string source, string destination, long maxBytes, int? ownerUid = null, int? ownerGid = null, string? skip = null)
    {
        Directory.CreateDirectory(destination);
        Chown(destination, ownerUid, ownerGid);
        var from = Libc.Open(source, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (from < 0)
        {
            throw new SessionException($"cannot read {source} (errno {Libc.LastError})");
        }
        var to = Libc.Open(destination, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (to < 0)
        {
            Libc.Close(from);
            throw new SessionException($"cannot write {destination} (errno {Libc.LastError})");
        }
        new TreeCopy(source, maxBytes, ownerUid, ownerGid, skip).Directory(from, to, source, depth: 0);
    }

    /// <summary>One copy of a tree: what it copied so far, against its limit.</summary>
    private sealed class TreeCopy(string top, long maxBytes, int? ownerUid, int? ownerGid, string? skip)
    {
        private const int DirectoryMode = 0b111_101_101; // 0755
        private const int ParallelFrom = 8;
        private long _copied;

        /// <summary>Copies the directory open as <paramref name="from"/> into the one open as <paramref name="to"/>; closes both.</summary>
        public void Directory(int from, int to, string fromPath, int depth)
        {
            var files = new List<(string Name, bool Link)>();
            var subdirectories = new List<string>();
            try
            {
                ReadEntries(from, fromPath, files, subdirectories);
                if (files.Count >= ParallelFrom)
                {
                    try
                    {
                        Parallel.ForEach(files, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, file => File(from, to, file.Name, file.Link));
                    }
                    catch (AggregateException e) when (e.InnerExceptions[0] is SessionException first)
                    {
                        throw first;
                    }
                }
                else
                {
                    files.ForEach(file => File(from, to, file.Name, file.Link));
                }
                if (subdirectories.Count > 0 && depth >= WorkspacePaths.MaxWalkDepth)
                {
                    throw new SessionException($"{top} has directories nested more than {WorkspacePaths.MaxWalkDepth} levels deep; it cannot be copied");
                }
                foreach (var name in subdirectories)
                {
                    var child = Libc.OpenAt(from, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (child < 0)
                    {
                        continue; // gone, or swapped for a link or a file since it was listed
                    }
                    if (Libc.MkdirAt(to, name, DirectoryMode) != 0 && Libc.LastError != Libc.EEXIST)
                    {
                        Libc.Close(child);
                        throw Failure(Path.Join(fromPath, name), Libc.LastError);
                    }
                    var made = Libc.OpenAt(to, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (made < 0)
                    {
                        Libc.Close(child);
                        throw Failure(Path.Join(fromPath, name), Libc.LastError);
                    }
                    GiveToOwner(made);
                    Directory(child, made, Path.Join(fromPath, name), depth + 1);
                }
            }
            finally
            {
                Libc.Close(from);
                Libc.Close(to);
            }
        }

        /// <summary>Lists a directory's files and links (into <paramref name="files"/>) and its subdirectories, leaving out <c>skip</c>.</summary>
        private void ReadEntries(int from, string fromPath, List<(string Name, bool Link)> files, List<string> subdirectories)
        {
            var listing = Libc.OpenAt(from, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            var stream = listing < 0 ? 0 : Libc.FdOpenDir(listing);
            if (stream == 0)
            {
                if (listing >= 0)
                {
                    Libc.Close(listing);
                }
                return;
            }
            try
            {
                while (Libc.ReadDir(stream) is var entry && entry != 0)
                {
                    var name = Libc.DirentName(entry);
                    // The source is canonical and links are never followed, so every path below it is canonical too: a
                    // plain comparison finds the data directory (which would otherwise copy the new workspace into itself).
                    if (name is "." or ".." || (skip is not null && string.Equals(Path.Join(fromPath, name), skip, StringComparison.Ordinal)))
                    {
                        continue;
                    }
                    var type = Libc.DirentType(entry);
                    if (type == 0)
                    {
                        // The filesystem does not say in the listing: ask.
                        type = Libc.StatAt(from, name)?.Type switch
                        {
                            Libc.S_IFDIR => Libc.DT_DIR,
                            Libc.S_IFREG => Libc.DT_REG,
                            Libc.S_IFLNK => Libc.DT_LNK,
                            _ => -1,
                        };
                    }
                    if (type == Libc.DT_DIR)
                    {
                        subdirectories.Add(name);
                    }
                    else if (type is Libc.DT_REG or Libc.DT_LNK)
                    {
                        files.Add((name, type == Libc.DT_LNK));
                    }
                }
            }
            finally
            {
                Libc.CloseDir(stream);
            }
        }

        /// <summary>Copies one file or link; anything else found under its name (a FIFO swapped in) is skipped.</summary>
        private void File(int from, int to, string name, bool link)
        {
            if (link)
            {
                if (Libc.ReadLink(from, name) is { } target && Libc.SymlinkAt(System.Text.Encoding.UTF8.GetString(target), to, name) != 0)
                {
                    throw Failure(name, Libc.LastError);
                }
                return; // not a link any more: left out, as anything swapped in while copying may be
            }
            var input = Libc.OpenAt(from, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            if (input < 0)
            {
                return; // gone, or a link now
            }
            using var reader = new SafeFileHandle(input, ownsHandle: true);
            if (Libc.StatOf(input) is not { Type: Libc.S_IFREG } status)
            {
                return;
            }
            if (Interlocked.Add(ref _copied, status.Size) > maxBytes)
            {
                throw new SessionException($"{top} holds more than {maxBytes / (1024 * 1024)} MiB, the most the server copies into a new session; copy a smaller directory (to fork such a session, fork it at an event: at_seq writes only the files history recorded)");
            }
            var output = Libc.OpenAt(to, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, status.Permissions & 0x1FF);
            if (output < 0)
            {
                throw Failure(name, Libc.LastError);
            }
            using var writer = new SafeFileHandle(output, ownsHandle: true);
            Libc.FChmod(output, status.Permissions & 0x1FF); // past the umask
            GiveToOwner(output);
            // As much as the file held when opened: one that a running session keeps appending to is copied as it was then.
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(status.Size, 1, 1 << 16));
            try
            {
                long offset = 0;
                while (offset < status.Size && RandomAccess.Read(reader, buffer.AsSpan(0, (int)Math.Min(buffer.Length, status.Size - offset)), offset) is var read && read > 0)
                {
                    RandomAccess.Write(writer, buffer.AsSpan(0, read), offset);
                    offset += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private void GiveToOwner(int fd)
        {
            if (ownerUid is { } uid && Libc.GetEuid() == 0)
            {
                Libc.FChown(fd, uid, ownerGid ?? uid);
            }
        }

        private static SessionException Failure(string name, int errno) => new(errno == Libc.ENOSPC
            ? $"cannot copy {name}: no space left on the device"
            : $"cannot copy {name} (errno {errno})");
    }

    private static void Chown(string path, int? uid, int? gid)
    {
        if (uid is null || Libc.GetEuid() != 0)
        {
            return;
        }
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            Libc.FChown(fd, uid.Value, gid ?? uid.Value);
            Libc.Close(fd);
        }
    }
}
