namespace SessionMcp.SessionRouting.Routing;

/// <summary>Server-wide session settings (bound from configuration section <c>Sessions</c>).</summary>
public sealed class SessionRouterOptions
{
    /// <summary>Backend used when <c>session_create</c> names none.</summary>
    public string DefaultBackend { get; set; } = "local";

    public int DefaultTimeoutMs { get; set; } = 120_000;

    public int MaxTimeoutMs { get; set; } = 600_000;

    /// <summary>How much of each stream a result carries inline; the rest is in the audit log.</summary>
    public int InlineOutputChars { get; set; } = 30_000;

    /// <summary>Directories <c>session_create {source_dir}</c> may copy from (default: the server's working directory).</summary>
    public IReadOnlyList<string> SourceRoots { get; set; } = [Environment.CurrentDirectory];

    /// <summary>
    /// The server's data directory (other sessions' workspaces, the audit log): never copied through <c>source_dir</c>,
    /// even when it lies under a source root.
    /// </summary>
    public string? DataDir { get; set; }

    /// <summary>Largest total size a <c>source_dir</c> copy may have.</summary>
    public long MaxSourceBytes { get; set; } = 1L << 30;

    /// <summary>How much of each stream is captured and audited per command (head and tail kept beyond it).</summary>
    public int CaptureBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// A running session with no call and no running job for this long shows as <c>idle</c> in session_list (a hint
    /// that it is a candidate for hibernation or destruction; nothing changes for it).
    /// </summary>
    public TimeSpan IdleAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A session with no call and no running job for this long is hibernated (docker: its container is stopped);
    /// <see cref="TimeSpan.Zero"/>: never.
    /// </summary>
    public TimeSpan HibernateAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How often each running session's helper is asked whether it still answers; zero: never.</summary>
    public TimeSpan HealthInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often leftover containers of this server are looked for and removed (the orphan grace period).</summary>
    public TimeSpan ReapInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Disk quota of a session that asks for none, in MiB; null: none.</summary>
    public long? DefaultDiskMb { get; set; }

    /// <summary>Most sessions (not destroyed: running, idle, hibernated or lost) the server holds at once; 0: no limit.</summary>
    public int MaxSessions { get; set; }

    /// <summary>Most sessions (not destroyed) one owner (a token, or the local user) holds at once; 0: no limit.</summary>
    public int MaxSessionsPerOwner { get; set; }
}
