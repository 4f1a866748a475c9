using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Docker.Pool;

/// <summary>
/// The warm pool as the engine shows it, for <c>session-mcp sessions</c> (a process of its own, so it asks the engine,
/// not the server): the idle containers of a data directory, by shape. A claimed container keeps the pool's label but
/// has its session's name, so only <c>session-mcp-pool-…</c> ones count as idle.
/// </summary>
internal static class PoolReport
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>One line, or null when the pool was never used on this data directory; never throws.</summary>
    public static async Task<string?> DescribeAsync(string? endpoint, string dataDir)
    {
        if (!Directory.Exists(Path.Combine(dataDir, "pool")))
        {
            return null;
        }
        try
        {
            using var engine = DockerEngineClient.Create(endpoint);
            using var timeout = new CancellationTokenSource(Timeout);
            var containers = await engine.ListContainersAsync(
                new Dictionary<string, string?> { [ContainerSpec.PoolLabel] = null, [ContainerSpec.DataDirLabel] = dataDir }, all: true, timeout.Token).ConfigureAwait(false);
            var idle = containers
                .Where(c => c.State == "running" && (c.Names ?? []).Any(n => n.TrimStart('/').StartsWith("session-mcp-pool-", StringComparison.Ordinal)))
                .GroupBy(c => ContainerSpec.Label(c.Labels, ContainerSpec.PoolLabel) ?? "?")
                .Select(g => $"{g.Count()} × {g.Key}")
                .ToList();
            return idle.Count == 0 ? "warm pool: no idle container" : $"warm pool: {string.Join("; ", idle)} (idle, ready for session_create)";
        }
        catch (Exception e) when (e is DockerEngineException or OperationCanceledException or ArgumentException)
        {
            return $"warm pool: unknown ({e.Message})";
        }
    }
}
