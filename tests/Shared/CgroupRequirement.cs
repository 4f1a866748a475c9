namespace SessionMcp.Tests.Shared;

/// <summary>
/// A fact that needs a writable cgroup hierarchy (to contain a local command's processes): skipped where this host has
/// none, except in CI (CI=true, where the machines run as root with cgroups), where it must fail instead.
/// </summary>
public sealed class CgroupFactAttribute : FactAttribute
{
    public CgroupFactAttribute(bool needsPidsController = false)
    {
        if (CgroupRequirement.SkipReason(needsPidsController) is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>Probes, independently of the server's own detection, whether this process may create cgroups.</summary>
public static class CgroupRequirement
{
    private static readonly Lazy<(bool Tracking, bool Pids)> Probe = new(Decide);

    public static string? SkipReason(bool needsPidsController)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true")
        {
            return null;
        }
        var (tracking, pids) = Probe.Value;
        return !tracking ? "no writable cgroup hierarchy here (needs root and a cgroup v2 or v1 freezer mount); CI=true runs it anyway"
            : needsPidsController && !pids ? "no writable pids controller here (v1 pids mount, or v2 with pids delegated); CI=true runs it anyway"
            : null;
    }

    private static (bool, bool) Decide()
    {
        var v2 = IsMount("/sys/fs/cgroup", "cgroup2") ? "/sys/fs/cgroup" : IsMount("/sys/fs/cgroup/unified", "cgroup2") ? "/sys/fs/cgroup/unified" : null;
        var tracking = (v2 is not null && CanCreate(v2)) || CanCreate("/sys/fs/cgroup/freezer");
        var pids = CanCreate("/sys/fs/cgroup/pids")
            || (v2 is not null && File.Exists(Path.Combine(v2, "cgroup.controllers")) && File.ReadAllText(Path.Combine(v2, "cgroup.controllers")).Split(' ', '\n').Contains("pids"));
        return (tracking, pids);
    }

    private static bool IsMount(string path, string type) =>
        File.Exists("/proc/self/mountinfo") && File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 8 } f && f[4] == path && l.Contains($" - {type} ", StringComparison.Ordinal));

    private static bool CanCreate(string hierarchy)
    {
        var probe = Path.Combine(hierarchy, $"session-mcp-test-probe-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
