using System.Globalization;
using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// A child process started with posix_spawn in its own session (so its process group id equals its pid and the
/// whole group can be killed at once), with every signal reset to its default and an empty signal mask (.NET
/// ignores SIGPIPE, and children would inherit that), stdout and stderr on pipes and stdin on a pipe or /dev/null
/// (<see cref="Start"/>), or all three on a terminal (<see cref="StartInTerminal"/>, used by <see cref="PtyProcess"/>).
/// </summary>
/// <remarks>
/// No thread is spent per process: the pipes are read and written asynchronously (<see cref="PipeEnd"/>) and the exit
/// is noticed by the <see cref="ChildReaper"/> on SIGCHLD. .NET's SIGCHLD handling only reaps children started with
/// System.Diagnostics.Process, so waiting on our pid does not race with it.
/// </remarks>
internal sealed unsafe class SpawnedProcess : IDisposable
{
    /// <summary>Reported when the exit status was lost (someone else reaped the process).</summary>
    public const int UnknownExitCode = -1;

    private const string DefaultSearchPath = "/usr/local/bin:/usr/bin:/bin";

    // Guards _reaped: while the child is not reaped its pid (and so its process group and session id) cannot be
    // reused, so signalling -pid is only safe before reaping.
    private readonly object _reapGate = new();
    private bool _reaped;
    private readonly TaskCompletionSource<int> _exit = new();

    private readonly PipeEnd? _stdout;
    private readonly PipeEnd? _stderr;

    private SpawnedProcess(int pid, PipeEnd? stdin, PipeEnd? stdout, PipeEnd? stderr)
    {
        Pid = pid;
        Stdin = stdin;
        _stdout = stdout;
        _stderr = stderr;
    }

    public int Pid { get; }

    /// <summary>The write end of the child's stdin, or null when the child reads /dev/null or a terminal.</summary>
    public PipeEnd? Stdin { get; }

    /// <summary>The read end of the child's stdout.</summary>
    /// <exception cref="InvalidOperationException">The child writes to a terminal (<see cref="StartInTerminal"/>).</exception>
    public PipeEnd Stdout => _stdout ?? throw new InvalidOperationException(NoPipes);

    /// <summary>The read end of the child's stderr.</summary>
    /// <exception cref="InvalidOperationException">The child writes to a terminal (<see cref="StartInTerminal"/>).</exception>
    public PipeEnd Stderr => _stderr ?? throw new InvalidOperationException(NoPipes);

    private const string NoPipes = "The process was started on a terminal: its output is read from the terminal's master.";

    /// <summary>
    /// Starts <paramref name="file"/> with <paramref name="argv"/> (argv[0] included; empty means just the file),
    /// exactly <paramref name="environment"/> and <paramref name="workingDirectory"/>. A file name without a slash
    /// is looked up in the PATH of <paramref name="environment"/>, as a shell would. The exit is watched by
    /// <paramref name="reaper"/>, <see cref="ChildReaper.Shared"/> by default.
    /// </summary>
    /// <exception cref="ProcessSpawnException">The process could not be started.</exception>
    public static SpawnedProcess Start(
        string file,
        IReadOnlyList<string> argv,
        IReadOnlyDictionary<string, string> environment,
        string workingDirectory,
        bool withStdin,
        ChildReaper? reaper = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);

        // The shared reaper (and its SIGCHLD registration) comes to exist before the first child does.
        reaper ??= ChildReaper.Shared;

        int* stdinPipe = stackalloc int[] { -1, -1 };
        int* stdoutPipe = stackalloc int[] { -1, -1 };
        int* stderrPipe = stackalloc int[] { -1, -1 };
        PipeEnd? stdinEnd = null;
        PipeEnd? stdoutEnd = null;
        PipeEnd? stderrEnd = null;
        var spawned = false;
        try
        {
            // O_CLOEXEC on both ends: processes spawned concurrently by other threads must not inherit them, or
            // they would hold our pipes open. dup2 in the child clears the flag on fds 0-2.
            if (withStdin)
            {
                CreatePipe(stdinPipe);
                stdinEnd = AdoptParentEnd(&stdinPipe[1]);
            }

            CreatePipe(stdoutPipe);
            stdoutEnd = AdoptParentEnd(&stdoutPipe[0]);
            CreatePipe(stderrPipe);
            stderrEnd = AdoptParentEnd(&stderrPipe[0]);

            var pid = Spawn(file, argv, environment, workingDirectory, new ChildStreams(withStdin ? stdinPipe[0] : -1, stdoutPipe[1], stderrPipe[1], null));
            spawned = true;
            var process = new SpawnedProcess(pid, stdinEnd, stdoutEnd, stderrEnd);
            reaper.Track(process);
            return process;
        }
        finally
        {
            // The child's ends always close here; the parent's ends only on failure (on success the process owns them).
            CloseIfOpen(stdinPipe[0]);
            CloseIfOpen(stdoutPipe[1]);
            CloseIfOpen(stderrPipe[1]);
            if (!spawned)
            {
                stdinEnd?.Dispose();
                stdoutEnd?.Dispose();
                stderrEnd?.Dispose();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="file"/> like <see cref="Start"/>, but with the terminal <paramref name="terminalPath"/>
    /// (a pseudo-terminal's slave, <c>/dev/pts/N</c>) as its controlling terminal and on fds 0, 1 and 2. The child
    /// leads a new session (setsid happens before the file actions), and opening a terminal without O_NOCTTY as a
    /// session leader without one makes it the controlling terminal. The caller keeps the master.
    /// </summary>
    /// <exception cref="ProcessSpawnException">The process could not be started.</exception>
    internal static SpawnedProcess StartInTerminal(
        string file,
        IReadOnlyList<string> argv,
        IReadOnlyDictionary<string, string> environment,
        string workingDirectory,
        string terminalPath,
        ChildReaper? reaper = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);
        ArgumentException.ThrowIfNullOrEmpty(terminalPath);

        reaper ??= ChildReaper.Shared; // before the child exists, as in Start
        var pid = Spawn(file, argv, environment, workingDirectory, new ChildStreams(-1, -1, -1, terminalPath));
        var process = new SpawnedProcess(pid, null, null, null);
        reaper.Track(process);
        return process;
    }

    /// <summary>
    /// Completes when the process exits, with its exit code, or 128 + N when killed by signal N.
    /// Cancelling the token abandons the wait, not the process.
    /// </summary>
    public Task<int> WaitForExitAsync(CancellationToken cancellationToken) => _exit.Task.WaitAsync(cancellationToken);

    /// <summary>SIGKILL to the process group (pgid == pid because the child leads its own session).</summary>
    public void KillProcessGroup() => SignalProcessGroup(LibC.SIGKILL);

    /// <summary>Sends <paramref name="signal"/> to the child's process group (as a terminal's Ctrl-C would), unless it was reaped.</summary>
    public void SignalProcessGroup(int signal)
    {
        lock (_reapGate)
        {
            if (!_reaped)
            {
                LibC.kill(-Pid, signal);
            }
        }
    }

    /// <summary>
    /// SIGKILL to every process of the child's session: its process group, and also members that moved to other
    /// groups (a shell with job control puts each job in its own group). Processes that started a new session
    /// of their own escape, as they would escape a terminal hang-up.
    /// </summary>
    public void KillSession()
    {
        lock (_reapGate)
        {
            if (_reaped)
            {
                return;
            }

            LibC.kill(-Pid, LibC.SIGKILL);

            // A process may fork between reading /proc and the kill; a few passes catch those children too.
            for (var pass = 0; pass < 3; pass++)
            {
                var killedAny = false;
                foreach (var member in FindLiveSessionMembers(Pid))
                {
                    killedAny |= LibC.kill(member, LibC.SIGKILL) == 0;
                }

                if (!killedAny)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Closes the parent's pipe ends. Does not kill the process, nor stop watching for its exit.</summary>
    public void Dispose()
    {
        Stdin?.Dispose();
        _stdout?.Dispose();
        _stderr?.Dispose();
    }

    /// <summary>Live (non-zombie) processes whose session id is <paramref name="sessionId"/>, read from /proc.</summary>
    internal static List<int> FindLiveSessionMembers(int sessionId)
    {
        var members = new List<int>();
        Span<Range> parts = stackalloc Range[5];
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory.AsSpan());
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            // "pid (comm) state ppid pgrp session ..."; comm may contain spaces and parentheses, so split after the last ')'.
            var fields = stat.AsSpan(stat.LastIndexOf(')') + 1).Trim();
            if (fields.Split(parts, ' ') < 5)
            {
                continue;
            }

            var state = fields[parts[0]];
            if (state is "Z" or "X" || !int.TryParse(fields[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var session))
            {
                continue;
            }

            if (session == sessionId)
            {
                members.Add(pid);
            }
        }

        return members;
    }

    /// <summary>
    /// Reaps the process if it has exited (waitpid with WNOHANG) and gives its exit code, or 128 + N when killed by
    /// signal N, or <see cref="UnknownExitCode"/> when someone else reaped it. False while it runs, and once reaped.
    /// Called by the <see cref="ChildReaper"/>, which then calls <see cref="CompleteExit"/>.
    /// </summary>
    internal bool TryReap(out int exitCode)
    {
        exitCode = UnknownExitCode;
        lock (_reapGate)
        {
            if (_reaped)
            {
                return false;
            }

            int status;
            int result;
            do
            {
                result = LibC.waitpid(Pid, &status, LibC.WNOHANG);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

            if (result == 0)
            {
                return false;
            }

            _reaped = true;
            if (result == Pid)
            {
                var signal = status & 0x7F;
                exitCode = signal == 0 ? (status >> 8) & 0xFF : 128 + signal;
            }

            return true;
        }
    }

    internal void CompleteExit(int exitCode) => _exit.TrySetResult(exitCode);

    /// <summary>
    /// What the child gets on fds 0-2: the child's ends of pipes (-1 for stdin: /dev/null), or a terminal to open on
    /// all three.
    /// </summary>
    private readonly record struct ChildStreams(int Stdin, int Stdout, int Stderr, string? TerminalPath);

    /// <summary>posix_spawn in a new session with default signals, the given streams and nothing else inherited; the pid.</summary>
    private static int Spawn(
        string file,
        IReadOnlyList<string> argv,
        IReadOnlyDictionary<string, string> environment,
        string workingDirectory,
        ChildStreams streams)
    {
        // Checked here because posix_spawn reports a missing directory as ENOENT, indistinguishable from a missing file.
        if (!Directory.Exists(workingDirectory))
        {
            throw new ProcessSpawnException($"Cannot start '{file}': working directory '{workingDirectory}' does not exist.", 0);
        }

        var executable = ResolveExecutable(file, environment, workingDirectory);
        using var argvArray = new NativeStringArray(argv.Count == 0 ? [file] : argv);
        using var envArray = new NativeStringArray(FormatEnvironment(environment));

        var attributes = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        var fileActions = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        var attributesReady = false;
        var fileActionsReady = false;
        try
        {
            Check(LibC.posix_spawnattr_init(attributes), "posix_spawnattr_init");
            attributesReady = true;
            ConfigureSignalsAndSession(attributes);

            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            fileActionsReady = true;
            if (streams.TerminalPath is { } terminal)
            {
                // Without O_NOCTTY: the first terminal a session leader opens becomes its controlling terminal.
                using var terminalPath = new NativeStringArray([terminal]);
                Check(LibC.posix_spawn_file_actions_addopen(fileActions, 0, terminalPath.Pointers[0], LibC.O_RDWR, 0), "posix_spawn_file_actions_addopen");
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, 0, 1), "posix_spawn_file_actions_adddup2");
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, 0, 2), "posix_spawn_file_actions_adddup2");
            }
            else
            {
                if (streams.Stdin >= 0)
                {
                    Check(LibC.posix_spawn_file_actions_adddup2(fileActions, streams.Stdin, 0), "posix_spawn_file_actions_adddup2");
                }
                else
                {
                    fixed (byte* devNull = "/dev/null\0"u8)
                    {
                        Check(LibC.posix_spawn_file_actions_addopen(fileActions, 0, devNull, LibC.O_RDONLY, 0), "posix_spawn_file_actions_addopen");
                    }
                }

                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, streams.Stdout, 1), "posix_spawn_file_actions_adddup2");
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, streams.Stderr, 2), "posix_spawn_file_actions_adddup2");
            }

            // Descriptors this process inherited without close-on-exec (a test host's, a supervisor's) stay out; so
            // does a terminal's master, which the child holding would keep the terminal from ever hanging up.
            Check(LibC.posix_spawn_file_actions_addclosefrom_np(fileActions, 3), "posix_spawn_file_actions_addclosefrom_np");
            using (var directory = new NativeStringArray([workingDirectory]))
            {
                Check(LibC.posix_spawn_file_actions_addchdir_np(fileActions, directory.Pointers[0]), "posix_spawn_file_actions_addchdir_np");
            }

            int pid;
            int error;
            using (var path = new NativeStringArray([executable]))
            {
                error = LibC.posix_spawn(&pid, path.Pointers[0], fileActions, attributes, argvArray.Pointers, envArray.Pointers);
            }

            if (error != 0)
            {
                throw new ProcessSpawnException($"Cannot start '{file}': {LibC.ErrorText(error)}.", error);
            }

            return pid;
        }
        finally
        {
            if (fileActionsReady)
            {
                LibC.posix_spawn_file_actions_destroy(fileActions);
            }

            if (attributesReady)
            {
                LibC.posix_spawnattr_destroy(attributes);
            }

            NativeMemory.Free(fileActions);
            NativeMemory.Free(attributes);
        }
    }

    private static void ConfigureSignalsAndSession(void* attributes)
    {
        // sigfillset leaves out glibc's internal signals (32, 33), and posix_spawn would then set those to SIG_IGN in
        // the child, where the ignore would survive exec. A sigset_t is a plain bit mask: set every bit instead.
        var allSignals = stackalloc byte[LibC.OpaqueStructBytes];
        new Span<byte>(allSignals, LibC.OpaqueStructBytes).Fill(0xFF);
        var noSignals = stackalloc byte[LibC.OpaqueStructBytes];
        new Span<byte>(noSignals, LibC.OpaqueStructBytes).Clear();
        Check(LibC.posix_spawnattr_setsigdefault(attributes, allSignals), "posix_spawnattr_setsigdefault");
        Check(LibC.posix_spawnattr_setsigmask(attributes, noSignals), "posix_spawnattr_setsigmask");
        Check(
            LibC.posix_spawnattr_setflags(attributes, LibC.POSIX_SPAWN_SETSID | LibC.POSIX_SPAWN_SETSIGDEF | LibC.POSIX_SPAWN_SETSIGMASK),
            "posix_spawnattr_setflags");
    }

    private static void CreatePipe(int* fds)
    {
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new ProcessSpawnException($"Cannot create a pipe: {LibC.ErrorText(errno)}.", errno);
        }
    }

    private static void Check(int error, string function)
    {
        if (error != 0)
        {
            throw new ProcessSpawnException($"{function} failed: {LibC.ErrorText(error)}.", error);
        }
    }

    private static void CloseIfOpen(int fd)
    {
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    // The PipeEnd owns the descriptor from here on, even when wrapping it fails (it closes it then).
    private static PipeEnd AdoptParentEnd(int* fd)
    {
        var owned = *fd;
        *fd = -1;
        return new PipeEnd(owned);
    }

    private static List<string> FormatEnvironment(IReadOnlyDictionary<string, string> environment)
    {
        var entries = new List<string>(environment.Count);
        foreach (var (name, value) in environment)
        {
            if (string.IsNullOrEmpty(name) || name.Contains('=', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Invalid environment variable name '{name}'.", nameof(environment));
            }

            entries.Add(name + "=" + value);
        }

        return entries;
    }

    // posix_spawnp would search the PATH of *this* process; a shell searches the child's PATH, and so do we.
    internal static string ResolveExecutable(string file, IReadOnlyDictionary<string, string> environment, string workingDirectory)
    {
        if (file.Contains('/', StringComparison.Ordinal))
        {
            return file; // relative paths resolve against the working directory: the chdir happens before exec
        }

        var searchPath = environment.TryGetValue("PATH", out var path) ? path : DefaultSearchPath;
        foreach (var entry in searchPath.Split(':'))
        {
            var directory = entry.Length == 0 ? "." : entry;
            var candidate = Path.Combine(Path.IsPathRooted(directory) ? directory : Path.Combine(workingDirectory, directory), file);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }

        throw new ProcessSpawnException($"Cannot start '{file}': not found in PATH '{searchPath}'.", 2);
    }

    private static bool IsExecutable(string path) =>
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
