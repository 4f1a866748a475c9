namespace SessionMcp.SessionRouting.Backends;

/// <summary>The call named a session that does not exist (audited as a rejected call).</summary>
public sealed class UnknownSessionException(string message) : SessionException(message);
