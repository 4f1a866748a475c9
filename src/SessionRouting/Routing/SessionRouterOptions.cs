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
}
