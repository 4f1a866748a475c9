namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>A fresh directory under the system temp dir, removed with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string purpose = "test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "session-mcp-tests", $"{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public override string ToString() => Path;

    public void Dispose()
    {
        RemoveContainersOf(Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A session process may still be writing in it; the OS temp cleaner gets the rest.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Docker sessions a test left running belong to the server data dir they were created under; remove them with it (or
    /// with the directory that holds it),
    /// so test runs do not pile up containers on the machine.
    /// </summary>
    private static void RemoveContainersOf(string dataDir)
    {
        if (!File.Exists("/var/run/docker.sock") && Environment.GetEnvironmentVariable("DOCKER_HOST") is null)
        {
            return;
        }
        // Test clean-up runs from synchronous Dispose; blocking here is confined to tests.
        Task.Run(async () =>
        {
            using var engine = SessionMcp.Containers.Docker.Engine.DockerEngineClient.Create();
            try
            {
                // Under this directory too: a test may put the server's data dir inside it (a source root holding it).
                var containers = await engine.ListContainersAsync(new Dictionary<string, string?> { ["session-mcp.data-dir"] = null }, all: true).ConfigureAwait(false);
                foreach (var container in containers.Where(c => c.Labels is not null && c.Labels.TryGetValue("session-mcp.data-dir", out var label)
                    && (label == dataDir || label.StartsWith(dataDir + "/", StringComparison.Ordinal))))
                {
                    await engine.RemoveContainerAsync(container.ID, force: true).ConfigureAwait(false);
                }
            }
            catch (SessionMcp.Containers.Docker.Engine.DockerEngineException)
            {
                // No engine, nothing to clean.
            }
        }).GetAwaiter().GetResult();
    }
}
