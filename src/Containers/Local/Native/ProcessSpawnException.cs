using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Local.Native;

/// <summary>A process could not be started (missing executable, permission denied, bad working directory...); the message says which.</summary>
internal sealed class ProcessSpawnException(string message, int errorNumber) : SessionException(message)
{
    /// <summary>The errno value reported by the system, or 0 when the failure was detected before spawning.</summary>
    public int ErrorNumber { get; } = errorNumber;
}
