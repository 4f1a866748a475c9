namespace SessionMcp.Containers.Local;

/// <summary>Settings of the local process backend (configuration section <c>Local</c>).</summary>
public sealed class LocalBackendOptions
{
    /// <summary>Where workspaces live: <c>{SessionsDir}/{id}/workspace</c>. Set from the data directory.</summary>
    public string SessionsDir { get; set; } = "";

    /// <summary>The shell that runs commands. /bin/sh (dash on Debian) starts fastest; /bin/bash works too.</summary>
    public string Shell { get; set; } = "/bin/sh";
}
