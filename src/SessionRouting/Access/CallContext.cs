namespace SessionMcp.SessionRouting.Access;

/// <summary>
/// The caller of one operation, passed explicitly into the router, which alone decides what sessions it can see and
/// use; backends never see it. <paramref name="Tool"/> tells what the call needs of the session it names (a read-only
/// tool needs read access, any other full); null (no tool: tests, admin commands) needs full.
/// </summary>
internal sealed record CallContext(Principal Principal, string? Tool = null, string? Client = null)
{
    /// <summary>The local user calling no particular tool.</summary>
    public static readonly CallContext Local = new(Principal.Local);

    public SessionAccess Needs => Tool is null ? SessionAccess.Full : AccessPolicy.Needs(Tool);
}
