namespace SessionMcp.SessionRouting.Sessions;

/// <summary>Lifecycle state of a session as the registry knows it.</summary>
public enum SessionStatus
{
    /// <summary>The backend can run commands in it now.</summary>
    Running,
    /// <summary>Destroyed (its workspace may be kept).</summary>
    Stopped,
    /// <summary>Its backend resource disappeared underneath it (container removed, killed, OOM-killed...).</summary>
    Lost,
    /// <summary>
    /// Idle for longer than the server's hibernation time: its backend resource is released (a docker container is
    /// stopped) while its workspace, cwd and exported variables are kept; the next command resumes it.
    /// </summary>
    Hibernated,
}

/// <summary>
/// A session as persisted in the registry. <see cref="Cwd"/> and <see cref="Env"/> are the shell state that carries over
/// from one <c>session_exec</c> to the next; both are in the backend's view (a container path for docker).
/// </summary>
public sealed record SessionRecord(
    string Id,
    string? Name,
    string Backend,
    SessionStatus Status,
    string WorkspaceHostPath,
    string WorkspacePath,
    string Cwd,
    IReadOnlyDictionary<string, string> Env,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivityAt,
    string? BackendState,
    string? StatusDetail)
{
    /// <summary>
    /// The principal that made the session (a token's name, or "local"): it and admins may use and share it. An init
    /// property rather than a positional one, so the many places that make records need not name it (they are local).
    /// </summary>
    public string Owner { get; init; } = "local";

    /// <summary>Where the workspace came from: the source directory it copied, or the session and event it was forked at.</summary>
    public SessionOrigin Origin { get; init; } = SessionOrigin.Empty;

    /// <summary><c>on-failure</c>: a container that dies or whose helper hangs is recreated on the same workspace; null: it is marked lost.</summary>
    public string? RestartPolicy { get; init; }

    /// <summary>The workspace's disk quota in MiB (a loop-mounted filesystem of that size); null: none.</summary>
    public long? DiskMb { get; init; }

    public static string StatusName(SessionStatus status) => status switch
    {
        SessionStatus.Running => "running",
        SessionStatus.Stopped => "stopped",
        SessionStatus.Lost => "lost",
        SessionStatus.Hibernated => "hibernated",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public string StatusText => StatusName(Status);
}

/// <summary>
/// Where a session's workspace came from. <see cref="SourceDir"/> is the host directory copied at creation (a fork
/// inherits its parent's, so its work can still be exported against it); <see cref="ParentId"/> and
/// <see cref="ForkSeq"/> name the session and the event whose workspace state a fork started from.
/// </summary>
public sealed record SessionOrigin(string? SourceDir, string? ParentId, long? ForkSeq)
{
    public static readonly SessionOrigin Empty = new(null, null, null);
}
