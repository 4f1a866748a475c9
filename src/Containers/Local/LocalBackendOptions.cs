namespace SessionMcp.Containers.Local;

/// <summary>Settings of the local process backend (configuration section <c>Local</c>).</summary>
public sealed class LocalBackendOptions
{
    /// <summary>Where workspaces live: <c>{SessionsDir}/{id}/workspace</c>. Set from the data directory.</summary>
    public string SessionsDir { get; set; } = "";

    /// <summary>The shell that runs commands. /bin/sh (dash on Debian) starts fastest; /bin/bash works too.</summary>
    public string Shell { get; set; } = "/bin/sh";

    /// <summary>
    /// The most processes a session may have at once (the cgroup pids.max of the session), so a fork bomb stalls in its
    /// own session; 0 for no limit. Applies only where the server can create cgroups (see README, Limits).
    /// </summary>
    public long MaxProcesses { get; set; } = 512;

    /// <summary>Put each command in its own cgroup where the host allows it (the default); false keeps the process-session kill and /proc sweep.</summary>
    public bool UseCgroups { get; set; } = true;
}
