using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>Fills a new workspace from a host directory (<c>session_create {source_dir}</c>).</summary>
public static class WorkspaceSeeding
{
    /// <summary>Creates an empty workspace owned by the session's user.</summary>
    public static void CreateEmpty(string destination, int? ownerUid = null, int? ownerGid = null)
    {
        Directory.CreateDirectory(destination);
        Chown(destination, ownerUid, ownerGid);
    }

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/>. Symbolic links are copied as links, never
    /// followed, so a link in the source cannot pull host files into the workspace; the path policy judges them later.
    /// </summary>
    public static void CopyDirectory(string source, string destination, int? ownerUid = null, int? ownerGid = null)
    {
        var sourceInfo = new DirectoryInfo(source);
        if (!Path.IsPathFullyQualified(source) || !sourceInfo.Exists || sourceInfo.LinkTarget is not null)
        {
            throw new SessionException($"source_dir '{source}' is not an existing directory on the server (give an absolute path to a real directory, not a link)");
        }
        Directory.CreateDirectory(destination);
        Chown(destination, ownerUid, ownerGid);
        Copy(sourceInfo, destination, ownerUid, ownerGid);
    }

    private static void Copy(DirectoryInfo source, string destination, int? ownerUid, int? ownerGid)
    {
        foreach (var entry in source.EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            if (entry.LinkTarget is { } linkTarget)
            {
                File.CreateSymbolicLink(target, linkTarget);
                continue;
            }
            switch (entry)
            {
                case DirectoryInfo directory:
                    Directory.CreateDirectory(target);
                    Chown(target, ownerUid, ownerGid);
                    Copy(directory, target, ownerUid, ownerGid);
                    break;
                case FileInfo file when (file.Attributes & FileAttributes.Device) == 0:
                    file.CopyTo(target);
                    Chown(target, ownerUid, ownerGid);
                    break;
            }
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
