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

    public static string StatusName(SessionStatus status) => status switch
    {
        SessionStatus.Running => "running",
        SessionStatus.Stopped => "stopped",
        SessionStatus.Lost => "lost",
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
