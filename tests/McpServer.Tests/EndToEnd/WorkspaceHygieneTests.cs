using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>What a session's commands leave in its workspace can neither outlive the session nor reach the host.</summary>
public sealed class WorkspaceHygieneTests : IClassFixture<ServerFixture>
{
    private readonly ServerFixture _fixture;

    public WorkspaceHygieneTests(ServerFixture fixture) => _fixture = fixture;

    /// <summary>
    /// Makes a/d/d/…/d 3,003 directories deep, with f, a link to / and mode 000 at the bottom. Built in chunks of 1,000
    /// levels moved under each other (relative paths stay short): a loop of `mkdir d; cd d` takes minutes at this depth,
    /// because every cd recomputes a path of thousands of components.
    /// </summary>
    public const string DeepTreeScript = """
        p=d; i=1; while [ $i -lt 1000 ]; do p=$p/d; i=$((i+1)); done
        mkdir -p a/$p && touch a/$p/f && ln -s / a/$p/root && chmod 000 a/$p || exit 1
        for round in 1 2; do mkdir -p b/$p && mv a b/$p/a && mv b a || exit 1; done
        """;

    private ServerProcess Server => _fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task DestroyRemovesAWorkspaceOfAnyDepthAndAnyPermissions(string backend)
    {
        // Given 3,003 nested directories (a path far beyond PATH_MAX) with a file and a link to / at the bottom, the bottom
        // made unreadable, and a link to /etc at the top
        var sessionId = await Server.CreateSessionAsync(backend);
        var sessionDir = Path.Combine(_fixture.DataDir, "sessions", sessionId);
        await Server.RunAsync(sessionId, "ln -s /etc etc && " + DeepTreeScript);
        Assert.True(Directory.Exists(Path.Combine(sessionDir, "workspace", "a", "d")));

        // When
        var destroyed = await Server.CallAsync("session_destroy", new { session_id = sessionId });

        // Then the whole session directory is gone, and nothing a link pointed at was touched
        Assert.Equal("stopped", destroyed.Text("status"));
        Assert.False(Directory.Exists(sessionDir));
        Assert.True(File.Exists("/etc/passwd"));
    }
}
