namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// The backends session tests run on. Tests written against this list hold on a container too: relative paths,
/// suffix comparisons of cwd, busybox-level commands only.
/// </summary>
public static class Backends
{
    public const string Local = "local";

    public static TheoryData<string> Names => [Local];
}
