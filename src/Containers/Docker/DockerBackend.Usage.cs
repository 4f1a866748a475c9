using SessionMcp.Containers.Docker.Engine;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.Containers.Docker;

/// <summary>A container session's use, from one sample of the engine's statistics (memory, PIDs, CPU time in all).</summary>
internal sealed partial class DockerBackend : IUsageBackend
{
    public async Task<SessionUsage?> UsageAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        if (TryContainerId(session) is not { } containerId)
        {
            return null;
        }
        try
        {
            var stats = await Engine.StatsAsync(containerId, cancellationToken).ConfigureAwait(false);
            return stats is null ? null : new SessionUsage(
                (int)(stats.PidsStats?.Current ?? 0),
                (long)(stats.MemoryStats?.Usage ?? 0),
                Math.Round((stats.CPUStats?.CPUUsage?.TotalUsage ?? 0) / 1e9, 2));
        }
        catch (DockerEngineException)
        {
            return null;
        }
    }
}
