using System.Runtime.InteropServices;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>The few libc calls that make file access race-free: open relative to a verified directory, never following links.</summary>
internal static partial class Libc
{
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int EISDIR = 21;
    public const int ELOOP = 40;
    public const int ENOTDIR = 20;
    public const int EACCES = 13;
    public const int ENOSPC = 28;
    public const int EPERM = 1;
    public const int ENOTEMPTY = 39;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    // These two differ between x86_64 and the asm-generic ABI (arm64).
    public static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x10000 : 0x4000;
    public static readonly int O_NOFOLLOW = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x20000 : 0x8000;

    // The same on x86_64 and arm64.
    public const int O_PATH = 0x200000;

    public const int AT_FDCWD = -100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int EAGAIN = 11;
    public const int EINTR = 4;

    public const int S_IFMT = 0xF000;
    public const int S_IFREG = 0x8000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFLNK = 0xA000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenAt(int dirfd, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkdirAt(int dirfd, string path, int mode);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt(int olddirfd, string oldpath, int newdirfd, string newpath);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(int fd, int owner, int group);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(int fd, int mode);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, int mode);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    public static partial nint FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    public static partial nint ReadDir(nint directory);

    [LibraryImport("libc", EntryPoint = "dirfd", SetLastError = true)]
    public static partial int DirFd(nint directory);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    public static partial int CloseDir(nint directory);

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static partial int FStat(int fd, nint buffer);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int dirfd, string path, int flags, uint mask, nint buffer);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint ReadLinkAt(int dirfd, string path, byte[] buffer, nint size);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SymlinkAt(string target, int newdirfd, string linkpath);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial int GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial int GetEgid();

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>
    /// The name in a <c>struct dirent</c> from <see cref="ReadDir"/>: glibc's 64-bit layout (d_ino, d_off, d_reclen,
    /// d_type, then d_name) is the same on x86_64 and arm64.
    /// </summary>
    public static string DirentName(nint entry) => Marshal.PtrToStringUTF8(entry + 19) ?? "";

    /// <summary>The d_type of a <c>struct dirent</c> (<see cref="DT_DIR"/>, <see cref="DT_REG"/>, <see cref="DT_LNK"/>, 0 when unknown).</summary>
    public static int DirentType(nint entry) => Marshal.ReadByte(entry + 18);

    public const int DT_DIR = 4;
    public const int DT_REG = 8;
    public const int DT_LNK = 10;

    /// <summary>
    /// The device and inode of an open file: what identifies a directory when the walk comes back up through "..".
    /// st_dev and st_ino are the first two 64-bit fields of <c>struct stat</c> on x86_64 and arm64 alike.
    /// </summary>
    public static (long Device, long Inode)? Identity(int fd)
    {
        var buffer = Marshal.AllocHGlobal(256);
        try
        {
            return FStat(fd, buffer) == 0 ? (Marshal.ReadInt64(buffer), Marshal.ReadInt64(buffer, 8)) : null;
        }
        finally
        {
            Marshal.FreeHGlobal(buffer);
        }
    }

    /// <summary>The canonical path (every link resolved), or null when it does not exist.</summary>
    public static string? CanonicalPath(string path)
    {
        var pointer = RealPath(path, 0);
        if (pointer == 0)
        {
            return null;
        }
        try
        {
            return Marshal.PtrToStringUTF8(pointer);
        }
        finally
        {
            Free(pointer);
        }
    }
    /// <summary>
    /// What <c>statx</c> says of <paramref name="name"/> in <paramref name="dirfd"/>, never following a link; null with
    /// <see cref="LastError"/> set when it fails. statx rather than fstatat: its layout is the same on every architecture.
    /// </summary>
    public static FileStatus? StatAt(int dirfd, string name) => StatX(dirfd, name, AT_SYMLINK_NOFOLLOW);

    /// <summary>What <c>statx</c> says of the open file <paramref name="fd"/> itself.</summary>
    public static FileStatus? StatOf(int fd) => StatX(fd, "", AT_EMPTY_PATH);

    private const int AT_EMPTY_PATH = 0x1000;

    private static FileStatus? StatX(int dirfd, string name, int flags)
    {
        // struct statx: mode (u16) at 28, ino at 32, size at 40, ctime at 96, mtime at 112 (each i64 sec + u32 nsec),
        // dev major/minor (u32) at 136/140.
        const uint basicStats = 0x7ff;
        var buffer = Marshal.AllocHGlobal(256);
        try
        {
            if (StatX(dirfd, name, flags, basicStats, buffer) != 0)
            {
                return null;
            }
            long Time(int offset) => Marshal.ReadInt64(buffer, offset) * 1_000_000_000 + (uint)Marshal.ReadInt32(buffer, offset + 8);
            return new FileStatus(
                ((long)(uint)Marshal.ReadInt32(buffer, 136) << 32) | (uint)Marshal.ReadInt32(buffer, 140),
                Marshal.ReadInt64(buffer, 32),
                (ushort)Marshal.ReadInt16(buffer, 28),
                Marshal.ReadInt64(buffer, 40),
                Time(112),
                Time(96));
        }
        finally
        {
            Marshal.FreeHGlobal(buffer);
        }
    }

    /// <summary>The target of the link <paramref name="name"/> in <paramref name="dirfd"/> (at most 4 KiB, as PATH_MAX), or null.</summary>
    public static byte[]? ReadLink(int dirfd, string name)
    {
        var buffer = new byte[4096];
        var length = ReadLinkAt(dirfd, name, buffer, buffer.Length);
        return length < 0 || length >= buffer.Length ? null : buffer[..(int)length];
    }
}

/// <summary>The parts of <c>struct statx</c> that tell whether a file changed: identity, type and mode, size, times (ns).</summary>
internal readonly record struct FileStatus(long Device, long Inode, int Mode, long Size, long ModifiedNs, long ChangedNs)
{
    public int Type => Mode & Libc.S_IFMT;

    public int Permissions => Mode & 0xFFF;
}
