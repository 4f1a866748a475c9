using SessionMcp.McpServer.Hosting;

namespace SessionMcp.McpServer.Tests.Hosting;

/// <summary><see cref="ServerSettings.Resolve"/>: flags over variables over defaults, and bad values refused by name.</summary>
public sealed class ServerSettingsTests
{
    private static readonly Dictionary<string, string> NoFlags = [];

    [Fact]
    public void DefaultsApplyWhenNothingIsGiven()
    {
        // Given / When
        var settings = ServerSettings.Resolve(NoFlags, Environment(("HOME", "/home/newcomer")));

        // Then
        Assert.Equal("/home/newcomer/.local/share/session-mcp", settings.DataDir);
        Assert.Equal(("local", false, false, 60.0), (settings.DefaultBackend, settings.FullSync, settings.DockerAllowNetwork, settings.DockerOrphanGrace.TotalSeconds));
    }

    [Fact]
    public void RetentionIsOffByDefaultAndOutputsAndEventsArePrunedByTheirOwnLimits()
    {
        // Given / When
        var none = ServerSettings.Resolve(NoFlags, Environment());
        var both = ServerSettings.Resolve(new Dictionary<string, string> { ["retain-outputs"] = "7d", ["retain-bytes"] = "2G" }, Environment(("SESSION_MCP_RETAIN_EVENTS", "90d")));

        // Then
        Assert.Empty(none.Retention);
        Assert.Equal(
            [
                new SessionMcp.SessionRouting.Audit.RetentionPolicy(OlderThan: TimeSpan.FromDays(7), OutputsOnly: true),
                new SessionMcp.SessionRouting.Audit.RetentionPolicy(OlderThan: TimeSpan.FromDays(90), MaxBytes: 2L << 30),
            ],
            both.Retention);
    }

    [Fact]
    public void AFlagWinsOverItsVariableAndAnEmptyVariableCountsAsUnset()
    {
        // Given
        var environment = Environment(("SESSION_MCP_DATA_DIR", "/from/env"), ("SESSION_MCP_SYNC", ""), ("SESSION_MCP_DOCKER_ALLOW_NETWORK", "TRUE"));

        // When
        var settings = ServerSettings.Resolve(new Dictionary<string, string> { ["data-dir"] = "/from/flag" }, environment);

        // Then
        Assert.Equal(("/from/flag", false, true), (settings.DataDir, settings.FullSync, settings.DockerAllowNetwork));
    }

    [Theory]
    [InlineData("docker-orphan-grace", "abc", "--docker-orphan-grace must be a whole number of seconds, 0 or more (got 'abc')")]
    [InlineData("docker-orphan-grace", "-1", "--docker-orphan-grace must be a whole number of seconds, 0 or more (got '-1')")]
    [InlineData("docker-allow-network", "maybe", "--docker-allow-network must be true or false (got 'maybe')")]
    [InlineData("sync", "fast", "--sync must be normal or full (got 'fast')")]
    [InlineData("backend", "kubernetes", "--backend must be local or docker (got 'kubernetes')")]
    [InlineData("source-roots", ":", "--source-roots names no directory (got ':'); give DIR[:DIR...]")]
    [InlineData("retain-events", "90", "--retain-events must be an age: a whole number and s, m, h, d or w, e.g. 30d (got '90')")]
    [InlineData("retain-bytes", "big", "--retain-bytes must be a size: bytes, or a whole number with K, M, G or T, e.g. 1G (got 'big')")]
    [InlineData("idle-after", "0", "--idle-after must be a whole number of seconds, 1 or more (got '0')")]
    [InlineData("hibernate-after", "soon", "--hibernate-after must be a whole number of seconds, 0 or more (got 'soon')")]
    [InlineData("disk-mb", "-5", "--disk-mb must be a whole number of MiB, 0 or more (got '-5')")]
    [InlineData("max-sessions-per-owner", "x", "--max-sessions-per-owner must be a whole number of sessions, 0 or more (got 'x')")]
    public void ABadFlagValueIsAnErrorNamingTheFlag(string option, string value, string message)
    {
        // Given / When
        var error = Assert.Throws<ArgumentException>(() => ServerSettings.Resolve(new Dictionary<string, string> { [option] = value }, Environment()));

        // Then
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS", "abc", "SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS must be a whole number of seconds, 0 or more (got 'abc')")]
    [InlineData("SESSION_MCP_DOCKER_ALLOW_NETWORK", "maybe", "SESSION_MCP_DOCKER_ALLOW_NETWORK must be true or false (got 'maybe')")]
    [InlineData("SESSION_MCP_SYNC", "fast", "SESSION_MCP_SYNC must be normal or full (got 'fast')")]
    [InlineData("SESSION_MCP_BACKEND", "podman", "SESSION_MCP_BACKEND must be local or docker (got 'podman')")]
    [InlineData("SESSION_MCP_RETAIN_OUTPUTS", "7 days", "SESSION_MCP_RETAIN_OUTPUTS must be an age: a whole number and s, m, h, d or w, e.g. 30d (got '7 days')")]
    public void ABadVariableValueIsAnErrorNamingTheVariable(string variable, string value, string message)
    {
        // Given / When
        var error = Assert.Throws<ArgumentException>(() => ServerSettings.Resolve(NoFlags, Environment((variable, value))));

        // Then
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void LifecycleSettingsHaveTheirDefaultsAndTakeFlagsOverVariables()
    {
        // Given / When
        var defaults = ServerSettings.Resolve(NoFlags, Environment());
        var given = ServerSettings.Resolve(
            new Dictionary<string, string> { ["hibernate-after"] = "0", ["disk-mb"] = "64", ["max-sessions"] = "10" },
            Environment(("SESSION_MCP_HIBERNATE_AFTER_SECONDS", "5"), ("SESSION_MCP_MAX_SESSIONS_PER_OWNER", "3"), ("SESSION_MCP_IDLE_AFTER_SECONDS", "7")));

        // Then
        Assert.Equal((TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(30), TimeSpan.FromSeconds(30), (long?)null, 0, 0),
            (defaults.IdleAfter, defaults.HibernateAfter, defaults.HealthInterval, defaults.DiskMb, defaults.MaxSessions, defaults.MaxSessionsPerOwner));
        Assert.Equal((TimeSpan.FromSeconds(7), TimeSpan.Zero, (long?)64, 10, 3),
            (given.IdleAfter, given.HibernateAfter, given.DiskMb, given.MaxSessions, given.MaxSessionsPerOwner));
    }

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;
}
