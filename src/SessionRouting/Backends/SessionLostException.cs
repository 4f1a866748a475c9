namespace SessionMcp.SessionRouting.Backends;

/// <summary>Thrown by a backend when the session's resource is gone (container removed, killed, OOM-killed).</summary>
public sealed class SessionLostException(string detail) : SessionException(detail)
{
    public string Detail { get; } = detail;
}
