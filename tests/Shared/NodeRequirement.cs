namespace SessionMcp.Tests.Shared;

/// <summary>A fact that needs Node.js and npm: skipped where they are missing, except in CI (CI=true), where it must fail instead.</summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (NodeRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs Node.js and npm: skipped where they are missing, except in CI (CI=true), where it must fail instead.</summary>
public sealed class NodeTheoryAttribute : TheoryAttribute
{
    public NodeTheoryAttribute()
    {
        if (NodeRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>Finds <c>node</c> and <c>npm</c> on PATH once per test process.</summary>
public static class NodeRequirement
{
    private static readonly Lazy<string?> LazySkipReason = new(FindSkipReason, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Null when Node tests should run; otherwise why they are skipped.</summary>
    public static string? SkipReason => LazySkipReason.Value;

    /// <summary>True under CI=true, where a missing tool is a broken pipeline rather than a reason to skip.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of an executable found on PATH, or null.</summary>
    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    private static string? FindSkipReason()
    {
        if (InCi)
        {
            return null;
        }
        var missing = new[] { "node", "npm" }.Where(tool => FindOnPath(tool) is null).ToList();
        return missing.Count == 0
            ? null
            : $"{string.Join(" and ", missing)} not found on PATH: install Node.js 20+ to run the tests that use tests/node (CI=true runs them anyway)";
    }
}
