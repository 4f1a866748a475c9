using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// The backends session tests run on: local always; docker when an engine answers, and always in CI (where a missing
/// engine must fail the run, not skip it). Tests written against this list hold on a container too: relative paths,
/// suffix comparisons of cwd, busybox-level commands only.
/// </summary>
public static class Backends
{
    public const string Local = "local";
    public const string Docker = "docker";

    public static TheoryData<string> Names => DockerRequirement.SkipReason is null ? [Local, Docker] : [Local];
}
