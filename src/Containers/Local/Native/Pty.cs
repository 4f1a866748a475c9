using System.Globalization;
using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>A terminal's size in character cells, each 1 to 65535.</summary>
internal readonly record struct TerminalSize
{
    public TerminalSize(int columns, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(columns, ushort.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, ushort.MaxValue);
        Columns = columns;
        Rows = rows;
    }

    public int Columns { get; }

    public int Rows { get; }
}

/// <summary>A terminal's line discipline modes that matter to a reader of the screen (from termios c_lflag).</summary>
/// <param name="Echo">Typed characters are echoed. Off with <see cref="Canonical"/> on is how <c>read -s</c>,
/// <c>stty -echo</c> and getpass() ask for a secret.</param>
/// <param name="Canonical">Input is delivered a line at a time (ICANON). Full-screen programs and readline (an
/// interactive bash prompt) turn both this and echo off and echo by themselves.</param>
internal readonly record struct TerminalModes(bool Echo, bool Canonical);

/// <summary>
/// A process on a pseudo-terminal of its own: the terminal is its controlling terminal and its stdin, stdout and
/// stderr, in a new session (<see cref="SpawnedProcess.StartInTerminal"/>), and this process holds the master.
/// </summary>
/// <remarks>
/// <para>No thread per terminal: the master is non-blocking and read and written on the runtime's epoll loop
/// (<see cref="PipeEnd"/>), and the exit arrives through the <see cref="ChildReaper"/>.</para>
/// <para>End of output: once no process holds the slave any more, a read of the master returns what is still buffered
/// and then fails with EIO (not 0, as a pipe would); <see cref="ReadAsync"/> turns that into 0. A background process
/// that keeps the slave open (<c>nohup x &amp;</c>) delays that end until it exits or is killed.</para>
/// <para>The master is opened with O_CLOEXEC and the child closes every descriptor from 3 up, so neither this
/// terminal's processes nor other children hold the master; the parent never opens the slave (posix_spawn returns
/// after the exec, by which time the child holds it).</para>
/// </remarks>
internal sealed class PtyProcess : IAsyncDisposable
{
    // Where the cgroup prelude runs before the program replaces the shell (same pid, so already in the cgroup).
    private const string WrapperShell = "/bin/sh";

    private readonly SpawnedProcess _process;
    private readonly PipeEnd _master;
    private readonly CommandProcesses? _processes;

    // Guards the master's lifetime against the /proc sweep in Kill: the slave's name is ours only while the master
    // is open (closing it frees /dev/pts/N for the next terminal).
    private readonly object _masterGate = new();
    private bool _closed;

    private PtyProcess(SpawnedProcess process, PipeEnd master, string terminalPath, CommandProcesses? processes)
    {
        _process = process;
        _master = master;
        TerminalPath = terminalPath;
        _processes = processes;
    }

    /// <summary>The pid of the process started on the terminal; it leads the terminal's session.</summary>
    public int Pid => _process.Pid;

    /// <summary>The slave's path, <c>/dev/pts/N</c>: what <c>tty</c> prints in the terminal.</summary>
    public string TerminalPath { get; }

    /// <summary>
    /// Opens a pseudo-terminal of <paramref name="size"/> (UTF-8 input mode on) and starts <paramref name="file"/>
    /// on it with <paramref name="argv"/> (argv[0] included), exactly <paramref name="environment"/> (TERM included:
    /// nothing is added) and <paramref name="workingDirectory"/>, as <see cref="SpawnedProcess.Start"/> does.
    /// </summary>
    /// <param name="processes">
    /// When given, the terminal's processes belong to it like a command's: its <see cref="CommandProcesses.Prelude"/>
    /// (joining the command's cgroup) runs in <c>/bin/sh</c>, which then execs the program under the same pid, so the
    /// program is in the cgroup before it can fork (argv[0] becomes the program's path then); it is told the pid, and
    /// <see cref="KillAsync"/> kills all it holds.
    /// </param>
    /// <param name="reaper">Watches the exit; <see cref="ChildReaper.Shared"/> by default.</param>
    /// <exception cref="ProcessSpawnException">The terminal could not be opened or the process not started.</exception>
    public static unsafe PtyProcess Start(
        string file,
        IReadOnlyList<string> argv,
        IReadOnlyDictionary<string, string> environment,
        string workingDirectory,
        TerminalSize size,
        CommandProcesses? processes = null,
        ChildReaper? reaper = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);

        if (processes is { Prelude.Length: > 0 })
        {
            if (!Directory.Exists(workingDirectory))
            {
                throw new ProcessSpawnException($"Cannot start '{file}': working directory '{workingDirectory}' does not exist.", 0);
            }

            // Resolved here so that a missing program fails the start, as it would unwrapped, instead of the shell.
            var executable = SpawnedProcess.ResolveExecutable(file, environment, workingDirectory);
            var wrapped = new List<string>(argv.Count + 3) { "sh", "-c", processes.Prelude + "exec \"$0\" \"$@\"", executable };
            wrapped.AddRange(argv.Skip(1));
            (file, argv) = (WrapperShell, wrapped);
        }

        // O_NOCTTY: the server must never acquire a controlling terminal by opening one.
        var masterFd = LibC.posix_openpt(LibC.O_RDWR | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        if (masterFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new ProcessSpawnException($"Cannot open a pseudo-terminal: {LibC.ErrorText(errno)}.", errno);
        }

        PipeEnd master;
        try
        {
            master = new PipeEnd(masterFd); // owns the descriptor from here on, even when this throws
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new ProcessSpawnException($"Cannot use the pseudo-terminal: {e.Message}", e.ErrorCode);
        }

        try
        {
            CheckErrno(LibC.grantpt(masterFd), "grantpt");
            CheckErrno(LibC.unlockpt(masterFd), "unlockpt");
            var name = stackalloc byte[128];
            var error = LibC.ptsname_r(masterFd, name, 128);
            if (error != 0)
            {
                throw new ProcessSpawnException($"ptsname_r failed: {LibC.ErrorText(error)}.", error);
            }

            var terminalPath = Marshal.PtrToStringUTF8((nint)name)!;
            SetSize(masterFd, size);
            EnableUtf8Input(masterFd);

            var process = SpawnedProcess.StartInTerminal(file, argv, environment, workingDirectory, terminalPath, reaper);
            processes?.Started(process.Pid);
            return new PtyProcess(process, master, terminalPath, processes);
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads what the terminal's processes wrote (at least one byte), or 0 at the end: no process holds the terminal
    /// any more and everything buffered has been read. When cancelled, nothing was read. One read at a time.
    /// </summary>
    /// <exception cref="IOException">The read failed otherwise.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _master.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException) when (IsHungUp())
        {
            // EIO: the slave is closed everywhere and the buffer drained. (.NET maps EIO to no specific socket error,
            // so the hang-up is confirmed with poll rather than told apart by the exception.)
            return 0;
        }
        catch (ObjectDisposedException)
        {
            return 0; // disposed while reading
        }
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to the terminal as if typed: the line discipline echoes them, turns 0x03 into
    /// SIGINT and 0x04 into end of file (in canonical mode), and so on. Waits without a thread while the terminal's
    /// input buffer is full. One write at a time.
    /// </summary>
    /// <exception cref="IOException">The write failed.</exception>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        _master.WriteAsync(bytes, cancellationToken);

    /// <summary>Sets the terminal's size; the kernel sends SIGWINCH to its foreground process group.</summary>
    /// <exception cref="IOException">The terminal is closed.</exception>
    public void Resize(TerminalSize size) => WithMaster(fd => SetSize(fd, size));

    /// <summary>The terminal's size as the kernel holds it.</summary>
    /// <exception cref="IOException">The terminal is closed.</exception>
    public unsafe TerminalSize Size => WithMaster(fd =>
    {
        WinSize size;
        if (LibC.ioctl(fd, LibC.TIOCGWINSZ, &size) != 0)
        {
            throw ErrnoException("TIOCGWINSZ");
        }

        return new TerminalSize(Math.Max((int)size.Columns, 1), Math.Max((int)size.Rows, 1));
    });

    /// <summary>The terminal's echo and canonical modes, as the programs on it set them last.</summary>
    /// <exception cref="IOException">The terminal is closed.</exception>
    public TerminalModes Modes => WithMaster(ReadModes);

    /// <summary>
    /// Whether the terminal's foreground process is blocked reading the terminal, i.e. waits for input; see
    /// <see cref="InputWaitProbe.ForTerminal"/>. Not waiting once the terminal is closed.
    /// </summary>
    public InputWait GetInputWait()
    {
        try
        {
            return WithMaster(fd => InputWaitProbe.ForTerminal(fd, TerminalPath));
        }
        catch (IOException)
        {
            return InputWait.NotWaiting("the terminal is closed");
        }
    }

    /// <summary>
    /// Completes when the process started on the terminal exits, with its exit code, or 128 + N when killed by signal
    /// N. Its background processes may still hold the terminal (see <see cref="ReadAsync"/>). Cancelling abandons the
    /// wait, not the process.
    /// </summary>
    public Task<int> WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>
    /// SIGKILL to every process of the terminal: those of the <see cref="CommandProcesses"/> given at the start (its
    /// cgroup; the kill is under way when this returns, <see cref="KillAsync"/> waits until the cgroup is empty), its
    /// session (process groups of job control included, see <see cref="SpawnedProcess.KillSession"/>), and every
    /// process that still holds the terminal open (one that left the session with setsid, or a background job of a
    /// session leader that has already exited and been reaped).
    /// </summary>
    public void Kill()
    {
        // Runs synchronously up to its first wait, which comes after the first kill.
        _processes?.KillAllAsync(CancellationToken.None).ContinueWith(
            static task => _ = task.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        KillSessionAndTerminalHolders();
    }

    /// <summary>
    /// Kills like <see cref="Kill"/>, the <see cref="CommandProcesses"/> first, and returns once those are gone.
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken)
    {
        if (_processes is not null)
        {
            await _processes.KillAllAsync(cancellationToken).ConfigureAwait(false);
        }

        KillSessionAndTerminalHolders();
    }

    /// <summary>Kills every process of the terminal (<see cref="KillAsync"/>) and closes the master.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            lock (_masterGate)
            {
                _closed = true;
                _master.Dispose();
            }

            _process.Dispose();
        }
    }

    private static unsafe void SetSize(int fd, TerminalSize size)
    {
        var winSize = new WinSize { Columns = (ushort)size.Columns, Rows = (ushort)size.Rows };
        if (LibC.ioctl(fd, LibC.TIOCSWINSZ, &winSize) != 0)
        {
            throw ErrnoException("TIOCSWINSZ");
        }
    }

    // IUTF8: in canonical mode, backspace then erases a whole UTF-8 character, not its last byte (the environment's
    // locale is UTF-8 by this project's convention). Best effort: a terminal without it still works.
    private static unsafe void EnableUtf8Input(int fd)
    {
        Termios termios;
        if (LibC.tcgetattr(fd, &termios) == 0)
        {
            termios.InputFlags |= LibC.IUTF8;
            LibC.tcsetattr(fd, LibC.TCSANOW, &termios);
        }
    }

    /// <summary>The slave's modes; on Linux the master's termios ioctls act on the slave.</summary>
    internal static unsafe TerminalModes ReadModes(int masterFd)
    {
        Termios termios;
        if (LibC.tcgetattr(masterFd, &termios) != 0)
        {
            throw ErrnoException("tcgetattr");
        }

        return new TerminalModes((termios.LocalFlags & LibC.ECHO) != 0, (termios.LocalFlags & LibC.ICANON) != 0);
    }

    /// <summary>True when no process holds the slave open (POLLHUP on the master).</summary>
    private unsafe bool IsHungUp()
    {
        try
        {
            return WithMaster(fd =>
            {
                var entry = new PollFd { Fd = fd };
                return LibC.poll(&entry, 1, 0) == 1 && (entry.ReturnedEvents & LibC.POLLHUP) != 0;
            });
        }
        catch (IOException)
        {
            return true; // closed: there is nothing more to read either way
        }
    }

    private void KillSessionAndTerminalHolders()
    {
        _process.KillSession();
        KillTerminalHolders();
    }

    /// <summary>
    /// SIGKILL to every process with a descriptor on the slave. Another pass follows only when one found a new holder
    /// (a process may fork meanwhile; a killed one keeps showing its descriptors until it is gone). Costs nothing
    /// once the terminal has hung up: then nobody holds it.
    /// </summary>
    private void KillTerminalHolders()
    {
        var killed = new HashSet<int>();
        for (var pass = 0; pass < 3 && !IsHungUp(); pass++)
        {
            lock (_masterGate)
            {
                if (_closed)
                {
                    return;
                }

                var found = false;
                foreach (var pid in FindTerminalHolders(TerminalPath))
                {
                    LibC.kill(pid, LibC.SIGKILL);
                    found |= killed.Add(pid);
                }

                if (!found)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Processes (but this one) with a descriptor whose /proc link is <paramref name="terminalPath"/>.</summary>
    internal static List<int> FindTerminalHolders(string terminalPath)
    {
        var holders = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                foreach (var descriptor in Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")))
                {
                    if (new FileInfo(descriptor).LinkTarget == terminalPath)
                    {
                        holders.Add(pid);
                        break;
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited meanwhile, or not ours to look at.
            }
        }

        return holders;
    }

    private T WithMaster<T>(Func<int, T> action)
    {
        var handle = _master.Handle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return action((int)handle.DangerousGetHandle());
        }
        catch (ObjectDisposedException e)
        {
            throw new IOException("The terminal is closed.", e);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private void WithMaster(Action<int> action) => WithMaster(fd =>
    {
        action(fd);
        return true;
    });

    private static IOException ErrnoException(string operation)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{operation} on the terminal failed: {LibC.ErrorText(errno)}.");
    }

    private static void CheckErrno(int result, string function)
    {
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new ProcessSpawnException($"{function} failed: {LibC.ErrorText(errno)}.", errno);
        }
    }
}
