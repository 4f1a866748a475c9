using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Backends;

/// <summary>
/// What every backend (local process sandbox, Docker container, later a Kubernetes pod) offers. The registry owns the
/// session's persisted state (cwd, exported env); a backend is handed that state on each call and returns what changed,
/// so a backend can be restarted, re-attached or replaced without losing the session.
/// </summary>
internal interface ISessionBackend
{
    /// <summary>The name used in <c>session_create {backend}</c>.</summary>
    string Name { get; }

    /// <summary>Provisions the session's resources (workspace directory, container...).</summary>
    Task<ProvisionedSession> CreateAsync(NewSessionSpec spec, CancellationToken cancellationToken);

    /// <summary>Runs one command with the session's shell state.</summary>
    Task<ExecOutcome> ExecAsync(SessionRecord session, ExecRequest request, CancellationToken cancellationToken);

    /// <summary>Where file tools read and write for this session.</summary>
    WorkspaceLocation GetWorkspace(SessionRecord session);

    /// <summary>
    /// Checks the backend resource after a server restart or a failure: re-attaches to it when it is still there.
    /// </summary>
    Task<ProbeResult> ProbeAsync(SessionRecord session, CancellationToken cancellationToken);

    /// <summary>Releases the session's resources; keeps the workspace directory when asked.</summary>
    Task DestroyAsync(SessionRecord session, bool keepWorkspace, CancellationToken cancellationToken);

    /// <summary>
    /// Removes resources this server created for sessions that are no longer running (a crash between creating a
    /// container and registering it, a failed removal). Returns how many it removed.
    /// </summary>
    Task<int> ReapOrphansAsync(IReadOnlyCollection<SessionRecord> sessions, CancellationToken cancellationToken);
}

/// <summary>
/// What the caller of <c>session_create</c> asked for, after validation (<see cref="SourceDir"/> is canonical and
/// allowed). <see cref="SourceSkip"/> is a canonical directory the copy must leave out (the server's data directory).
/// </summary>
internal sealed record NewSessionSpec(
    string SessionId,
    string? Name,
    IReadOnlyDictionary<string, string> Env,
    string? SourceDir,
    string? Image,
    string? Network,
    ResourceLimits? Limits,
    long MaxSourceBytes = 1L << 30,
    string? SourceSkip = null,
    long? DiskMb = null,
    string? RestartPolicy = null);

/// <summary>Per-session resource limits; null members take the configured defaults.</summary>
/// <param name="MemoryMb">In MiB, as asked: the backend checks its range before converting, so no size overflows.</param>
internal sealed record ResourceLimits(long? MemoryMb, double? Cpus, long? Pids);

/// <summary>What a backend created: the state the registry persists for it.</summary>
internal sealed record ProvisionedSession(
    string WorkspaceHostPath,
    string WorkspacePath,
    IReadOnlyDictionary<string, string> Env,
    string? BackendState);

/// <summary>One command and the session state it starts from.</summary>
internal sealed record ExecRequest(
    string Command,
    string Cwd,
    IReadOnlyDictionary<string, string> SessionEnv,
    IReadOnlyDictionary<string, string> CallEnv,
    string? Stdin,
    TimeSpan Timeout,
    OutputCapture Stdout,
    OutputCapture Stderr);

/// <summary>
/// The end of a command. <see cref="FinalCwd"/> and <see cref="FinalEnv"/> are null when the shell did not get to report
/// them (timeout, killed), in which case the session state stays as it was.
/// </summary>
internal sealed record ExecOutcome(
    int ExitCode,
    bool TimedOut,
    TimeSpan Duration,
    string? FinalCwd,
    IReadOnlyDictionary<string, string>? FinalEnv,
    string? Note = null,
    string? BackendState = null);

/// <summary>The state of a session's backend resource.</summary>
internal sealed record ProbeResult(SessionStatus Status, string? Detail, string? BackendState = null);
