using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// A session's work as a whole: the change from the files its first ancestor copied from the source directory (a
/// fork's lineage leads back to it) to its own latest recorded files. What export, apply and the dashboard's patch show.
/// </summary>
internal sealed record SessionChange(string? SourceDir, WorkspaceTree Baseline, IReadOnlyList<FileChange> Changes)
{
    /// <param name="find">Finds a session of the lineage by id (a parent may be destroyed; its history stays).</param>
    public static SessionChange Of(SessionRecord session, Func<string, SessionRecord?> find, HistoryStore store)
    {
        var root = session;
        for (var depth = 0; root.Origin.ParentId is { } parent && find(parent) is { } found && depth < 1000; depth++)
        {
            root = found;
        }
        var start = store.StepsWithChanges(root.Id, 0, long.MaxValue) is [var first, ..] ? first
            : throw new SessionException($"session {root.Id} has no recorded workspace history (it began before history was recorded, or history is off), so there is no change to export");
        var baseline = store.TreeAt(root.Id, start);
        var current = store.TreeAt(session.Id, store.LastStep(session.Id) ?? start);
        return new SessionChange(session.Origin.SourceDir, baseline, TreeDelta.Between(baseline, current));
    }
}
