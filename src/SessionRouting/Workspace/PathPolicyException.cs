using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Workspace;

/// <summary>A path was refused because it is malformed or leads outside the session's workspace.</summary>
public sealed class PathPolicyException(string message) : SessionException(message);
