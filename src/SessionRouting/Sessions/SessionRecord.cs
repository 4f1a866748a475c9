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
    public static string StatusName(SessionStatus status) => status switch
    {
        SessionStatus.Running => "running",
        SessionStatus.Stopped => "stopped",
        SessionStatus.Lost => "lost",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public string StatusText => StatusName(Status);
}
