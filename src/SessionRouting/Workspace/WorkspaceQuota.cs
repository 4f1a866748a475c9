using System.Diagnostics;
using System.Globalization;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// A per-session disk quota: the workspace is an ext4 filesystem of the asked size in a sparse image file beside it
/// (<c>sessions/ID/workspace.ext4</c>), loop-mounted onto the workspace directory before anything is copied into it or a
/// container is created, so a Docker bind mount of that directory sees the same limited filesystem. Works on a stock
/// Debian host with e2fsprogs and loop devices, as root; nothing else (no XFS project quota, no special volume driver).
/// A full workspace fails writes with ENOSPC inside the session only: other sessions and the host's disk are untouched.
/// </summary>
internal static class WorkspaceQuota
{
    public const string ImageName = "workspace.ext4";

    /// <summary>The smallest quota: ext4's own metadata needs a few MiB before any file fits.</summary>
    public const long MinimumMb = 8;

    private const int NoSpaceErrno = 28;

    /// <summary>Null where quotas work on this host, else why not (said in the error when a session asks for one).</summary>
    public static string? Unavailable()
    {
        if (Libc.GetEuid() != 0)
        {
            return "the server does not run as root, which mounting a size-limited filesystem needs";
        }
        if (!File.Exists("/dev/loop-control"))
        {
            return "this host has no loop devices (/dev/loop-control)";
        }
        if (Tool("mke2fs") is null)
        {
            return "mke2fs (Debian package e2fsprogs) is not installed";
        }
        return null;
    }

    /// <summary>
    /// Makes <paramref name="workspace"/> (not created yet) an empty filesystem of <paramref name="diskMb"/> MiB owned by
    /// the session's user. On failure nothing stays mounted; the caller removes the session directory.
    /// </summary>
    public static void Create(string sessionDir, string workspace, long diskMb, int? ownerUid, int? ownerGid)
    {
        if (Unavailable() is { } reason)
        {
            throw new SessionException($"disk quotas are unavailable on this server: {reason}; create the session without disk_mb");
        }
        var image = Path.Combine(sessionDir, ImageName);
        Directory.CreateDirectory(sessionDir);
        using (var file = new FileStream(image, FileMode.CreateNew, FileAccess.Write))
        {
            // Sparse: the host's disk is used only as the session writes.
            file.SetLength(diskMb << 20);
        }
        File.SetUnixFileMode(image, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var uid = ownerUid ?? Libc.GetEuid();
        var gid = ownerGid ?? Libc.GetEgid();
        // -m 0: no blocks reserved for root (the session's user gets the whole quota); root_owner: the workspace's owner.
        Run(Tool("mke2fs")!, "-q", "-F", "-t", "ext4", "-m", "0", "-E", FormattableString.Invariant($"root_owner={uid}:{gid}"), image);
        Directory.CreateDirectory(workspace);
        Mount(image, workspace);
        try
        {
            Directory.Delete(Path.Combine(workspace, "lost+found"));
        }
        catch (IOException)
        {
            // Harmless if it stays: fsck's directory, owned by root.
        }
    }

    /// <summary>
    /// Mounts the session's quota image on its workspace if it has one and it is not mounted (after a host reboot).
    /// Returns whether it mounted it.
    /// </summary>
    public static bool EnsureMounted(string sessionDir, string workspace)
    {
        var image = Path.Combine(sessionDir, ImageName);
        if (!File.Exists(image) || IsMountPoint(workspace))
        {
            return false;
        }
        Directory.CreateDirectory(workspace);
        Mount(image, workspace);
        return true;
    }

    /// <summary>Unmounts the workspace (when mounted) and deletes its image, before the session directory is removed.</summary>
    public static void Release(string sessionDir, string workspace)
    {
        if (IsMountPoint(workspace))
        {
            try
            {
                Run("umount", workspace);
            }
            catch (SessionException)
            {
                // Still in use (a process holds a file): detach it now, the kernel frees it when the last user goes.
                Run("umount", "-l", workspace);
            }
        }
        File.Delete(Path.Combine(sessionDir, ImageName));
    }

    /// <summary>
    /// The space left on a workspace with a quota when it is (nearly) full — under 1 MiB or 5% of it, where ext4 already
    /// refuses most writes (its own reservations) — else null: for a note after a command.
    /// </summary>
    public static long? NearlyFull(string workspace, long diskMb)
    {
        try
        {
            if (!IsMountPoint(workspace))
            {
                return null;
            }
            var available = new DriveInfo(workspace).AvailableFreeSpace;
            return available < Math.Max(1L << 20, (diskMb << 20) / 20) ? available : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The note a command's result carries when it left the workspace (nearly) full.</summary>
    public static string FullNote(long diskMb, long availableBytes) =>
        $"the workspace is full: its disk quota of {diskMb.ToString(CultureInfo.InvariantCulture)} MiB is reached ({(availableBytes >> 10).ToString(CultureInfo.InvariantCulture)} KiB left); writes fail with No space left on device (ENOSPC). Delete files you no longer need, or create a session with a larger disk_mb";

    /// <summary>The disk is full (ENOSPC): for a session with a quota, that quota.</summary>
    public static bool IsNoSpace(IOException e) =>
        e.HResult == NoSpaceErrno || e.Message.Contains("No space left on device", StringComparison.Ordinal);

    /// <summary>What a model is told when a write fails for lack of space (the file tools do not know the session's quota).</summary>
    public const string FullMessage = "no space left on device (ENOSPC): the workspace is full, its disk quota (disk_mb, shown by session_list) is reached if the session has one. Delete files you no longer need (session_exec rm ...), or create a session with a larger disk_mb";

    public static bool IsMountPoint(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with space, tab, newline and backslash escaped as octal.
            var fields = line.Split(' ');
            if (fields.Length > 4 && Unescape(fields[4]) == full)
            {
                return true;
            }
        }
        return false;
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);

    // nosuid, nodev: nothing in a workspace may gain privileges or reach devices through it.
    private static void Mount(string image, string workspace) =>
        Run("mount", "-t", "ext4", "-o", "loop,nosuid,nodev", image, workspace);

    private static string? Tool(string name) =>
        new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new SessionException($"could not run {program} for the workspace's disk quota");
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new SessionException($"setting up the workspace's disk quota failed: {Path.GetFileName(program)} exited with {process.ExitCode.ToString(CultureInfo.InvariantCulture)}: {stderr.Result.Trim()}");
        }
    }
}
