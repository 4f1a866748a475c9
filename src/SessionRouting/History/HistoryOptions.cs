namespace SessionMcp.SessionRouting.History;

/// <summary>
/// How much of a workspace history keeps. A session's files are written by code the server does not trust, so every
/// amount read from them is bounded here.
/// </summary>
internal sealed record HistoryOptions
{
    /// <summary>Record workspace changes at all (<c>--history off</c> turns it off).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Files up to this size have their content stored (compressed, once per distinct content); larger ones are
    /// recorded by hash and size only, so they can be named in a diff but not restored or exported.</summary>
    public long MaxStoredFileBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Past this size a file is not even read: it is recorded by size and times (a fingerprint, not a content
    /// hash), so a session writing a huge file costs no more than a stat.</summary>
    public long MaxHashedFileBytes { get; init; } = 256 * 1024 * 1024;

    /// <summary>New content one step may add to the store; past it, files are recorded by hash only for that step.</summary>
    public long MaxStoredBytesPerStep { get; init; } = 64 * 1024 * 1024;

    /// <summary>Files tracked per workspace; past it new files are not recorded (and the step says so).</summary>
    public int MaxFiles { get; init; } = 100_000;

    /// <summary>gitignore-style patterns left out of every workspace's history, on top of <c>.git/</c> and the workspace's
    /// own root <c>.gitignore</c>.</summary>
    public IReadOnlyList<string> IgnorePatterns { get; init; } = [];
}
