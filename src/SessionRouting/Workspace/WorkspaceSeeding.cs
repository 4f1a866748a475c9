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
    /// </summary>
    public static void CopyDirectory(string source, string destination, long maxBytes, int? ownerUid = null, int? ownerGid = null, string? skip = null)
    {
        Directory.CreateDirectory(destination);
        Chown(destination, ownerUid, ownerGid);
        long copied = 0;
        Copy(new DirectoryInfo(source), destination, ownerUid, ownerGid, ref copied, maxBytes, source, skip);
    }

    private static void Copy(DirectoryInfo source, string destination, int? ownerUid, int? ownerGid, ref long copied, long maxBytes, string top, string? skip)
    {
        foreach (var entry in source.EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            // The source is canonical and links are never followed, so every path below it is canonical too: a plain
            // comparison finds the data directory (which would otherwise copy the new workspace into itself, too).
            if (skip is not null && string.Equals(entry.FullName, skip, StringComparison.Ordinal))
            {
                continue;
            }
            if (entry.LinkTarget is { } linkTarget)
            {
                File.CreateSymbolicLink(target, linkTarget);
                continue;
            }
            if (entry is DirectoryInfo directory)
            {
                Directory.CreateDirectory(target);
                Chown(target, ownerUid, ownerGid);
                Copy(directory, target, ownerUid, ownerGid, ref copied, maxBytes, top, skip);
                continue;
            }
            // Opened without following links and without blocking, and copied only if it is a regular file: a FIFO
            // swapped in (or already there) must not hang session creation.
            var fd = Libc.Open(entry.FullName, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                continue;
            }
            using var handle = new SafeFileHandle(fd, ownsHandle: true);
            using var input = new FileStream(handle, FileAccess.Read, 0);
            if (!input.CanSeek)
            {
                continue;
            }
            copied += input.Length;
            if (copied > maxBytes)
            {
                throw new SessionException($"source_dir {top} holds more than {maxBytes / (1024 * 1024)} MiB; copy a smaller directory");
            }
            using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
            {
                input.CopyTo(output);
            }
            File.SetUnixFileMode(target, File.GetUnixFileMode(handle) & (UnixFileMode)0b111_111_111);
            Chown(target, ownerUid, ownerGid);
        }
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
