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

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task SetuidFilesASessionPlantsAreNoPrivilegeOnTheHost(string backend)
    {
        // Given a session that plants a setuid+setgid executable in its workspace (a container's user may chmod its own
        // files; on the host they belong to that uid)
        var sessionId = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(sessionId, "cp /bin/busybox planted 2>/dev/null || cp /bin/sh planted; chmod 6755 planted");
        var sessionsDir = Path.Combine(_fixture.DataDir, "sessions");
        var planted = Path.Combine(sessionsDir, sessionId, "workspace", "planted");
        Assert.True(File.GetUnixFileMode(planted).HasFlag(UnixFileMode.SetUser));

        // When another host user tries to run it, or even to look into the workspace
        var run = await AsNobodyAsync($"'{planted}' true");
        var look = await AsNobodyAsync($"ls '{Path.Combine(sessionsDir, sessionId, "workspace")}'");

        // Then neither gets there: the sessions directory is private to the server's user
        Assert.Contains("Permission denied", run.Stderr);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Permission denied", look.Stderr);
        Assert.NotEqual(0, look.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(sessionsDir));

        // And a file the server rewrites never keeps the bits
        await Server.CallAsync("session_write_file", new { session_id = sessionId, path = "planted", content = "#!/bin/sh\n" });
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(planted));
    }

    /// <summary>
    /// Runs a shell command as nobody (65534, no groups), as any other host user would. Through a shell: setpriv itself
    /// looks the program up before it drops root's rights.
    /// </summary>
    private static async Task<(int ExitCode, string Stderr)> AsNobodyAsync(string command)
    {
        var start = new System.Diagnostics.ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/sh", "-c", command })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stderr);
    }
}
