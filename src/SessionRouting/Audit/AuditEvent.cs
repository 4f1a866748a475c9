namespace SessionMcp.SessionRouting.Audit;

/// <summary>Kinds of audited events.</summary>
public static class AuditKinds
{
    public const string ToolCall = "tool_call";
    public const string SessionCreated = "session_created";
    public const string SessionDestroyed = "session_destroyed";
    public const string SessionLost = "session_lost";
    public const string SessionResumed = "session_resumed";

    /// <summary>An idle session's backend resource was released (its container stopped); the summary says what was lost.</summary>
    public const string SessionHibernated = "session_hibernated";

    /// <summary>A call woke a hibernated session (its container started again); the summary has how long it took.</summary>
    public const string SessionWoken = "session_woken";

    /// <summary>A failed session (container died, OOM-killed, helper hung) was recreated on its workspace (restart: on-failure).</summary>
    public const string SessionRestarted = "session_restarted";

    /// <summary>The kernel's OOM killer killed a process in a session's container that kept running.</summary>
    public const string SessionOom = "session_oom";

    /// <summary>At start the log ended before the head the server recorded outside it: its newest events were deleted.</summary>
    public const string AuditTailMissing = "audit_tail_missing";

    /// <summary>At start the event at the recorded head's number had another hash: the log was rewritten.</summary>
    public const string AuditHeadMismatch = "audit_head_mismatch";

    /// <summary>An operator made a bearer token (<c>session-mcp token create</c>); the summary names it and its scope.</summary>
    public const string TokenCreated = "token_created";

    /// <summary>An operator revoked a bearer token.</summary>
    public const string TokenRevoked = "token_revoked";

    /// <summary>
    /// Retention removed events or outputs (<c>session-mcp audit prune</c>); the summary names the checkpoint it left and
    /// its digests, so the checkpoint is anchored in the chain. These events are never pruned themselves.
    /// </summary>
    public const string AuditPruned = "audit_pruned";
}

/// <summary>Outcomes of an audited event.</summary>
public static class AuditOutcomes
{
    public const string Ok = "ok";
    /// <summary>The tool ran and failed (the model got an error result).</summary>
    public const string Error = "error";
    /// <summary>The call never reached a backend: unknown tool, bad arguments, unknown session.</summary>
    public const string Rejected = "rejected";
    /// <summary>The client cancelled the call; whatever it started was stopped.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>The server stopped (crash, kill, power loss) while the call ran; recorded at the next start.</summary>
    public const string Interrupted = "interrupted";
}

/// <summary>
/// An event to append. Every text field is already redacted; JSON fields (<see cref="Arguments"/>, <see cref="Summary"/>,
/// <see cref="Output"/>) are stored verbatim so the hash covers exactly what was stored. <see cref="Principal"/> names who
/// made the call (a token's name, or "local"); null for what the server does on its own (a session found lost, a job's
/// end) and for every event written before principals existed.
/// </summary>
public sealed record AuditEntry(
    DateTimeOffset Time,
    string? SessionId,
    string Kind,
    string? Tool,
    string? Client,
    string? Arguments,
    string Outcome,
    string? Error,
    string? Summary,
    long DurationMs,
    string? Output,
    string? Principal = null);

/// <summary>An event as stored, with its place in the global sequence and the hash chain.</summary>
public sealed record AuditEvent(long Seq, AuditEntry Entry, string PrevHash, string Hash)
{
    /// <summary>How the hash covers the fields: <see cref="HashChain.LegacyEncoding"/> (versions 1 and 2, chosen by the
    /// principal) or <see cref="HashChain.EncodingV3"/> (the output by its digest).</summary>
    public int Encoding { get; init; } = HashChain.LegacyEncoding;

    /// <summary>Version 3: the SHA-256 of the output (null when the event has none); the hash covers this, not the output.</summary>
    public string? OutputDigest { get; init; }

    /// <summary>Retention dropped the output; the event still verifies through <see cref="OutputDigest"/>.</summary>
    public bool OutputPruned => Encoding == HashChain.EncodingV3 && OutputDigest is not null && Entry.Output is null;

    /// <summary>
    /// What could not be read from the stored row (a NULL, a bad timestamp, a hash that is not hex), with the raw values;
    /// null for a sound row. The fields it names hold placeholders, so readers show the event instead of failing.
    /// </summary>
    public string? Corruption { get; init; }
}

/// <summary>The newest event's number and hash: it commits to the whole log before it.</summary>
public sealed record AuditHead(long Seq, string Hash)
{
    /// <summary>The head of an empty log.</summary>
    public static readonly AuditHead Empty = new(0, HashChain.Genesis);
}

/// <summary>A call that began and was never recorded (its server died while it ran).</summary>
public sealed record InterruptedCall(string Id, DateTimeOffset Started, string? SessionId, string Tool, string? Client, string? Arguments, string? Principal = null);
