using System.Collections.Frozen;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Access;

/// <summary>What a principal may do with a session, weakest first.</summary>
internal enum SessionAccess
{
    /// <summary>The session does not exist for it (it is told "unknown session", as for one that does not exist).</summary>
    None,
    Read,
    Full,
}

/// <summary>The access rules, as pure functions over plain values: which tools a scope may call, which sessions a principal sees.</summary>
internal static class AccessPolicy
{
    /// <summary>
    /// The tools a read-scoped principal may call: they change nothing in a session. Kept as an explicit list (a test
    /// checks it against the tools' ReadOnly annotations), so a new tool is refused to read tokens until it is added.
    /// </summary>
    public static readonly FrozenSet<string> ReadOnlyTools = FrozenSet.Create(
        StringComparer.Ordinal,
        "session_list",
        "session_read_file",
        "session_replay",
        "session_diff",
        "session_job_output",
        "session_jobs",
        "session_terminal_read");

    /// <summary>What a call of <paramref name="tool"/> needs of the session it names.</summary>
    public static SessionAccess Needs(string tool) => ReadOnlyTools.Contains(tool) ? SessionAccess.Read : SessionAccess.Full;

    /// <summary>Why <paramref name="principal"/>'s scope does not allow <paramref name="tool"/>, or null when it does.</summary>
    public static string? ToolRefusal(Principal principal, string tool) =>
        principal.Scope == AccessScope.Read && Needs(tool) == SessionAccess.Full
            ? $"{principal.Description} has scope read; {tool} needs full"
            : null;

    /// <summary>
    /// What <paramref name="principal"/> may do with a session owned by <paramref name="owner"/> and shared with it at
    /// <paramref name="shared"/> (null: not shared with it): the owner, an admin and the local user may do everything;
    /// others what the share gives; a read-scoped principal never more than read.
    /// </summary>
    public static SessionAccess AccessTo(Principal principal, string owner, SessionAccess? shared)
    {
        var granted = principal.Scope == AccessScope.Admin || string.Equals(owner, principal.Name, StringComparison.Ordinal)
            ? SessionAccess.Full
            : shared ?? SessionAccess.None;
        return principal.Scope == AccessScope.Read && granted > SessionAccess.Read ? SessionAccess.Read : granted;
    }

    /// <summary>Whether <paramref name="principal"/> may share a session owned by <paramref name="owner"/>: its owner or an admin.</summary>
    public static bool MayShare(Principal principal, string owner) =>
        principal.Scope == AccessScope.Admin || (principal.Scope == AccessScope.Full && string.Equals(owner, principal.Name, StringComparison.Ordinal));

    /// <summary>The sessions <paramref name="principal"/> can see, given the shares made with it (session id to access).</summary>
    public static IReadOnlyList<SessionRecord> Visible(Principal principal, IEnumerable<SessionRecord> sessions, IReadOnlyDictionary<string, SessionAccess> sharedWith) =>
        [.. sessions.Where(s => AccessTo(principal, s.Owner, sharedWith.TryGetValue(s.Id, out var shared) ? shared : null) != SessionAccess.None)];
}
