namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// Where a session's workspace is on the server's host (<see cref="HostRoot"/>) and where the session's commands see it
/// (<see cref="VisibleRoot"/>: the same path locally, <c>/workspace</c> in a container). Paths from the model and symlink
/// targets written by the session's commands are both in the visible namespace.
/// </summary>
/// <param name="OwnerUid">Owner to give new files and directories (the container's user), or null to keep the server's.</param>
public sealed record WorkspaceLocation(string HostRoot, string VisibleRoot, int? OwnerUid = null, int? OwnerGid = null);

/// <summary>
/// A path after the policy: where it is on the host, where the session's commands see it, and its path below the
/// workspace root (<c>src/a.py</c>, or <c>.</c> for the root), which is how results and errors name it to the model.
/// </summary>
public sealed record ResolvedPath(string HostPath, string VisiblePath, string RelativePath);
