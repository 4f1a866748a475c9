using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Audit;

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
    IReadOnlyList<string> SourceRoots,
    int ResultBudgetChars,
    int DockerPoolSize = 2,
    int DockerPoolMemoryMb = 4096,
    TimeSpan IdleAfter = default,
    TimeSpan HibernateAfter = default,
    TimeSpan HealthInterval = default,
    long? DiskMb = null,
    int MaxSessions = 0,
    int MaxSessionsPerOwner = 0)
{
    /// <summary>
    /// What a running server prunes on its own (at start, then hourly): <c>--retain-outputs</c>, <c>--retain-events</c>,
    /// <c>--retain-bytes</c>. Empty when none is set: by default nothing is ever pruned.
    /// </summary>
    public IReadOnlyList<RetentionPolicy> Retention { get; init; } = [];

    public string DatabasePath => Path.Combine(DataDir, "session-mcp.db");

    public string SessionsDir => Path.Combine(DataDir, "sessions");

    /// <summary>What workspace history keeps: <c>--history on|off</c>, <c>--history-ignore PATTERN[,PATTERN...]</c>
    /// (gitignore syntax), <c>--history-max-file-bytes N</c> (larger files are recorded by hash and size only).</summary>
    public HistoryOptions History { get; init; } = new();

    /// <summary>
    /// Resolves every setting; a bad value is an <see cref="ArgumentException"/> that names the flag or the environment
    /// variable it came from, never a silent default. An empty variable counts as unset.
    /// </summary>
    public static ServerSettings Resolve(IReadOnlyDictionary<string, string> options, Func<string, string?> environment)
    {
        Setting Get(string option, string variable) =>
            options.TryGetValue(option, out var value) ? new(value, $"--{option}")
            : environment(variable) is { Length: > 0 } fromEnvironment ? new(fromEnvironment, variable)
            : new(null, variable);

        var sourceRoots = Get("source-roots", "SESSION_MCP_SOURCE_ROOTS");
        var roots = (sourceRoots.Value ?? Environment.CurrentDirectory)
            .Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Path.GetFullPath).ToList();
        if (roots.Count == 0)
        {
            throw new ArgumentException($"{sourceRoots.Source} names no directory (got '{sourceRoots.Value}'); give DIR[:DIR...]");
        }
        var retention = new List<RetentionPolicy>();
        if (Get("retain-outputs", "SESSION_MCP_RETAIN_OUTPUTS").Age() is { } outputsAge)
        {
            retention.Add(new RetentionPolicy(OlderThan: outputsAge, OutputsOnly: true));
        }
        var eventsAge = Get("retain-events", "SESSION_MCP_RETAIN_EVENTS").Age();
        var bytes = Get("retain-bytes", "SESSION_MCP_RETAIN_BYTES").Size();
        if (eventsAge is not null || bytes is not null)
        {
            retention.Add(new RetentionPolicy(OlderThan: eventsAge, MaxBytes: bytes));
        }
        return new ServerSettings(
            Path.GetFullPath(Get("data-dir", "SESSION_MCP_DATA_DIR").Value ?? DefaultDataDir(environment)),
            Get("backend", "SESSION_MCP_BACKEND").OneOf("local", "docker"),
            Get("sync", "SESSION_MCP_SYNC").OneOf("normal", "full") == "full",
            Get("shell", "SESSION_MCP_SHELL").Value ?? "/bin/sh",
            Get("docker-host", "DOCKER_HOST").Value,
            Get("docker-image", "SESSION_MCP_DOCKER_IMAGE").Value ?? "session-mcp/busybox:latest",
            Get("docker-allow-network", "SESSION_MCP_DOCKER_ALLOW_NETWORK").Boolean(false),
            TimeSpan.FromSeconds(Get("docker-orphan-grace", "SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS").WholeNumber(60, 0, "seconds")),
            roots,
            Get("result-budget", "SESSION_MCP_RESULT_BUDGET").WholeNumber(ResultBudget.DefaultMaxChars, ResultBudget.MinimumMaxChars, "characters"),
            Get("docker-pool-size", "SESSION_MCP_DOCKER_POOL_SIZE").WholeNumber(2, 0, "containers"),
            Get("docker-pool-memory-mb", "SESSION_MCP_DOCKER_POOL_MEMORY_MB").WholeNumber(4096, 0, "MiB"),
            TimeSpan.FromSeconds(Get("idle-after", "SESSION_MCP_IDLE_AFTER_SECONDS").WholeNumber(60, 1, "seconds")),
            TimeSpan.FromSeconds(Get("hibernate-after", "SESSION_MCP_HIBERNATE_AFTER_SECONDS").WholeNumber(1800, 0, "seconds")),
            TimeSpan.FromSeconds(Get("health-interval", "SESSION_MCP_HEALTH_INTERVAL_SECONDS").WholeNumber(30, 0, "seconds")),
            Get("disk-mb", "SESSION_MCP_DISK_MB").WholeNumber(0, 0, "MiB") is var disk and > 0 ? disk : null,
            Get("max-sessions", "SESSION_MCP_MAX_SESSIONS").WholeNumber(0, 0, "sessions"),
            Get("max-sessions-per-owner", "SESSION_MCP_MAX_SESSIONS_PER_OWNER").WholeNumber(0, 0, "sessions"))
        {
            History = new HistoryOptions
            {
                Enabled = Get("history", "SESSION_MCP_HISTORY").OneOf("on", "off") == "on",
                IgnorePatterns = (Get("history-ignore", "SESSION_MCP_HISTORY_IGNORE").Value ?? "")
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                MaxStoredFileBytes = Get("history-max-file-bytes", "SESSION_MCP_HISTORY_MAX_FILE_BYTES").WholeNumber(4 * 1024 * 1024, 0, "bytes"),
            },
            Retention = retention,
        };
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

/// <summary>A setting's raw value (null: not given) and where it came from (a flag or a variable), for error messages.</summary>
internal readonly record struct Setting(string? Value, string Source)
{
    /// <summary>The value if it is one of <paramref name="allowed"/>; the first of them when not given.</summary>
    public string OneOf(params string[] allowed) =>
        Value is null ? allowed[0]
        : allowed.Contains(Value) ? Value
        : throw new ArgumentException($"{Source} must be {string.Join(" or ", allowed)} (got '{Value}')");

    public bool Boolean(bool fallback) => Value?.ToLowerInvariant() switch
    {
        null => fallback,
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new ArgumentException($"{Source} must be true or false (got '{Value}')"),
    };

    /// <summary>An age (<c>30d</c>), or null when not given.</summary>
    public TimeSpan? Age() =>
        Value is null ? null
        : RetentionPolicy.TryParseAge(Value, out var age) ? age
        : throw new ArgumentException($"{Source} must be an age: a whole number and s, m, h, d or w, e.g. 30d (got '{Value}')");

    /// <summary>A size in bytes (<c>1G</c>), or null when not given.</summary>
    public long? Size() =>
        Value is null ? null
        : RetentionPolicy.TryParseSize(Value, out var bytes) ? bytes
        : throw new ArgumentException($"{Source} must be a size: bytes, or a whole number with K, M, G or T, e.g. 1G (got '{Value}')");

    public int WholeNumber(int fallback, int minimum, string unit) =>
        Value is null ? fallback
        : int.TryParse(Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) && number >= minimum ? number
        : throw new ArgumentException($"{Source} must be a whole number of {unit}, {minimum} or more (got '{Value}')");
}
