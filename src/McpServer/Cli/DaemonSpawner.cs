using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;
using SessionMcp.Containers.Local.Native;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// Starts <c>session-mcp daemon</c> detached from the client that needs it: posix_spawn with POSIX_SPAWN_SETSID (its own
/// session, so the client's terminal or process group going away does not take it along), default signal dispositions
/// and mask, stdin from /dev/null, stdout and stderr appended to its log, no other descriptor inherited — in
/// particular not the client's stdout, which would keep the client's pipe open after the client exits.
/// </summary>
internal static unsafe class DaemonSpawner
{
    private const int O_WRONLY = 1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;

    /// <summary>Starts the daemon with <paramref name="arguments"/> after the command; returns its pid.</summary>
    /// <exception cref="ProcessSpawnException">posix_spawn failed.</exception>
    public static int Spawn(IReadOnlyList<string> arguments, string logPath)
    {
        var (executable, argv) = DaemonCommandLine(arguments);
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Select(e => $"{e.Key}={e.Value}")
            .ToList();
        using var argvArray = new NativeStringArray(argv);
        using var envArray = new NativeStringArray(environment);
        using var paths = new NativeStringArray([executable, "/dev/null", logPath]);

        var attributes = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        var fileActions = NativeMemory.AllocZeroed(LibC.OpaqueStructBytes);
        try
        {
            Check(LibC.posix_spawnattr_init(attributes), "posix_spawnattr_init");
            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            // Every bit set (sigfillset would leave glibc's internal signals out, and posix_spawn would ignore them).
            var allSignals = stackalloc byte[LibC.OpaqueStructBytes];
            new Span<byte>(allSignals, LibC.OpaqueStructBytes).Fill(0xFF);
            var noSignals = stackalloc byte[LibC.OpaqueStructBytes];
            new Span<byte>(noSignals, LibC.OpaqueStructBytes).Clear();
            Check(LibC.posix_spawnattr_setsigdefault(attributes, allSignals), "posix_spawnattr_setsigdefault");
            Check(LibC.posix_spawnattr_setsigmask(attributes, noSignals), "posix_spawnattr_setsigmask");
            Check(LibC.posix_spawnattr_setflags(attributes, LibC.POSIX_SPAWN_SETSID | LibC.POSIX_SPAWN_SETSIGDEF | LibC.POSIX_SPAWN_SETSIGMASK), "posix_spawnattr_setflags");

            Check(LibC.posix_spawn_file_actions_addopen(fileActions, 0, paths.Pointers[1], LibC.O_RDONLY, 0), "posix_spawn_file_actions_addopen");
            Check(LibC.posix_spawn_file_actions_addopen(fileActions, 1, paths.Pointers[2], O_WRONLY | O_CREAT | O_APPEND, 0b110_000_000), "posix_spawn_file_actions_addopen");
            Check(LibC.posix_spawn_file_actions_adddup2(fileActions, 1, 2), "posix_spawn_file_actions_adddup2");
            Check(LibC.posix_spawn_file_actions_addclosefrom_np(fileActions, 3), "posix_spawn_file_actions_addclosefrom_np");

            int pid;
            var error = LibC.posix_spawn(&pid, paths.Pointers[0], fileActions, attributes, argvArray.Pointers, envArray.Pointers);
            return error == 0 ? pid : throw new ProcessSpawnException($"Cannot start the daemon ({executable}): {LibC.ErrorText(error)}.", error);
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attributes);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attributes);
        }
    }

    /// <summary>
    /// Reaps the daemon this process started if it has exited; its exit status then (an exit code, or "signal N").
    /// Only a daemon that failed to start exits while the client still waits for it.
    /// </summary>
    public static string? ExitOf(int pid)
    {
        int status;
        if (LibC.waitpid(pid, &status, LibC.WNOHANG) != pid)
        {
            return null;
        }
        return (status & 0x7F) == 0 ? $"exit code {(status >> 8) & 0xFF}" : $"signal {status & 0x7F}";
    }

    /// <summary>
    /// This very program with <c>daemon</c> and <paramref name="arguments"/>: the apphost as it is (an installed tool,
    /// <c>dotnet run</c>), or <c>dotnet session-mcp.dll</c> when the dll was run through the muxer.
    /// </summary>
    internal static (string Executable, List<string> Argv) DaemonCommandLine(IReadOnlyList<string> arguments)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is unknown; start the daemon with 'session-mcp daemon'");
        List<string> argv = [host];
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            argv.Add(Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll ? dll : Path.Combine(AppContext.BaseDirectory, "session-mcp.dll"));
        }
        argv.Add("daemon");
        argv.AddRange(arguments);
        return (host, argv);
    }

    private static void Check(int error, string function)
    {
        if (error != 0)
        {
            throw new ProcessSpawnException($"{function} failed: {LibC.ErrorText(error)}.", error);
        }
    }
}
