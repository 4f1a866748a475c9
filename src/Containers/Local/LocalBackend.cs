using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.Containers.Local;

/// <summary>
/// Sessions as directories on the server's host; each command is a fresh shell in its own process session, so a timeout
/// kills its whole tree. This backend confines the file tools to the workspace, but commands run with the server user's
/// rights: it is a convenience, not an isolation boundary (use the docker backend for that).
/// </summary>
internal sealed partial class LocalBackend(LocalBackendOptions options, ILogger<LocalBackend> logger) : ISessionBackend, IJobHost
{
    /// <summary>Every command's environment carries its session's ID, so leftovers can be found and killed on destroy.</summary>
    public const string SessionMarkerVariable = "SESSION_MCP_SESSION";

    /// <summary>Where no cgroup holds a command's processes, each carries its command's ID too, for the timeout's sweep.</summary>
    public const string CommandMarkerVariable = "SESSION_MCP_COMMAND";

    private readonly Lazy<SessionCgroups> _cgroups = new(() =>
    {
        var found = options.UseCgroups ? SessionCgroups.Detect(options.MaxProcesses) : SessionCgroups.Detect("", 0);
        LogCgroups(logger, found.Description);
        return found;
    });

    public string Name => "local";

    public Task<ProvisionedSession> CreateAsync(NewSessionSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Image is not null || spec.Network is not null || spec.Limits is not null)
        {
            throw new SessionException("image, network and limits apply to the docker backend only; drop them or use backend: \"docker\"");
        }
        WorkspaceSeeding.SecureSessionsRoot(options.SessionsDir);
        var sessionDir = Path.Combine(options.SessionsDir, spec.SessionId);
        var workspace = Path.Combine(sessionDir, "workspace");
        Directory.CreateDirectory(Path.Combine(sessionDir, "state"));
        try
        {
            if (spec.DiskMb is { } diskMb)
            {
                WorkspaceQuota.Create(sessionDir, workspace, diskMb, null, null);
            }
            if (spec.SourceDir is not null)
            {
                WorkspaceSeeding.CopyDirectory(spec.SourceDir, workspace, spec.MaxSourceBytes, skip: spec.SourceSkip);
            }
            else
            {
                Directory.CreateDirectory(workspace);
            }
        }
        catch
        {
            // Nothing stays (mounted, or half copied) for a session that was never registered.
            if (spec.DiskMb is not null)
            {
                WorkspaceQuota.Release(sessionDir, workspace);
            }
            WorkspaceRemoval.RemoveTree(sessionDir);
            throw;
        }
        workspace = Libc.CanonicalPath(workspace) ?? workspace;

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // A small, predictable environment: the server's own variables (which may hold its credentials) are not
            // passed on; only what programs need to run.
            ["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = workspace,
            ["LANG"] = "C.UTF-8",
            ["TERM"] = "dumb",
            ["SHELL"] = options.Shell,
        };
        if (Environment.GetEnvironmentVariable("USER") is { } user)
        {
            env["USER"] = user;
        }
        foreach (var (key, value) in spec.Env)
        {
            env[key] = value;
        }
        return Task.FromResult(new ProvisionedSession(workspace, workspace, env, null));
    }

    public async Task<ExecOutcome> ExecAsync(SessionRecord session, ExecRequest request, CancellationToken cancellationToken)
    {
        var workspace = session.WorkspaceHostPath;
        if (!Directory.Exists(workspace))
        {
            throw new SessionLostException($"its workspace directory {workspace} no longer exists");
        }
        var stateDir = Path.Combine(options.SessionsDir, session.Id, "state");
        Directory.CreateDirectory(stateDir);
        var commandId = Guid.NewGuid().ToString("N");
        var stateFile = Path.Combine(stateDir, $"exec-{commandId}");
        var cgroups = _cgroups.Value;
        var cgroup = cgroups.TryCreateCommand(session.Id, $"c-{commandId}");
        CommandProcesses processes = cgroup is not null ? cgroup : new SweptCommandProcesses(CommandMarkerVariable, commandId);

        var environment = new Dictionary<string, string>(request.SessionEnv, StringComparer.Ordinal);
        foreach (var (key, value) in request.CallEnv)
        {
            environment[key] = value;
        }
        environment[SessionMarkerVariable] = session.Id;
        if (cgroup is null)
        {
            environment[CommandMarkerVariable] = commandId;
        }

        var spec = new ProcessRunSpec(
            options.Shell,
            ["-c", processes.Prelude + ShellWrapper.Script, ShellWrapper.ArgumentZero, stateFile, request.Cwd, request.Command, workspace],
            environment,
            workspace,
            request.Stdin,
            request.Timeout,
            processes);
        try
        {
            var result = await LocalProcessRunner.RunAsync(spec, request.Stdout, request.Stderr, cancellationToken).ConfigureAwait(false);
            string? note = null;
            if (cgroup is not null && await cgroup.HitProcessLimitAsync().ConfigureAwait(false))
            {
                // What is left of a fork bomb keeps the session at its limit, and every later command would fail to
                // fork: the command's processes go, background ones included, so the session stays usable.
                if (!result.TimedOut)
                {
                    await cgroup.KillAllAsync(CancellationToken.None).ConfigureAwait(false);
                }
                note = ProcessLimitNote(cgroups.PidsLimit);
            }
            var (text, tooLarge) = result.TimedOut ? (null, false) : ReadStateFile(stateFile);
            var state = ShellWrapper.ParseState(text);
            state?.Env.Remove(SessionMarkerVariable);
            state?.Env.Remove(CommandMarkerVariable);
            return new ExecOutcome(result.ExitCode, result.TimedOut, result.Duration, state?.Cwd, state?.Env,
                SessionStateLimits.Join(note, tooLarge ? SessionStateLimits.StateFileTooLarge : null));
        }
        finally
        {
            if (cgroup is not null)
            {
                // Off the call's path: nothing waits for the empty directories to go.
                _ = Task.Run(cgroup.RemoveIfEmpty, CancellationToken.None);
            }
            File.Delete(stateFile);
        }
    }

    public Task<IRunningJob> StartJobAsync(SessionRecord session, JobLaunch launch, IJobSink sink, CancellationToken cancellationToken)
    {
        var workspace = session.WorkspaceHostPath;
        if (!Directory.Exists(workspace))
        {
            throw new SessionLostException($"its workspace directory {workspace} no longer exists");
        }
        var stateDir = Path.Combine(options.SessionsDir, session.Id, "state");
        Directory.CreateDirectory(stateDir);
        var stateFile = Path.Combine(stateDir, $"job-{launch.JobId}");
        var cgroup = _cgroups.Value.TryCreateCommand(session.Id, $"c-{launch.JobId}");
        CommandProcesses processes = cgroup is not null ? cgroup : new SweptCommandProcesses(CommandMarkerVariable, launch.JobId);
        var environment = new Dictionary<string, string>(launch.Env, StringComparer.Ordinal) { [SessionMarkerVariable] = session.Id };
        if (cgroup is null)
        {
            environment[CommandMarkerVariable] = launch.JobId;
        }
        if (launch.Terminal is { } size)
        {
            // A terminal's program is the session's shell in its cwd, the prelude run by the PTY itself.
            var terminal = new ProcessRunSpec(options.Shell, ["-c", TerminalScript, ShellWrapper.ArgumentZero, launch.Cwd, launch.Command, workspace], environment, workspace, null, Timeout.InfiniteTimeSpan, processes);
            return Task.FromResult<IRunningJob>(LocalTerminal.Start(terminal, size, sink, () => cgroup?.RemoveIfEmpty()));
        }
        var spec = new ProcessRunSpec(
            options.Shell,
            ["-c", processes.Prelude + ShellWrapper.Script, ShellWrapper.ArgumentZero, stateFile, launch.Cwd, launch.Command, workspace],
            environment,
            workspace,
            Stdin: "",
            Timeout.InfiniteTimeSpan,
            processes);
        IRunningJob job = LocalJob.Start(
            spec,
            sink,
            () =>
            {
                if (!launch.StateFile || ShellWrapper.ParseState(ReadStateFile(stateFile).Text) is not { } state)
                {
                    return null;
                }
                state.Env.Remove(SessionMarkerVariable);
                state.Env.Remove(CommandMarkerVariable);
                return state;
            },
            () =>
            {
                File.Delete(stateFile);
                cgroup?.RemoveIfEmpty();
            });
        return Task.FromResult(job);
    }

    /// <summary>A terminal's shell: into the cwd (else the workspace), then the command (an interactive shell by default).</summary>
    internal const string TerminalScript = """cd -- "$1" 2>/dev/null || cd -- "$3"; eval "$2" """;

    public WorkspaceLocation GetWorkspace(SessionRecord session) => new(session.WorkspaceHostPath, session.WorkspacePath);

    public Task<ProbeResult> ProbeAsync(SessionRecord session, CancellationToken cancellationToken) =>
        Task.FromResult(Directory.Exists(session.WorkspaceHostPath)
            ? new ProbeResult(SessionStatus.Running, "workspace present")
            : new ProbeResult(SessionStatus.Lost, $"its workspace directory {session.WorkspaceHostPath} no longer exists"));

    /// <summary>The note of a command during which the session's process limit stopped a fork.</summary>
    internal static string ProcessLimitNote(long limit) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"the session hit its process limit ({limit:N0} processes): forks failed with 'Resource temporarily unavailable' (EAGAIN); all of this command's processes were killed, so the session is usable again");

    public async Task DestroyAsync(SessionRecord session, bool keepWorkspace, CancellationToken cancellationToken)
    {
        // The session's cgroups hold whatever its commands started, however it left its process session or environment;
        // the marker sweep catches what ran before the cgroups existed (or everything, where there are none).
        var killed = await _cgroups.Value.KillSessionAsync(session.Id, CancellationToken.None).ConfigureAwait(false);
        killed += SessionProcesses.KillAll(SessionMarkerVariable, session.Id);
        if (killed > 0)
        {
            LogKilledLeftovers(logger, killed, session.Id);
        }
        var sessionDir = Path.Combine(options.SessionsDir, session.Id);
        if (keepWorkspace)
        {
            WorkspaceRemoval.RemoveTree(Path.Combine(sessionDir, "state"));
        }
        else
        {
            WorkspaceQuota.Release(sessionDir, session.WorkspaceHostPath);
            WorkspaceRemoval.RemoveTree(sessionDir);
        }
    }

    /// <summary>
    /// At start: kills what a previous server process left running for its commands (after a crash or <c>kill -9</c>
    /// nothing else would: their output has no reader, and a call no longer waits for them), and closes a sessions
    /// directory an older version (or an operator) left open to other users.
    /// </summary>
    public async Task<int> ReapOrphansAsync(IReadOnlyCollection<SessionRecord> sessions, CancellationToken cancellationToken)
    {
        if (Directory.Exists(options.SessionsDir))
        {
            try
            {
                WorkspaceSeeding.SecureSessionsRoot(options.SessionsDir);
            }
            catch (SessionException e)
            {
                // Existing sessions stay usable; creating a new one fails with the same reason until it is fixed.
                LogSessionsDirOpen(logger, e.Message);
            }
        }
        var local = sessions.Where(s => s.Backend == Name && s.Status == SessionStatus.Running).Select(s => s.Id).ToList();
        var killed = 0;
        foreach (var id in local)
        {
            killed += await _cgroups.Value.KillSessionAsync(id, cancellationToken).ConfigureAwait(false);
        }
        killed += SessionProcesses.KillAll(SessionMarkerVariable, local);
        if (killed > 0)
        {
            LogLeftoversKilled(logger, killed);
        }
        return killed;
    }

    /// <summary>
    /// The command's state file, read without following links or blocking (the session's processes know its name and
    /// may have swapped it for a link or a FIFO) and never more than <see cref="SessionStateLimits.MaxStateBytes"/>.
    /// </summary>
    private static (string? Text, bool TooLarge) ReadStateFile(string path)
    {
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return (null, false);
        }
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        // A state file is usually a few hundred bytes: read in small steps, never past the limit.
        Span<byte> chunk = stackalloc byte[8192];
        using var collected = new MemoryStream();
        try
        {
            int read;
            while ((read = RandomAccess.Read(handle, chunk, collected.Length)) > 0)
            {
                if (collected.Length + read > SessionStateLimits.MaxStateBytes)
                {
                    return (null, true);
                }
                collected.Write(chunk[..read]);
            }
        }
        catch (IOException)
        {
            return (null, false);
        }
        return (System.Text.Encoding.UTF8.GetString(collected.GetBuffer(), 0, (int)collected.Length), false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Local commands are contained by: {Cgroups}")]
    private static partial void LogCgroups(ILogger logger, string cgroups);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Reason}")]
    private static partial void LogSessionsDirOpen(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Killed {Count} processes the previous server process left running for its commands")]
    private static partial void LogLeftoversKilled(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Killed {Count} leftover processes of session {SessionId}")]
    private static partial void LogKilledLeftovers(ILogger logger, int count, string sessionId);
}
