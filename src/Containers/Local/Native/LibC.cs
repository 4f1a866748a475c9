using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// The few glibc (x86_64/aarch64 Linux) calls needed to spawn a process in its own session with pipes or a
/// pseudo-terminal and reap it.
/// Opaque glibc structures are allocated with generous fixed sizes: posix_spawnattr_t is 336 bytes,
/// posix_spawn_file_actions_t 80 bytes, sigset_t 128 bytes.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    public const int OpaqueStructBytes = 512;

    public const int O_RDONLY = 0;
    public const int O_RDWR = 2;
    public const int O_NOCTTY = 0x100;
    public const int O_CLOEXEC = 0x80000;

    // The same numbers on x86_64 and aarch64 (asm-generic ioctls and termbits).
    public const nuint TIOCGWINSZ = 0x5413;
    public const nuint TIOCSWINSZ = 0x5414;
    public const int TCSANOW = 0;
    public const uint IUTF8 = 0x4000; // c_iflag
    public const uint ICANON = 0x2; // c_lflag
    public const uint ECHO = 0x8; // c_lflag

    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;

    public const int SIGKILL = 9;

    public const int WNOHANG = 1;

    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENOTTY = 25;

    public const short POLLHUP = 0x10;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    // The posix_spawn family returns an error number instead of setting errno.
    [LibraryImport(Library)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigdefault(void* attributes, void* signals);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigmask(void* attributes, void* signals);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_addopen(void* fileActions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_addchdir_np(void* fileActions, byte* path);

    // glibc 2.34+: closes every descriptor from lowFd up in the child, including ones this process inherited
    // without close-on-exec.
    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_addclosefrom_np(void* fileActions, int lowFd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int posix_openpt(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int grantpt(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int unlockpt(int fd);

    // Returns an error number instead of setting errno.
    [LibraryImport(Library)]
    public static partial int ptsname_r(int fd, byte* buffer, nuint length);

    // ioctl is variadic in C; on x86_64 and aarch64 Linux a pointer third argument is passed the same way either way.
    [LibraryImport(Library, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int tcgetpgrp(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int tcgetattr(int fd, Termios* termios);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int tcsetattr(int fd, int optionalActions, Termios* termios);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    /// <summary>Sets a termios to raw mode: no line editing, no echo, no signals from keys.</summary>
    [LibraryImport(Library)]
    public static partial void cfmakeraw(Termios* termios);

    /// <summary>The text for an error number, e.g. "No such file or directory".</summary>
    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}

/// <summary>struct winsize: a terminal's size in characters (and pixels, unused).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct WinSize
{
    public ushort Rows;
    public ushort Columns;
    public ushort XPixels;
    public ushort YPixels;
}

/// <summary>glibc's struct termios on Linux (60 bytes; the kernel's is shorter, glibc translates).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Termios
{
    public uint InputFlags;
    public uint OutputFlags;
    public uint ControlFlags;
    public uint LocalFlags;
    public byte LineDiscipline;
    public fixed byte ControlCharacters[32];
    public uint InputSpeed;
    public uint OutputSpeed;
}

/// <summary>struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}
