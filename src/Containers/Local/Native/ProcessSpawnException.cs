namespace SessionMcp.Containers.Local.Native;

/// <summary>A process could not be started (missing executable, permission denied, bad working directory...).</summary>
internal sealed class ProcessSpawnException : Exception
{
    public ProcessSpawnException(string message, int errorNumber)
        : base(message)
    {
        ErrorNumber = errorNumber;
    }

    /// <summary>The errno value reported by the system, or 0 when the failure was detected before spawning.</summary>
    public int ErrorNumber { get; }
}
