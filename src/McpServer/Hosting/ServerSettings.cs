namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// The server's settings, from command-line options over environment variables over defaults. Every option has both
/// forms: <c>--data-dir</c> / <c>SESSION_MCP_DATA_DIR</c>, and so on (see README, "Configuration").
/// </summary>
internal sealed record ServerSettings(
    string DataDir,
    string DefaultBackend,
    bool FullSync,
    string Shell,
    string? DockerHost,
    string DockerImage,
    bool DockerAllowNetwork,
    TimeSpan DockerOrphanGrace,
    IReadOnlyList<string> SourceRoots)
{
    public string DatabasePath => Path.Combine(DataDir, "session-mcp.db");

    public string SessionsDir => Path.Combine(DataDir, "sessions");

    public static ServerSettings Resolve(IReadOnlyDictionary<string, string> options, Func<string, string?> environment)
    {
        string? Get(string option, string variable) => options.TryGetValue(option, out var value) ? value : environment(variable);

        var dataDir = Get("data-dir", "SESSION_MCP_DATA_DIR") ?? DefaultDataDir(environment);
        var sync = Get("sync", "SESSION_MCP_SYNC") ?? "normal";
        if (sync is not ("normal" or "full"))
        {
            throw new ArgumentException($"--sync must be 'normal' or 'full', got '{sync}'");
        }
        return new ServerSettings(
            Path.GetFullPath(dataDir),
            Get("backend", "SESSION_MCP_BACKEND") ?? "local",
            sync == "full",
            Get("shell", "SESSION_MCP_SHELL") ?? "/bin/sh",
            Get("docker-host", "DOCKER_HOST"),
            Get("docker-image", "SESSION_MCP_DOCKER_IMAGE") ?? "session-mcp/busybox:latest",
            (Get("docker-allow-network", "SESSION_MCP_DOCKER_ALLOW_NETWORK") ?? "false") is "true" or "1",
            TimeSpan.FromSeconds(int.TryParse(Get("docker-orphan-grace", "SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS"), out var grace) && grace >= 0 ? grace : 60),
            (Get("source-roots", "SESSION_MCP_SOURCE_ROOTS") ?? Environment.CurrentDirectory)
                .Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Path.GetFullPath).ToList());
    }

    /// <summary><c>$XDG_DATA_HOME/session-mcp</c>, else <c>~/.local/share/session-mcp</c>.</summary>
    public static string DefaultDataDir(Func<string, string?> environment)
    {
        var xdg = environment("XDG_DATA_HOME");
        if (!string.IsNullOrEmpty(xdg))
        {
            return Path.Combine(xdg, "session-mcp");
        }
        var home = environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".local", "share", "session-mcp");
    }
}
