using System.Diagnostics;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>session_create {source_dir}: copies a project in, and only from where the operator allows.</summary>
public sealed class SourceDirTests
{
    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task SourceDirIsCopiedOnlyFromUnderTheSourceRoots(string backend)
    {
        // Given a project under the allowed root (with a pipe in it), and a secret directory outside it
        using var data = new TempDirectory("data");
        using var allowed = new TempDirectory("projects");
        using var secret = new TempDirectory("secret");
        var project = Path.Combine(allowed.Path, "app");
        Directory.CreateDirectory(Path.Combine(project, "src"));
        File.WriteAllText(Path.Combine(project, "src", "main.py"), "print('hi')\n");
        File.CreateSymbolicLink(Path.Combine(project, "passwd"), "/etc/passwd");
        using (var mkfifo = Process.Start("mkfifo", Path.Combine(project, "pipe")))
        {
            await mkfifo.WaitForExitAsync();
        }
        File.WriteAllText(Path.Combine(secret.Path, "key"), "top secret\n");
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", allowed.Path]);

        // When
        var created = await server.CallAsync("session_create", new { backend, source_dir = project });
        var outside = await server.CallErrorAsync("session_create", new { backend, source_dir = secret.Path });
        var escape = await server.CallErrorAsync("session_create", new { backend, source_dir = Path.Combine(allowed.Path, "..", Path.GetFileName(secret.Path)) });

        // Then the project arrived (the link as a link, the pipe skipped), and nothing outside the root could be copied
        var sessionId = created.Text("session_id");
        Assert.Equal("print('hi')\n", await server.RunAsync(sessionId, "cat src/main.py"));
        Assert.Equal("/etc/passwd\n", await server.RunAsync(sessionId, "readlink passwd"));
        Assert.Equal("no pipe\n", await server.RunAsync(sessionId, "[ -e pipe ] || echo no pipe"));
        Assert.Contains("outside the directories this server copies from", outside);
        Assert.Contains("outside the directories this server copies from", escape);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ARelativeSourceDirIsCopiedFromTheFirstSourceRoot(string backend)
    {
        // Given a project under the server's first source root, and a directory next to that root
        using var data = new TempDirectory("data");
        using var allowed = new TempDirectory("projects");
        using var secret = new TempDirectory("secret");
        Directory.CreateDirectory(Path.Combine(allowed.Path, "app"));
        File.WriteAllText(Path.Combine(allowed.Path, "app", "README"), "relative works\n");
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", allowed.Path]);

        // When the project is named relative to the root, and '..' tries to leave it
        var created = await server.CallAsync("session_create", new { backend, source_dir = "app" });
        var escape = await server.CallErrorAsync("session_create", new { backend, source_dir = Path.Combine("..", Path.GetFileName(secret.Path)) });

        // Then the project was copied, and the escape refused
        Assert.Equal("relative works\n", await server.RunAsync(created.Text("session_id"), "cat README"));
        Assert.Contains("outside the directories this server copies from", escape);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task TheDataDirectoryCannotBeCopiedEvenUnderASourceRoot(string backend)
    {
        // Given a server whose data directory lies inside its source root, with a session that holds a secret
        using var root = new TempDirectory("root");
        var dataDir = Path.Combine(root.Path, "data");
        File.WriteAllText(Path.Combine(root.Path, "app.txt"), "project\n");
        File.CreateSymbolicLink(Path.Combine(root.Path, "data-link"), dataDir);
        await using var server = await ServerProcess.StartAsync(dataDir, ["--source-roots", root.Path]);
        var other = await server.CreateSessionAsync(backend);
        await server.RunAsync(other, "echo secret > secret.txt");
        var otherWorkspace = Path.Combine(dataDir, "sessions", other, "workspace");

        // When source_dir names the data directory, another session's workspace, or a link to the data directory
        var errors = new List<string>();
        foreach (var source in new[] { dataDir, otherWorkspace, "data", "data/sessions", "data-link" })
        {
            errors.Add(await server.CallErrorAsync("session_create", new { backend, source_dir = source }));
        }
        // and when it names the root that contains the data directory
        var copied = await server.CallAsync("session_create", new { backend, source_dir = root.Path });

        // Then each is refused, and the root is copied without the data directory
        Assert.All(errors, e => Assert.Contains("inside this server's data directory", e));
        var sessionId = copied.Text("session_id");
        Assert.Equal("project\n", await server.RunAsync(sessionId, "cat app.txt"));
        Assert.Equal("no data\n", await server.RunAsync(sessionId, "[ -e data ] || echo no data"));
        Assert.Equal("", await server.RunAsync(sessionId, "grep -rl secret . 2>/dev/null; true"));
    }
}
