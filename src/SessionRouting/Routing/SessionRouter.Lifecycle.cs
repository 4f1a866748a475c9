using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Routing;

/// <summary>
/// The life of a session between calls: idle and hibernated (its resource released while nobody uses it, woken by the
/// next call), failures the server notices on its own (engine events, a helper that stops answering) with an optional
/// restart, disk quotas on workspaces, and how many sessions may exist.
/// </summary>
internal sealed partial class SessionRouter
{
    public const string RestartOnFailure = "on-failure";

    /// <summary>Consecutive unanswered liveness checks after which a helper counts as hung.</summary>
    private const int HungAfterChecks = 2;

    // Calls running on a session right now (foreground commands, job starts): a session is never hibernated under them.
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    // Hibernating, waking and restarting one session never overlap, and a call waits for them.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _lifecycleLocks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _unanswered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SessionHealth> _health = new(StringComparer.Ordinal);

    /// <summary>What the last health check found of a running session (its resource there, its helper answering); null
    /// before the first check.</summary>
    public SessionHealth? HealthOf(string sessionId) => _health.TryGetValue(sessionId, out var health) ? health : null;

    /// <summary>
    /// The state a model sees: the stored one, except that a running session with no call in flight, no running job and
    /// no activity for <see cref="SessionRouterOptions.IdleAfter"/> is <c>idle</c>.
    /// </summary>
    public string DisplayStatus(SessionRecord session) => IsIdle(session, options.IdleAfter) ? "idle" : session.StatusText;

    /// <summary>The same from another process (the <c>sessions</c> command), which sees no calls or jobs in flight.</summary>
    public static string DisplayStatus(SessionRecord session, TimeSpan idleAfter, DateTimeOffset now) =>
        session.Status == SessionStatus.Running && now - session.LastActivityAt >= idleAfter ? "idle" : session.StatusText;

    private bool IsIdle(SessionRecord session, TimeSpan after) =>
        session.Status == SessionStatus.Running
        && time.GetUtcNow() - session.LastActivityAt >= after
        && _inFlight.GetValueOrDefault(session.Id) == 0
        && !jobs.List(session.Id).Any(j => !j.Finished.IsCompleted);

    /// <summary>Counts a call on the session as in flight until disposed.</summary>
    private InFlight Busy(string sessionId)
    {
        _inFlight.AddOrUpdate(sessionId, 1, (_, n) => n + 1);
        return new InFlight(this, sessionId);
    }

    private readonly struct InFlight(SessionRouter router, string sessionId) : IDisposable
    {
        public void Dispose()
        {
            // Removed at zero, so a call naming no real session leaves nothing behind.
            if (router._inFlight.AddOrUpdate(sessionId, 0, (_, n) => Math.Max(0, n - 1)) == 0)
            {
                router._inFlight.TryRemove(new KeyValuePair<string, int>(sessionId, 0));
            }
        }
    }

    /// <summary>Refuses a new session past the server's limits, naming the limit and how to free a slot.</summary>
    private void CheckSessionLimits(CallContext caller)
    {
        var held = registry.List().Where(s => s.Status != SessionStatus.Stopped).ToList();
        if (options.MaxSessions > 0 && held.Count >= options.MaxSessions)
        {
            throw new SessionException($"this server holds its limit of {options.MaxSessions} sessions (--max-sessions; running, idle, hibernated and lost ones count); destroy one you no longer need with session_destroy (session_list shows them), or ask the operator to raise the limit");
        }
        var owner = caller.Principal.Name;
        var own = held.Count(s => string.Equals(s.Owner, owner, StringComparison.OrdinalIgnoreCase));
        if (options.MaxSessionsPerOwner > 0 && own >= options.MaxSessionsPerOwner)
        {
            var who = owner == Principal.LocalName ? "the local user" : $"token '{owner}'";
            throw new SessionException($"{who} holds its limit of {options.MaxSessionsPerOwner} sessions (--max-sessions-per-owner; running, idle, hibernated and lost ones count); destroy one you no longer need with session_destroy (session_list shows them) to free a slot");
        }
    }

    /// <summary>The disk quota a new session gets (its own or the server's default), checked; null: none.</summary>
    private long? DiskQuotaOf(NewSessionRequest request)
    {
        var mb = request.DiskMb ?? options.DefaultDiskMb;
        if (mb is null or 0)
        {
            return null;
        }
        if (mb < WorkspaceQuota.MinimumMb)
        {
            throw new SessionException($"disk_mb must be at least {WorkspaceQuota.MinimumMb} (the filesystem's own metadata needs a few MiB), got {mb}");
        }
        if (WorkspaceQuota.Unavailable() is { } reason)
        {
            throw new SessionException(request.DiskMb is null
                ? $"this server gives every session a disk quota (--disk-mb), but quotas are unavailable: {reason}; the operator must fix that or unset --disk-mb"
                : $"disk quotas are unavailable on this server: {reason}; create the session without disk_mb");
        }
        return mb;
    }

    /// <summary>A note for a command's result when it left the session's workspace full.</summary>
    private static ExecOutcome WithQuotaNote(SessionRecord session, ExecOutcome outcome) =>
        session.DiskMb is { } diskMb && WorkspaceQuota.NearlyFull(session.WorkspaceHostPath, diskMb) is { } left
            ? outcome with { Note = SessionStateLimits.Join(outcome.Note, WorkspaceQuota.FullNote(diskMb, left)) }
            : outcome;

    /// <summary>
    /// The session as a command needs it: woken when it is hibernated (which the caller waits for), re-read after any
    /// hibernation or restart in progress has finished.
    /// </summary>
    private async Task<SessionRecord> AwakeAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var gate = _lifecycleLocks.GetOrAdd(session.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = registry.Find(session.Id) ?? session;
            if (current.Status != SessionStatus.Hibernated)
            {
                return current.Status == SessionStatus.Running ? current
                    : throw new SessionException(current.Status == SessionStatus.Lost ? LostMessage(current, current.StatusDetail) : $"session {current.Id} was destroyed; create a new session with session_create");
            }
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var backend = BackendOf(current);
            WorkspaceQuota.EnsureMounted(SessionDirOf(current), current.WorkspaceHostPath);
            string? state = null;
            try
            {
                state = backend is ILifecycleBackend lifecycle ? await lifecycle.WakeAsync(current, cancellationToken).ConfigureAwait(false) : null;
            }
            catch (SessionLostException lost)
            {
                var failed = registry.Update(current.Id, s => s with { Status = SessionStatus.Lost, StatusDetail = lost.Detail });
                RecordLifecycle(AuditKinds.SessionLost, failed, new { detail = lost.Detail });
                throw new SessionException(LostMessage(failed, lost.Detail), lost);
            }
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            var woken = registry.Update(current.Id, s => s with { Status = SessionStatus.Running, StatusDetail = null, BackendState = state ?? s.BackendState, LastActivityAt = time.GetUtcNow() });
            RecordLifecycle(AuditKinds.SessionWoken, woken, new { resume_ms = Math.Round(elapsed.TotalMilliseconds, 1) });
            return woken;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Hibernates every session idle for <see cref="SessionRouterOptions.HibernateAfter"/>; returns how many.</summary>
    public async Task<int> HibernateIdleAsync(CancellationToken cancellationToken)
    {
        if (options.HibernateAfter <= TimeSpan.Zero)
        {
            return 0;
        }
        var count = 0;
        foreach (var session in registry.List().Where(s => IsIdle(s, options.HibernateAfter)))
        {
            if (await HibernateAsync(session.Id, cancellationToken).ConfigureAwait(false))
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>
    /// Releases an idle session's resource now (docker: stops its container), if it is still running and idle when the
    /// lock is taken. Returns whether it did.
    /// </summary>
    public async Task<bool> HibernateAsync(string sessionId, CancellationToken cancellationToken)
    {
        var gate = _lifecycleLocks.GetOrAdd(sessionId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var session = registry.Find(sessionId);
            if (session is null || session.Status != SessionStatus.Running || _inFlight.GetValueOrDefault(sessionId) > 0 || jobs.List(sessionId).Any(j => !j.Finished.IsCompleted))
            {
                return false;
            }
            var idleFor = time.GetUtcNow() - session.LastActivityAt;
            // First the state, so the engine's report of the stop is not taken for a failure.
            var hibernated = registry.Update(sessionId, s => s with { Status = SessionStatus.Hibernated, StatusDetail = $"hibernated after {Math.Round(idleFor.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s without a call; the next command resumes it with its cwd, exported variables and workspace (processes left running in it were ended)" });
            string lostWhat;
            try
            {
                lostWhat = BackendOf(session) is ILifecycleBackend lifecycle
                    ? await lifecycle.HibernateAsync(session, cancellationToken).ConfigureAwait(false)
                    : "nothing: a local session keeps no process between commands";
            }
            catch (SessionException e)
            {
                // The engine could not stop it: it keeps running, and the next sweep tries again.
                registry.Update(sessionId, s => s with { Status = SessionStatus.Running, StatusDetail = null });
                LogHibernateFailed(logger, sessionId, e.Message);
                return false;
            }
            RecordLifecycle(AuditKinds.SessionHibernated, hibernated, new { idle_seconds = Math.Round(idleFor.TotalSeconds), kept = "workspace, cwd, exported variables", lost = lostWhat });
            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Asks each running session's backend whether it still answers; a helper silent twice running counts as hung.</summary>
    public async Task CheckHealthAsync(CancellationToken cancellationToken)
    {
        foreach (var session in registry.List().Where(s => s.Status == SessionStatus.Running))
        {
            if (!_backends.TryGetValue(session.Backend, out var backend) || backend is not ILifecycleBackend lifecycle)
            {
                continue;
            }
            BackendFailure? problem;
            try
            {
                problem = await lifecycle.CheckHealthAsync(session, cancellationToken).ConfigureAwait(false);
            }
            catch (SessionException)
            {
                // Engine unreachable: not the session's fault; its calls say what fails.
                continue;
            }
            _health[session.Id] = new SessionHealth(problem is null ? "ok" : problem.Hung ? "not answering" : "failing", time.GetUtcNow(), problem?.Detail);
            if (problem is null)
            {
                _unanswered.TryRemove(session.Id, out _);
                continue;
            }
            if (!problem.Hung || _unanswered.AddOrUpdate(session.Id, 1, (_, n) => n + 1) >= HungAfterChecks)
            {
                _unanswered.TryRemove(session.Id, out _);
                await HandleFailureAsync(problem, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// What the engine (or a liveness check) reported about a session: an OOM kill the session survived is audited;
    /// a dead or hung session is restarted (restart: on-failure) or marked lost, and audited with the reason either way.
    /// </summary>
    /// <param name="failedState">The backend state the failure is about, when known: a session that has another one by now was restarted already.</param>
    public async Task HandleFailureAsync(BackendFailure failure, CancellationToken cancellationToken, string? failedState = null)
    {
        var gate = _lifecycleLocks.GetOrAdd(failure.SessionId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var session = registry.Find(failure.SessionId);
            // Hibernated, destroyed or already lost: the server stopped it itself, or has said so already.
            if (session is null || session.Status != SessionStatus.Running || (failedState is not null && session.BackendState != failedState))
            {
                return;
            }
            if (!failure.Fatal)
            {
                RecordLifecycle(AuditKinds.SessionOom, session, new { detail = failure.Detail, oom = failure.OutOfMemory });
                return;
            }
            if (session.RestartPolicy == RestartOnFailure && BackendOf(session) is ILifecycleBackend lifecycle)
            {
                try
                {
                    // Jobs of the old container end with it (their streams close) and stay readable: not ended here.
                    var state = await lifecycle.RestartAsync(session, cancellationToken).ConfigureAwait(false);
                    // Running again even if a probe (session_list) marked it lost while it was being recreated.
                    var restarted = registry.Update(session.Id, s => s with { Status = SessionStatus.Running, BackendState = state ?? s.BackendState, StatusDetail = $"restarted after a failure: {failure.Detail}" });
                    RecordLifecycle(AuditKinds.SessionRestarted, restarted, new
                    {
                        reason = failure.Detail,
                        oom = failure.OutOfMemory,
                        exit_code = failure.ExitCode,
                        restart = RestartOnFailure,
                        kept = "workspace, cwd, exported variables",
                        lost = "every process and job that was running in the old container",
                    });
                    return;
                }
                catch (SessionException e)
                {
                    failure = failure with { Detail = $"{failure.Detail}; restarting it failed: {e.Message}" };
                }
            }
            var lost = registry.Update(session.Id, s => s with { Status = SessionStatus.Lost, StatusDetail = failure.Detail });
            RecordLifecycle(AuditKinds.SessionLost, lost, new { detail = failure.Detail, oom = failure.OutOfMemory, exit_code = failure.ExitCode });
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// A call found the session's resource gone: the session is restarted (restart: on-failure) or marked lost, as when
    /// the engine reports it, and the caller gets an error saying which.
    /// </summary>
    private async Task<SessionException> FailedUnderCallAsync(SessionRecord session, SessionLostException lost, CancellationToken cancellationToken)
    {
        if (session.RestartPolicy != RestartOnFailure)
        {
            MarkLost(session, lost.Detail);
            return new SessionException(LostMessage(session, lost.Detail), lost);
        }
        await HandleFailureAsync(new BackendFailure(session.Id, lost.Detail, Fatal: true, OutOfMemory: false, ExitCode: null), cancellationToken, session.BackendState).ConfigureAwait(false);
        var now = registry.Find(session.Id);
        return now?.Status == SessionStatus.Running
            ? new SessionException($"session {session.Id}'s container failed under this call ({lost.Detail}); it was recreated on the same workspace (restart: on-failure), with its cwd and exported variables. Run the command again", lost)
            : new SessionException(LostMessage(session, now?.StatusDetail ?? lost.Detail), lost);
    }

    /// <summary>Whether any session of <paramref name="backend"/> is held (not destroyed): only then its engine is watched.</summary>
    public bool HasSessionsOn(string backend) => registry.List().Any(s => s.Backend == backend && s.Status != SessionStatus.Stopped);

    /// <summary>Backends that report failures as they happen.</summary>
    public IEnumerable<(string Name, ILifecycleBackend Backend)> WatchedBackends =>
        _backends.Values.OfType<ILifecycleBackend>().Select(b => (((ISessionBackend)b).Name, b));

    /// <summary>
    /// Removes leftovers of every backend (containers of no live session older than the grace period): run while the
    /// server runs, not only at its start, so none outlives its session by more than that period.
    /// </summary>
    public async Task<int> ReapAsync(CancellationToken cancellationToken)
    {
        var reaped = 0;
        foreach (var backend in _backends.Values)
        {
            // A backend no session ever used has nothing of this server's to reap (and may have no engine at all).
            if (!registry.List().Any(s => s.Backend == backend.Name))
            {
                continue;
            }
            try
            {
                reaped += await backend.ReapOrphansAsync(registry.List(), cancellationToken).ConfigureAwait(false);
            }
            catch (SessionException e)
            {
                LogReapFailed(logger, backend.Name, e.Message);
            }
        }
        return reaped;
    }

    /// <summary>At start: quota images whose mount did not survive a host reboot are mounted again.</summary>
    private void RemountQuotas()
    {
        foreach (var session in registry.List().Where(s => s.DiskMb is not null))
        {
            try
            {
                if (WorkspaceQuota.EnsureMounted(SessionDirOf(session), session.WorkspaceHostPath))
                {
                    LogQuotaRemounted(logger, session.Id);
                }
            }
            catch (SessionException e)
            {
                LogResumeDeferred(logger, session.Id, e.Message);
            }
        }
    }

    /// <summary>The directory that holds a session's workspace (and its quota image): the workspace's parent.</summary>
    private static string SessionDirOf(SessionRecord session) => Path.GetDirectoryName(session.WorkspaceHostPath.TrimEnd('/'))!;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hibernate session {SessionId}: {Reason}")]
    private static partial void LogHibernateFailed(ILogger logger, string sessionId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reap leftovers of backend {Backend}: {Reason}")]
    private static partial void LogReapFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mounted the disk quota of session {SessionId}'s workspace again")]
    private static partial void LogQuotaRemounted(ILogger logger, string sessionId);
}
