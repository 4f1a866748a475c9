using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.Containers.Local;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Tests.Local;

/// <summary>The local backend making sessions on real directories.</summary>
public sealed class LocalBackendTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("session-mcp-local-backend-").FullName;

    [Fact]
    public async Task ASourceOverTheLimitIsRefusedAndLeavesNoHalfCopyBehind()
    {
        // Given a source of 40 KiB and a limit of 16 KiB
        var source = Path.Combine(_root, "source");
        Directory.CreateDirectory(Path.Combine(source, "d"));
        for (var i = 0; i < 40; i++)
        {
            File.WriteAllText(Path.Combine(source, "d", $"{i}.txt"), new string('x', 1024));
        }
        var sessions = Path.Combine(_root, "sessions");
        var backend = new LocalBackend(new LocalBackendOptions { SessionsDir = sessions }, NullLogger<LocalBackend>.Instance);

        // When
        var refused = await Assert.ThrowsAsync<SessionException>(() =>
            backend.CreateAsync(new NewSessionSpec("s-toolarge", null, new Dictionary<string, string>(), source, null, null, null, MaxSourceBytes: 16 * 1024), CancellationToken.None));

        // Then the session's directory is gone with what was copied of it
        Assert.Contains("holds more than", refused.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(sessions));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
