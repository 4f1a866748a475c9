using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Backends;

/// <summary>
/// A backend whose sessions hold resources between calls (a container), so they can be released while idle, watched
/// for failure and recreated. A backend without it (local: a process per command, nothing resident between calls)
/// hibernates by a change of state only.
/// </summary>
internal interface ILifecycleBackend
{
    /// <summary>Releases what the idle session holds, keeping its workspace; returns what was lost, for the event.</summary>
    Task<string> HibernateAsync(SessionRecord session, CancellationToken cancellationToken);

    /// <summary>Makes a hibernated session runnable again; returns its new backend state (null: unchanged).</summary>
    Task<string?> WakeAsync(SessionRecord session, CancellationToken cancellationToken);

    /// <summary>
    /// Checks that a running session's resource is there and answers (its in-container helper); null when healthy.
    /// A missed event is caught here too (a container found dead).
    /// </summary>
    Task<BackendFailure?> CheckHealthAsync(SessionRecord session, CancellationToken cancellationToken);

    /// <summary>Recreates a failed session's resource on the same workspace; returns its new backend state.</summary>
    Task<string?> RestartAsync(SessionRecord session, CancellationToken cancellationToken);

    /// <summary>
    /// What the backend's engine reports about this server's sessions as it happens (a container died, an OOM kill),
    /// until cancelled. Ends (or throws) when the engine goes away; the caller watches again later.
    /// </summary>
    IAsyncEnumerable<BackendFailure> WatchAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Something the engine reported about one session. <see cref="Fatal"/>: its resource is gone (died, removed); otherwise
/// a process in it was killed (an OOM kill that left the container running) and the session keeps working.
/// <see cref="Hung"/>: it did not answer a liveness check, which counts only when it happens twice in a row.
/// </summary>
internal sealed record BackendFailure(string SessionId, string Detail, bool Fatal, bool OutOfMemory, int? ExitCode, bool Hung = false);
