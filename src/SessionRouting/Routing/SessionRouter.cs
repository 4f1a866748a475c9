using System.Text.Json;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Routing;

/// <summary>
/// Routes every session operation by session ID: looks the session up in the registry, hands it to its backend, and
/// persists what changed. Lifecycle changes (created, destroyed, lost, resumed) are audited here. Every operation a
/// caller asks for names the caller (<see cref="CallContext"/>): this is where it is decided which sessions it sees and
/// may use (<see cref="AccessPolicy"/>); backends never learn who calls.
/// </summary>
internal sealed partial class SessionRouter(
    SessionRegistry registry,
    AuditLog audit,
    IEnumerable<ISessionBackend> backends,
    SessionRouterOptions options,
    TimeProvider time,
    JobManager jobs,
    SessionShares shares,
    TokenStore tokens,
    WorkspaceHistory history,
    ILogger<SessionRouter> logger)
{
    private readonly Dictionary<string, ISessionBackend> _backends = backends.ToDictionary(b => b.Name, StringComparer.Ordinal);

    public SessionRouterOptions Options => options;

    public JobManager Jobs => jobs;

    public IReadOnlyCollection<string> BackendNames => _backends.Keys;

    /// <summary>
    /// Every session the caller can see, after asking the backend of each running one whether its resource is still
    /// there, so a container that was killed shows as lost here rather than at the next command.
    /// </summary>
    public async Task<IReadOnlyList<SessionRecord>> ListAsync(CallContext caller, CancellationToken cancellationToken)
    {
        foreach (var session in Visible(caller, registry.List()).Where(s => s.Status == SessionStatus.Running))
        {
            if (!_backends.TryGetValue(session.Backend, out var backend))
            {
                continue;
            }
            try
            {
                var probe = await backend.ProbeAsync(session, cancellationToken).ConfigureAwait(false);
                if (probe.Status == SessionStatus.Lost && session.RestartPolicy == RestartOnFailure)
                {
                    await HandleFailureAsync(new BackendFailure(session.Id, probe.Detail ?? "its backend resource disappeared", Fatal: true, OutOfMemory: false, ExitCode: null), cancellationToken, session.BackendState).ConfigureAwait(false);
                }
                else if (probe.Status == SessionStatus.Lost)
                {
                    MarkLost(session, probe.Detail ?? "its backend resource disappeared");
                }
            }
            catch (SessionException)
            {
                // Backend unreachable: the status stays as last known; calls on the session say why they fail.
            }
        }
        return Visible(caller, registry.List());
    }

    /// <summary>
    /// What each of <paramref name="sessions"/> that runs uses now (processes, memory, CPU time), asked of their backends
    /// at once and for at most two seconds: a listing never waits on a slow engine.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, SessionUsage>> UsageAsync(IEnumerable<SessionRecord> sessions, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(2));
        var asked = sessions
            .Where(s => s.Status == SessionStatus.Running && _backends.TryGetValue(s.Backend, out var b) && b is IUsageBackend)
            .Select(async s =>
            {
                try
                {
                    return (s.Id, Usage: await ((IUsageBackend)_backends[s.Backend]).UsageAsync(s, deadline.Token).ConfigureAwait(false));
                }
                catch (Exception e) when (e is OperationCanceledException or SessionException)
                {
                    return (s.Id, Usage: (SessionUsage?)null);
                }
            });
        var results = await Task.WhenAll(asked).ConfigureAwait(false);
        return results.Where(r => r.Usage is not null).ToDictionary(r => r.Id, r => r.Usage!, StringComparer.Ordinal);
    }

    private IReadOnlyList<SessionRecord> Visible(CallContext caller, IReadOnlyList<SessionRecord> sessions) =>
        caller.Principal.Scope == AccessScope.Admin ? sessions : AccessPolicy.Visible(caller.Principal, sessions, shares.SharedWith(caller.Principal.Name));

    /// <summary>A new session, owned by the caller.</summary>
    public async Task<SessionRecord> CreateAsync(NewSessionRequest request, CallContext caller, CancellationToken cancellationToken)
    {
        var backendName = request.Backend ?? options.DefaultBackend;
        if (!_backends.TryGetValue(backendName, out var backend))
        {
            throw new SessionException($"unknown backend '{backendName}'; available: {string.Join(", ", _backends.Keys.Order())}");
        }
        foreach (var name in request.Env.Keys)
        {
            if (!ShellExports.IsValidName(name))
            {
                throw new SessionException($"env name '{name}' is not a valid shell variable name (letters, digits and _; not starting with a digit)");
            }
        }
        if (SessionStateLimits.Violation(request.Env) is { } tooLarge)
        {
            throw new SessionException($"env is too large to persist: {tooLarge}; put large data in a file (session_write_file) instead");
        }

        if (request.RestartPolicy is not (null or RestartOnFailure))
        {
            throw new SessionException($"restart must be \"{RestartOnFailure}\" or left out, got \"{request.RestartPolicy}\"");
        }
        if (request.RestartPolicy is not null && backend is not ILifecycleBackend)
        {
            throw new SessionException($"restart applies to sessions with a container (backend \"docker\"); a {backend.Name} session keeps no process to restart between commands");
        }
        var sourceDir = request.SourceDir is null ? null : WorkspaceSeeding.CheckSource(request.SourceDir, options.SourceRoots, options.DataDir);
        return await ProvisionAsync(backend, request, sourceDir, new SessionOrigin(sourceDir, null, null), caller, new { backend = backend.Name, name = request.Name }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes the session on its backend, registers it and records its creation with the workspace it starts from (its
    /// baseline: every file, as history first sees it).
    /// </summary>
    private async Task<SessionRecord> ProvisionAsync(ISessionBackend backend, NewSessionRequest request, string? seedDir, SessionOrigin origin, CallContext caller, object summary, CancellationToken cancellationToken, WorkspaceTree? seedFiles = null)
    {
        // A fork is a new session too: it counts against the limits and gets the quota its request (or the server) says.
        CheckSessionLimits(caller);
        var diskMb = DiskQuotaOf(request);
        var id = SessionId.New();
        var provisioned = await backend.CreateAsync(
            new NewSessionSpec(id, request.Name, request.Env, seedDir, request.Image, request.Network, request.Limits, options.MaxSourceBytes,
                seedDir is null || options.DataDir is null ? null : Libc.CanonicalPath(options.DataDir), diskMb, request.RestartPolicy),
            cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var session = new SessionRecord(
            id, request.Name, backend.Name, SessionStatus.Running,
            provisioned.WorkspaceHostPath, provisioned.WorkspacePath, provisioned.WorkspacePath,
            provisioned.Env, now, now, provisioned.BackendState, null) { Owner = caller.Principal.Name, Origin = origin, RestartPolicy = request.RestartPolicy, DiskMb = diskMb };
        if (seedFiles is not null)
        {
            try
            {
                // Written straight into the new workspace, as its user: no copy of a copy.
                history.Write(session, backend.GetWorkspace(session), TreeDelta.Between(WorkspaceTree.Empty, seedFiles), intoNewWorkspace: true);
            }
            catch
            {
                history.Forget(session.Id);
                await backend.DestroyAsync(session, keepWorkspace: false, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
        registry.Add(session);
        var created = JsonSerializer.SerializeToNode(summary)!.AsObject();
        created["workdir"] = session.WorkspacePath;
        if (request.RestartPolicy is not null)
        {
            created["restart"] = request.RestartPolicy;
        }
        if (diskMb is not null)
        {
            created["disk_mb"] = diskMb;
        }
        using var baseline = history.Observe(session);
        RecordLifecycle(AuditKinds.SessionCreated, session, created, caller, baseline);
        return session;
    }

    /// <summary>
    /// A new session whose workspace is <paramref name="sessionId"/>'s files right after event <paramref name="atSeq"/>
    /// (null: as they are now, copied from its workspace, ignored directories included), on any backend. The fork knows
    /// its parent and fork point, and keeps the parent's source directory, so its work exports against the same project.
    /// </summary>
    public async Task<(SessionRecord Fork, long ForkSeq)> ForkAsync(CallContext caller, string sessionId, long? atSeq, string? name, string? backendName, CancellationToken cancellationToken)
    {
        var parent = Get(caller, sessionId);
        var backend = BackendOrDefault(backendName ?? parent.Backend);
        var request = new NewSessionRequest(backend.Name, name, new Dictionary<string, string>(), null);
        if (atSeq is { } seq)
        {
            RequireStep(parent, seq);
            var files = history.Store.TreeAt(parent.Id, seq);
            // Refused before anything is made: a file known only by its hash cannot be put in the fork.
            if (files.Where(f => !f.Value.Stored).Select(f => $"{f.Key} ({f.Value.Size} bytes)").ToList() is { Count: > 0 } missing)
            {
                throw new SessionException($"the content of {missing.Count} file(s) at event {seq} is not in the history (larger than the stored-file limit, or pruned): {string.Join(", ", missing.Take(20))}; fork at a later event or now");
            }
            var fork = await ProvisionAsync(backend, request, null, new SessionOrigin(parent.Origin.SourceDir, parent.Id, seq), caller,
                new { backend = backend.Name, name, forked_from = parent.Id, fork_seq = seq }, cancellationToken, seedFiles: files).ConfigureAwait(false);
            return (fork, seq);
        }
        if (parent.Status != SessionStatus.Running || !Directory.Exists(parent.WorkspaceHostPath))
        {
            throw new SessionException($"session {parent.Id} is {parent.StatusText} and its workspace is gone; fork it at an event instead (at_seq; session_replay lists them)");
        }
        var now = audit.ReadLast(1, parent.Id) is [var last] ? last.Seq : 0;
        var copy = await ProvisionAsync(backend, request, parent.WorkspaceHostPath, new SessionOrigin(parent.Origin.SourceDir, parent.Id, now), caller,
            new { backend = backend.Name, name, forked_from = parent.Id, fork_seq = now }, cancellationToken).ConfigureAwait(false);
        return (copy, now);
    }

    /// <summary>
    /// Puts the session's files back to their state right after event <paramref name="toSeq"/> (files only: running jobs
    /// go on). Returns the changes it makes (or, with <paramref name="dryRun"/>, would make); the call's own event records them.
    /// </summary>
    public IReadOnlyList<FileChange> Restore(CallContext caller, string sessionId, long toSeq, bool dryRun)
    {
        var session = GetRunning(caller, sessionId);
        RequireStep(session, toSeq);
        var target = history.Store.TreeAt(session.Id, toSeq);
        var changes = TreeDelta.Between(history.Current(session), target);
        if (!dryRun && changes.Count > 0)
        {
            history.Write(session, WorkspaceOf(session), changes);
        }
        return changes;
    }

    /// <summary>Refuses a sequence number that is not one of the session's events with recorded history up to it.</summary>
    private void RequireStep(SessionRecord session, long seq)
    {
        if (audit.ReadSession(session.Id, seq, 1) is not [var found] || found.Seq != seq)
        {
            throw new SessionException($"event {seq} is not an event of session {session.Id}; session_replay lists its events and their seq");
        }
        if (history.Store.Start(session.Id) is not { } start || seq < start)
        {
            throw new SessionException($"session {session.Id} has no workspace history up to event {seq} (it began before history was recorded, or history is off); pick a later event");
        }
    }

    private ISessionBackend BackendOrDefault(string name) =>
        _backends.TryGetValue(name, out var backend)
            ? backend
            : throw new SessionException($"unknown backend '{name}'; available: {string.Join(", ", _backends.Keys.Order())}");

    /// <summary>
    /// The session, if the caller may use it as its call needs, or an error that tells the model what exists. A session
    /// the caller may not see is "unknown", word for word as one that does not exist, so its existence does not leak.
    /// </summary>
    public SessionRecord Get(CallContext caller, string sessionId)
    {
        if (!SessionId.IsWellFormed(sessionId))
        {
            throw new UnknownSessionException($"'{sessionId}' is not a session ID (they look like s-7k2m9xq4); session_list shows the existing sessions");
        }
        var session = registry.Find(sessionId);
        var access = session is null ? SessionAccess.None : AccessOf(caller, session);
        if (session is null || access == SessionAccess.None)
        {
            throw new UnknownSessionException($"no session '{sessionId}'; session_list shows the existing sessions, session_create makes a new one");
        }
        if (access < caller.Needs)
        {
            throw new SessionException(AccessPolicy.ToolRefusal(caller.Principal, caller.Tool ?? "this call")
                ?? $"session {sessionId} is shared with {caller.Principal.Description} read-only; {caller.Tool ?? "this call"} needs full access");
        }
        return session;
    }

    private SessionAccess AccessOf(CallContext caller, SessionRecord session) =>
        caller.Principal.Scope == AccessScope.Admin
            ? SessionAccess.Full
            : AccessPolicy.AccessTo(caller.Principal, session.Owner, shares.Of(session.Id, caller.Principal.Name));

    /// <summary>A session that can run commands now, or an error saying why not.</summary>
    public SessionRecord GetRunning(CallContext caller, string sessionId)
    {
        var session = Get(caller, sessionId);
        return session.Status switch
        {
            // A hibernated session's files are on the host as ever; a command wakes it (AwakeAsync).
            SessionStatus.Running or SessionStatus.Hibernated => session,
            SessionStatus.Lost => throw new SessionException(LostMessage(session, session.StatusDetail)),
            _ => throw new SessionException($"session {sessionId} was destroyed; create a new session with session_create"),
        };
    }

    public ISessionBackend BackendOf(SessionRecord session) =>
        _backends.TryGetValue(session.Backend, out var backend)
            ? backend
            : throw new SessionException($"session {session.Id} uses backend '{session.Backend}', which this server does not have enabled");

    public WorkspaceLocation WorkspaceOf(SessionRecord session) => BackendOf(session).GetWorkspace(session);

    public async Task<(SessionRecord Session, ExecOutcome Outcome)> ExecAsync(CallContext caller, string sessionId, ExecCommand command, CancellationToken cancellationToken)
    {
        using var busy = Busy(sessionId);
        var session = await AwakeAsync(GetRunning(caller, sessionId), cancellationToken).ConfigureAwait(false);
        var backend = BackendOf(session);
        var startCwd = StartCwd(session, command.Cwd);

        ExecOutcome outcome;
        try
        {
            outcome = await backend.ExecAsync(session, new ExecRequest(
                command.Command, startCwd, session.Env, command.Env, command.Stdin, command.Timeout, command.Stdout, command.Stderr), cancellationToken).ConfigureAwait(false);
        }
        catch (SessionLostException lost)
        {
            throw await FailedUnderCallAsync(session, lost, cancellationToken).ConfigureAwait(false);
        }

        return ApplyOutcome(session, startCwd, command.Env, WithQuotaNote(session, outcome));
    }

    /// <summary>
    /// Starts <paramref name="command"/> as a job on the session's backend: from the session's cwd (or the call's) and
    /// env plus the call's. With <paramref name="keepsState"/>, its cwd and exports can be applied to the session if it
    /// ends while the caller still waits (a foreground call that may be handed over at its timeout).
    /// </summary>
    public async Task<(JobManager.Job Job, string StartCwd)> StartJobAsync(CallContext caller, string sessionId, string command, string? cwd, IReadOnlyDictionary<string, string> env, bool keepsState, CancellationToken cancellationToken, TerminalGeometry? terminal = null)
    {
        using var busy = Busy(sessionId);
        var session = await AwakeAsync(GetRunning(caller, sessionId), cancellationToken).ConfigureAwait(false);
        var backend = BackendOf(session);
        if (backend is not IJobHost host)
        {
            throw new SessionException($"the {backend.Name} backend cannot run background jobs; run the command in the foreground");
        }
        var startCwd = StartCwd(session, cwd);
        var environment = Overlay(session.Env, env);
        try
        {
            if (terminal is not null)
            {
                // Programs on a terminal expect to be told what it can do: the session's TERM=dumb is for pipes.
                environment["TERM"] = "xterm-256color";
            }
            var job = await jobs.StartAsync(session, host, new JobLaunch("", command, startCwd, environment, keepsState, terminal), cancellationToken).ConfigureAwait(false);
            registry.Update(session.Id, s => s with { LastActivityAt = time.GetUtcNow() });
            return (job, startCwd);
        }
        catch (SessionLostException lost)
        {
            throw await FailedUnderCallAsync(session, lost, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Persists the cwd and exports a command ended with (as its shell state file reported them), within the session's
    /// state limits; the outcome gains a note when they were not kept.
    /// </summary>
    public (SessionRecord Session, ExecOutcome Outcome) ApplyOutcome(SessionRecord session, string startCwd, IReadOnlyDictionary<string, string> callEnv, ExecOutcome outcome)
    {
        var startEnv = Overlay(session.Env, callEnv);
        string? notKept = null;
        var updated = registry.Update(session.Id, current =>
        {
            var cwd = outcome.FinalCwd is { } finalCwd && finalCwd != startCwd ? finalCwd : current.Cwd;
            var env = outcome.FinalEnv is { } finalEnv ? ShellStateMerge.Merge(current.Env, startEnv, finalEnv, callEnv) : current.Env;
            notKept = SessionStateLimits.Violation(env);
            return current with
            {
                Cwd = notKept is null ? cwd : current.Cwd,
                Env = notKept is null ? env : current.Env,
                LastActivityAt = time.GetUtcNow(),
                BackendState = outcome.BackendState ?? current.BackendState,
            };
        });
        return (updated, notKept is null ? outcome : outcome with { Note = SessionStateLimits.Join(outcome.Note, SessionStateLimits.NotKept(notKept)) });
    }

    /// <summary>The directory a command starts in: the session's cwd, or the call's own, which must be a workspace directory.</summary>
    private string StartCwd(SessionRecord session, string? cwd)
    {
        if (cwd is null)
        {
            return session.Cwd;
        }
        ResolvedPath resolved;
        try
        {
            resolved = WorkspacePaths.Resolve(BackendOf(session).GetWorkspace(session), ResolveAgainst(session.Cwd, cwd));
        }
        catch (PathPolicyException e)
        {
            throw new SessionException($"cwd '{cwd}' (relative to the session's cwd {session.Cwd}) is refused: {e.Message}");
        }
        if (!Directory.Exists(resolved.HostPath))
        {
            throw new SessionException($"cwd {resolved.VisiblePath} is not a directory in the workspace");
        }
        return resolved.VisiblePath;
    }

    public async Task<SessionRecord> DestroyAsync(CallContext caller, string sessionId, bool keepWorkspace, CancellationToken cancellationToken)
    {
        var session = Get(caller, sessionId);
        if (session.Status == SessionStatus.Stopped)
        {
            throw new SessionException($"session {sessionId} is already destroyed");
        }
        await jobs.EndSessionAsync(sessionId, cancellationToken).ConfigureAwait(false);
        history.Forget(sessionId);
        await BackendOf(session).DestroyAsync(session, keepWorkspace, cancellationToken).ConfigureAwait(false);
        var detail = keepWorkspace ? $"workspace kept at {session.WorkspaceHostPath}" : "workspace removed";
        var updated = registry.Update(sessionId, s => s with { Status = SessionStatus.Stopped, StatusDetail = detail, LastActivityAt = time.GetUtcNow() });
        RecordLifecycle(AuditKinds.SessionDestroyed, updated, new { keep_workspace = keepWorkspace }, caller);
        return updated;
    }

    /// <summary>
    /// Shares a session the caller owns (or, as an admin, any session) with the holder of the token named
    /// <paramref name="tokenName"/>: <paramref name="access"/> read or full, or none to take a share away. Returns the
    /// session, the token's name as stored, and whom the session is shared with now.
    /// </summary>
    public (SessionRecord Session, string Principal, IReadOnlyDictionary<string, SessionAccess> SharedWith) Share(CallContext caller, string sessionId, string tokenName, SessionAccess access)
    {
        var session = Get(caller, sessionId);
        if (!AccessPolicy.MayShare(caller.Principal, session.Owner))
        {
            throw new AccessException($"only the owner of session {sessionId} ({(session.Owner == Principal.LocalName ? "the local user" : $"token '{session.Owner}'")}) or an admin can share it");
        }
        if (string.Equals(tokenName, Principal.LocalName, StringComparison.OrdinalIgnoreCase))
        {
            throw new AccessException("the local user sees every session already; token_name names a token (session-mcp token list)");
        }
        var token = tokens.Find(tokenName)
            ?? throw new AccessException($"no token named '{tokenName}'; the server's operator makes one with 'session-mcp token create --name {tokenName}' (session-mcp token list shows them)");
        if (token.Revoked)
        {
            throw new AccessException($"token '{token.Name}' was revoked; share with a live token");
        }
        if (token.ExpiredAt(time.GetUtcNow()))
        {
            throw new AccessException($"token '{token.Name}' expired at {token.ExpiresAt:yyyy-MM-dd HH:mm:ss}Z; share with a live token");
        }
        if (string.Equals(token.Name, session.Owner, StringComparison.Ordinal))
        {
            throw new AccessException($"token '{token.Name}' owns session {sessionId} already");
        }
        if (access == SessionAccess.None)
        {
            if (!shares.Unshare(session.Id, token.Name))
            {
                throw new AccessException($"session {sessionId} is not shared with token '{token.Name}'; nothing to take back");
            }
        }
        else
        {
            shares.Share(session.Id, token.Name, access);
        }
        return (session, token.Name, shares.Of(session.Id));
    }

    private readonly TaskCompletionSource _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes when <see cref="ResumeAllAsync"/> has finished, whatever its outcome. The server answers
    /// <c>initialize</c> and <c>tools/list</c> at once and lets tool calls wait on this, so start-up never waits for a
    /// Docker engine while no call races the re-attach.
    /// </summary>
    public Task Resumed => _resumed.Task;

    /// <summary>
    /// After a start: re-attaches every running session to its backend; sessions whose resource vanished become lost
    /// (never silently recreated). Completes <see cref="Resumed"/> even when it fails.
    /// </summary>
    public async Task ResumeAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ResumeBackendsAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _resumed.TrySetResult();
        }
    }

    private async Task ResumeBackendsAsync(CancellationToken cancellationToken)
    {
        // Journals stay readable; a job that ran in the previous server process is lost (its processes die with the
        // leftovers each backend kills below).
        jobs.Recover(registry.List().Where(s => s.Status == SessionStatus.Running).Select(s => s.Id).ToHashSet(StringComparer.Ordinal));
        RemountQuotas();
        foreach (var backend in _backends.Values)
        {
            try
            {
                await backend.ReapOrphansAsync(registry.List(), cancellationToken).ConfigureAwait(false);
            }
            catch (SessionException e)
            {
                // Unreachable (engine down): its sessions stay as they are, and calls on them say why they fail.
                // Probing them one by one would only delay the start by a connect timeout each.
                LogResumeDeferred(logger, backend.Name, e.Message);
                continue;
            }
            foreach (var session in registry.List().Where(s => s.Status == SessionStatus.Running && s.Backend == backend.Name))
            {
                ProbeResult probe;
                try
                {
                    probe = await backend.ProbeAsync(session, cancellationToken).ConfigureAwait(false);
                }
                catch (SessionException e)
                {
                    LogResumeDeferred(logger, session.Id, e.Message);
                    continue;
                }
                if (probe.Status == SessionStatus.Lost)
                {
                    MarkLost(session, probe.Detail ?? "its backend resource disappeared while the server was down");
                }
                else
                {
                    var resumed = registry.Update(session.Id, s => s with { BackendState = probe.BackendState ?? s.BackendState });
                    RecordLifecycle(AuditKinds.SessionResumed, resumed, new { detail = probe.Detail });
                }
            }
        }
    }

    /// <summary>Marks a session lost (once) and audits it.</summary>
    public void MarkLost(SessionRecord session, string detail)
    {
        var changed = false;
        var updated = registry.Update(session.Id, s =>
        {
            // A failure of a container the session no longer has (it was restarted meanwhile) is old news.
            if (s.Status != SessionStatus.Running || s.BackendState != session.BackendState)
            {
                return s;
            }
            changed = true;
            return s with { Status = SessionStatus.Lost, StatusDetail = detail };
        });
        if (changed)
        {
            history.Forget(session.Id);
            RecordLifecycle(AuditKinds.SessionLost, updated, new { detail });
        }
    }

    private static string LostMessage(SessionRecord session, string? detail) =>
        $"session {session.Id} is lost: {detail}. Its workspace is kept at {session.WorkspaceHostPath} on the server; create a new session (source_dir can copy that workspace)";

    /// <param name="caller">Who asked for the change; null for what the server finds on its own (lost, resumed).</param>
    /// <param name="step">The workspace change recorded with the event (a new session's baseline).</param>
    private void RecordLifecycle(string kind, SessionRecord session, object summary, CallContext? caller = null, PendingStep? step = null)
    {
        var node = JsonSerializer.SerializeToNode(summary)!.AsObject();
        if (step?.Summary() is { } workspace)
        {
            node["workspace"] = workspace;
        }
        audit.Append(new AuditEntry(time.GetUtcNow(), session.Id, kind, null, null, null, AuditOutcomes.Ok, null,
            node.ToJsonString(), 0, null, caller?.Principal.Name), alongside: step is null ? null : step.Write);
        step?.Committed();
    }

    private static string ResolveAgainst(string cwd, string path) =>
        path.StartsWith('/') ? path : cwd.TrimEnd('/') + "/" + path;

    private static Dictionary<string, string> Overlay(IReadOnlyDictionary<string, string> baseEnv, IReadOnlyDictionary<string, string> overlay)
    {
        var result = new Dictionary<string, string>(baseEnv, StringComparer.Ordinal);
        foreach (var (key, value) in overlay)
        {
            result[key] = value;
        }
        return result;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Subject} not re-attached at start-up: {Reason}")]
    private static partial void LogResumeDeferred(ILogger logger, string subject, string reason);
}

/// <summary>A validated <c>session_create</c>.</summary>
internal sealed record NewSessionRequest(
    string? Backend,
    string? Name,
    IReadOnlyDictionary<string, string> Env,
    string? SourceDir,
    string? Image = null,
    string? Network = null,
    ResourceLimits? Limits = null,
    long? DiskMb = null,
    string? RestartPolicy = null);

/// <summary>A validated <c>session_exec</c>.</summary>
internal sealed record ExecCommand(
    string Command,
    string? Cwd,
    IReadOnlyDictionary<string, string> Env,
    string? Stdin,
    TimeSpan Timeout,
    OutputCapture Stdout,
    OutputCapture Stderr);
