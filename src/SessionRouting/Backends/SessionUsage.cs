using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Backends;

/// <summary>What a session uses now: its processes, their resident memory, and the CPU time they have taken.</summary>
internal sealed record SessionUsage(int Processes, long MemoryBytes, double CpuSeconds);

/// <summary>A backend that can say what a session uses (for session_list and the dashboard's cards).</summary>
internal interface IUsageBackend
{
    /// <summary>The session's use now, or null when the backend cannot tell (no cgroups, the engine does not answer).</summary>
    Task<SessionUsage?> UsageAsync(SessionRecord session, CancellationToken cancellationToken);
}

/// <summary>
/// What the last health check found: <paramref name="State"/> ok (the resource is there and its helper answered),
/// "not answering" (a helper silent once; twice marks the session lost) or "failing"; when, and why.
/// </summary>
internal sealed record SessionHealth(string State, DateTimeOffset CheckedAt, string? Detail = null);
