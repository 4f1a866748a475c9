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
}
