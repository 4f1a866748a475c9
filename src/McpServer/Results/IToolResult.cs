namespace SessionMcp.McpServer.Results;

/// <summary>
/// A tool's typed result. Its JSON (snake_case, nulls left out) is the call's structured content and must fit the
/// tool's output schema, which is generated from the same record: a property is required there exactly when it has no
/// default, so optional values are declared <c>= null</c> and never break a validating client.
/// </summary>
internal interface IToolResult
{
    /// <summary>The sequence number of the call's audit event, known only once the event is committed.</summary>
    long EventSeq { get; }

    /// <summary>The same result carrying the sequence number of its audit event.</summary>
    IToolResult WithEventSeq(long eventSeq);

    /// <summary>
    /// The text block a model reads: a compact rendering, not the structured content again as escaped JSON, so large
    /// payloads (outputs, file content, diffs, transcripts) are not paid for twice in escaped form.
    /// </summary>
    string Render();
}
