using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Records what each step did to its session's workspace and answers questions about it. After a call, <see cref="Observe"/>
/// scans the workspace (only what changed, see <see cref="WorkspaceScanner"/>) and hands back the step, which the audit
/// log commits in the same transaction as the call's event: an event and its workspace change exist together or not at
/// all. The session's lock is held from the scan until the step is committed or dropped, so two calls of one session
/// commit their changes in the order they saw them.
/// </summary>
internal sealed class WorkspaceHistory(HistoryStore store, HistoryOptions options) : IDisposable
{
    private readonly ConcurrentDictionary<string, Tracked> _sessions = new(StringComparer.Ordinal);

    // Contents known to be in the store: a first walk (a fork, a restart) asks about every file, and most are there.
    // Blobs are never taken out of the store, so a hash once found stays true; bounded, it starts over when full.
    private readonly ConcurrentDictionary<string, bool> _stored = new(StringComparer.Ordinal);
    private const int MaxRememberedBlobs = 200_000;

    public HistoryStore Store => store;

    public HistoryOptions Options => options;

    /// <summary>
    /// Scans <paramref name="session"/>'s workspace and returns what changed since the last recorded step. Dispose the
    /// step after appending its event (with <see cref="PendingStep.Write"/> inside the append's transaction).
    /// </summary>
    public PendingStep Observe(SessionRecord session)
    {
        if (!options.Enabled)
        {
            return PendingStep.None;
        }
        var tracked = TrackedOf(session);
        tracked.Gate.Enter();
        try
        {
            tracked.Scanner.Refresh();
            return new PendingStep(session.Id, tracked, tracked.Scanner.Changes(), tracked.FirstStep);
        }
        catch
        {
            tracked.Gate.Exit();
            throw;
        }
    }

    /// <summary>
    /// <see cref="Observe"/> for a session that runs, and no step for any other. A scan that fails gives no step either
    /// (the event is recorded all the same, and its changes go with the next step) and is reported to <paramref name="failed"/>.
    /// </summary>
    public PendingStep TryObserve(SessionRecord? session, Action<Exception> failed)
    {
        if (session is not { Status: SessionStatus.Running })
        {
            return PendingStep.None;
        }
        try
        {
            return Observe(session);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SqliteException)
        {
            failed(e);
            return PendingStep.None;
        }
    }

    /// <summary>The session's files now (scanned, not yet recorded: the call's own step records them).</summary>
    public WorkspaceTree Current(SessionRecord session)
    {
        var tracked = TrackedOf(session);
        lock (tracked.Gate)
        {
            tracked.Scanner.Refresh();
            return WorkspaceTree.From(tracked.Scanner.Working);
        }
    }

    /// <inheritdoc cref="HistoryStore.Changes"/>
    public IReadOnlyList<FileChange> Changes(string sessionId, long fromSeq, long toSeq, IReadOnlyCollection<string>? paths = null) =>
        store.Changes(sessionId, fromSeq, toSeq, paths);

    /// <summary>
    /// Puts <paramref name="changes"/> into the session's workspace (restore, a fork's first files), and tells its scanner
    /// what it wrote, so the step that records them does not read them back.
    /// </summary>
    /// <param name="intoNewWorkspace">A fork's new workspace, which no process uses yet (see <see cref="WorkspaceWriter.Apply"/>).</param>
    public void Write(SessionRecord session, Workspace.WorkspaceLocation workspace, IReadOnlyList<FileChange> changes, bool intoNewWorkspace = false)
    {
        var written = WorkspaceWriter.Apply(workspace, changes, store, intoNewWorkspace);
        var tracked = TrackedOf(session);
        lock (tracked.Gate)
        {
            tracked.Scanner.Prime(written);
        }
    }

    /// <summary>Stops watching a session's workspace (destroyed, lost). Its recorded history stays.</summary>
    public void Forget(string sessionId)
    {
        if (_sessions.TryRemove(sessionId, out var tracked))
        {
            lock (tracked.Gate)
            {
                tracked.Scanner.Dispose();
            }
        }
    }

    public void Dispose()
    {
        foreach (var id in _sessions.Keys)
        {
            Forget(id);
        }
    }

    private Tracked TrackedOf(SessionRecord session) => _sessions.GetOrAdd(session.Id, _ =>
    {
        var scanner = new WorkspaceScanner(session.WorkspaceHostPath, options, IsStored);
        // A session recorded before (this server restarted): the first walk finds what changed since its last step.
        var last = store.LastStep(session.Id);
        if (last is { } seq)
        {
            scanner.Seed(store.TreeAt(session.Id, seq));
        }
        return new Tracked(scanner) { FirstStep = last is null };
    });

    private bool IsStored(string hash)
    {
        if (_stored.ContainsKey(hash))
        {
            return true;
        }
        if (!store.HasBlob(hash))
        {
            return false;
        }
        if (_stored.Count >= MaxRememberedBlobs)
        {
            _stored.Clear();
        }
        _stored[hash] = true;
        return true;
    }

    /// <summary>One session's scanner and the lock its steps take.</summary>
    internal sealed class Tracked(WorkspaceScanner scanner)
    {
        public Lock Gate { get; } = new();

        public WorkspaceScanner Scanner { get; } = scanner;

        /// <summary>No step of this session is recorded yet: the next one is its baseline.</summary>
        public bool FirstStep { get; set; }
    }
}

/// <summary>
/// One step's workspace change, ready to be written with its event. Holds its session's lock until disposed.
/// </summary>
internal sealed class PendingStep : IDisposable
{
    public static readonly PendingStep None = new(null, null, [], false);

    private readonly string? _sessionId;
    private readonly WorkspaceHistory.Tracked? _tracked;
    private bool _disposed;

    internal PendingStep(string? sessionId, WorkspaceHistory.Tracked? tracked, IReadOnlyList<FileChange> changes, bool baseline)
    {
        _sessionId = sessionId;
        _tracked = tracked;
        Changes = changes;
        Baseline = baseline;
        Notes = tracked?.Scanner.Notes.ToList() ?? [];
    }

    public IReadOnlyList<FileChange> Changes { get; }

    /// <summary>The session's first recorded step: its changes are the whole workspace as history first saw it.</summary>
    public bool Baseline { get; }

    public IReadOnlyList<string> Notes { get; }

    public bool IsEmpty => Changes.Count == 0 && Notes.Count == 0 && !Baseline;

    /// <summary>The step as the event's summary states it (null when nothing changed): counts and the rows' digest.</summary>
    public JsonObject? Summary()
    {
        if (_tracked is null || IsEmpty)
        {
            return null;
        }
        var summary = new JsonObject();
        foreach (var group in Changes.GroupBy(c => c.Kind).OrderBy(g => g.Key))
        {
            summary[HistoryStore.ChangeName(group.Key)] = group.Count();
        }
        if (Baseline)
        {
            summary["baseline"] = true;
        }
        if (Notes.Count > 0)
        {
            summary["notes"] = new JsonArray([.. Notes.Select(n => (JsonNode)n)]);
        }
        summary["digest"] = HistoryStore.Digest(Changes);
        return summary;
    }

    /// <summary>Writes the step's rows as part of the transaction that appends event <paramref name="seq"/>.</summary>
    public void Write(SqliteConnection connection, SqliteTransaction transaction, long seq)
    {
        if (_tracked is null || _sessionId is null || (Changes.Count == 0 && !Baseline))
        {
            return;
        }
        HistoryStore.Insert(connection, transaction, _sessionId, seq, Changes, _tracked.Scanner.NewBlobs);
    }

    /// <summary>After the event committed: the scanner starts the next step from here.</summary>
    public void Committed()
    {
        if (_tracked is null)
        {
            return;
        }
        _tracked.Scanner.ClearTouched();
        _tracked.FirstStep = false;
    }

    public void Dispose()
    {
        if (_disposed || _tracked is null)
        {
            return;
        }
        _disposed = true;
        _tracked.Gate.Exit();
    }
}
