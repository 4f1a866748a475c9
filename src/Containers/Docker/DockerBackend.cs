using System.Collections.Concurrent;
using System.Text.Json;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Containers.Docker.Pool;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// One hardened container per session (<see cref="ContainerSpec"/>), its workspace a host directory bind-mounted at
/// /workspace, and commands run through a helper kept attached inside it (<see cref="SessionHelper"/>). The engine is
/// only needed when a docker session is used: local sessions never wait on it.
/// </summary>
internal sealed partial class DockerBackend(DockerBackendOptions options, ILogger<DockerBackend> logger) : ISessionBackend, IJobHost, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, DockerJob>> _jobs = new(StringComparer.Ordinal);
    private readonly Lazy<DockerEngineClient> _engine = new(() => DockerEngineClient.Create(options.Endpoint));
    private readonly ConcurrentDictionary<string, SessionHelper> _helpers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _helperLocks = new(StringComparer.Ordinal);

    public string Name => "docker";

    private readonly Lock _poolLock = new();
    private WarmPool? _pool;
    private int _sweptLeftovers;

    private DockerEngineClient Engine => _engine.Value;

    /// <summary>The warm pool (made on first use, so a server that makes no docker session never starts it).</summary>
    internal WarmPool Pool
    {
        get
        {
            lock (_poolLock)
            {
                return _pool ??= new WarmPool(options, () => Engine, ContainerUser, logger);
            }
        }
    }

    /// <summary>What the warm pool holds; null while it was never used.</summary>
    public PoolStatus? PoolStatus => _pool?.Status();

    public async Task<ProvisionedSession> CreateAsync(NewSessionSpec spec, CancellationToken cancellationToken)
    {
        // A bad limit or network is the caller's mistake whatever the engine's state: say so first.
        var shape = PoolShape.Of(options, spec);
        var image = shape.Image;
        var (user, uid, gid) = ContainerUser();
        var sessionDir = Path.Combine(options.SessionsDir, spec.SessionId);
        var workspace = Path.Combine(sessionDir, "workspace");
        if (workspace.IndexOfAny([':', ',']) >= 0)
        {
            throw new SessionException($"the server's data directory {options.DataDir} contains ':' or ',', which a Docker bind mount cannot express; start the server with another --data-dir");
        }
        WorkspaceSeeding.SecureSessionsRoot(options.SessionsDir);
        // A session with a disk quota never takes a pool container: the quota is a filesystem mounted onto the workspace
        // directory before the container exists, and a pool slot's directory is already bind-mounted into its container
        // (a mount made over it afterwards is not seen inside: the bind mount is private). It is created cold instead.
        if (spec.DiskMb is null && Pool.TryClaim(shape, out var pooled))
        {
            return await BindAsync(pooled, spec, sessionDir, workspace, uid, gid, cancellationToken).ConfigureAwait(false);
        }
        // The engine looks the image up while the workspace is made: a cold create waits for the slower of the two.
        var inspecting = Call(() => Engine.InspectImageAsync(image, cancellationToken));
        string? containerId = null;
        try
        {
            try
            {
                if (spec.DiskMb is { } diskMb)
                {
                    // Mounted before the copy and before the container exists, so both land on the size-limited filesystem.
                    WorkspaceQuota.Create(sessionDir, workspace, diskMb, uid, gid);
                }
                if (spec.SourceDir is not null)
                {
                    WorkspaceSeeding.CopyDirectory(spec.SourceDir, workspace, spec.MaxSourceBytes, uid, gid, spec.SourceSkip);
                }
                else
                {
                    WorkspaceSeeding.CreateEmpty(workspace, uid, gid);
                }
            }
            catch
            {
                // Observed, so that an engine failure behind the seeding's own does not go unobserved.
                await inspecting.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
                throw;
            }
            var imageInfo = await inspecting.ConfigureAwait(false);

            containerId = await StartContainerAsync(spec, image, imageInfo.ID, user, workspace, id =>
            {
                containerId = id;
                Track(spec.SessionId, id);
            }, cancellationToken).ConfigureAwait(false);
            return Provisioned(spec, imageInfo, workspace, containerId);
        }
        catch
        {
            // Leave nothing behind for a session that was never registered.
            if (containerId is not null)
            {
                await TryRemoveContainerAsync(containerId).ConfigureAwait(false);
            }
            if (_helpers.TryRemove(spec.SessionId, out var helper))
            {
                await helper.DisposeAsync().ConfigureAwait(false);
            }
            Untrack(spec.SessionId);
            ReleaseQuota(sessionDir, workspace);
            TryDeleteDirectory(sessionDir);
            throw;
        }
    }

    /// <summary>
    /// Gives a pool's container to a session: its never-used workspace directory becomes the session's (a rename: the
    /// bind mount follows the directory), then the source is seeded into it, the container takes the session's name
    /// and its PID 1 is told to stay. Nothing else ran in it but its helper, which the session takes over.
    /// </summary>
    private async Task<ProvisionedSession> BindAsync(
        PooledContainer pooled, NewSessionSpec spec, string sessionDir, string workspace, int? uid, int? gid, CancellationToken cancellationToken)
    {
        // Known as the session's from here on: a reap while it is bound must not take it for a leftover of the pool.
        Track(spec.SessionId, pooled.Id);
        try
        {
            // One rename: the slot's workspace and control directories become the session's.
            Directory.Move(pooled.SlotDirectory, sessionDir);
            // The engine keeps the bind sources it was given (the slot's paths) and resolves them again whenever the
            // container starts (a restart, a hibernated session resumed): the slot's path leads to the session's.
            File.CreateSymbolicLink(pooled.SlotDirectory, sessionDir);
            Pool.MarkClaimed(Path.Combine(sessionDir, "control"));
            if (spec.SourceDir is not null)
            {
                WorkspaceSeeding.CopyDirectory(spec.SourceDir, workspace, spec.MaxSourceBytes, uid, gid, spec.SourceSkip);
            }
            // Not awaited: the engine writes the container's config to disk for a rename, which would double a pooled
            // create's time; nothing of the server finds a container by name (the session records its id).
            _ = RenameAsync(pooled.Id, $"session-mcp-{spec.SessionId}");
            _helpers[spec.SessionId] = pooled.Helper;
            return Provisioned(spec, pooled.Image, workspace, pooled.Id);
        }
        catch
        {
            _helpers.TryRemove(spec.SessionId, out _);
            Untrack(spec.SessionId);
            await pooled.Helper.DisposeAsync().ConfigureAwait(false);
            await TryRemoveContainerAsync(pooled.Id).ConfigureAwait(false);
            RemoveSlotLink(pooled.SlotDirectory);
            TryDeleteDirectory(pooled.SlotDirectory);
            TryDeleteDirectory(sessionDir);
            throw;
        }
    }

    private async Task RenameAsync(string containerId, string name)
    {
        try
        {
            await Engine.RenameContainerAsync(containerId, name).ConfigureAwait(false);
        }
        catch (DockerEngineException e)
        {
            LogRenameFailed(logger, e, containerId, name);
        }
    }

    /// <summary>The session's starting environment (the helper applies it to every command; the container has none of it).</summary>
    private static ProvisionedSession Provisioned(NewSessionSpec spec, ImageInspectResponse imageInfo, string workspace, string containerId)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = ImageVariable(imageInfo, "PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ["HOME"] = ContainerSpec.WorkspacePath,
            ["LANG"] = "C.UTF-8",
            ["TERM"] = "dumb",
        };
        foreach (var (key, value) in spec.Env)
        {
            env[key] = value;
        }
        return new ProvisionedSession(workspace, ContainerSpec.WorkspacePath, env, JsonSerializer.Serialize(new BackendState(containerId, spec.Image, spec.Network, spec.Limits)));
    }

    /// <summary>
    /// Creates the session's container on <paramref name="workspace"/>, starts it and its helper; returns the container's
    /// ID (told to <paramref name="created"/> as soon as it exists, so a failure after it can remove it). Also what a
    /// restart on failure runs, on the same workspace.
    /// </summary>
    private async Task<string> StartContainerAsync(NewSessionSpec spec, string image, string imageId, string user, string workspace, Action<string> created, CancellationToken cancellationToken)
    {
        var shellDirectory = HelperShell.HostDirectory(options.DataDir, imageId);
        var request = ContainerSpec.Build(options, spec, image, user, workspace, shellDirectory);
        var containerId = await Call(() => Engine.CreateContainerAsync(request, $"session-mcp-{spec.SessionId}", cancellationToken)).ConfigureAwait(false);
        created(containerId);
        // Taken from the container before it starts: nothing of the session has run in it yet.
        await Call(() => HelperShell.EnsureAsync(Engine, containerId, shellDirectory, cancellationToken)).ConfigureAwait(false);
        await Call(() => Engine.StartContainerAsync(containerId, cancellationToken)).ConfigureAwait(false);
        _helpers[spec.SessionId] = await Call(() => SessionHelper.StartAsync(Engine, containerId, HelperLayout.Sealed, logger, cancellationToken)).ConfigureAwait(false);
        return containerId;
    }

    public async Task<ExecOutcome> ExecAsync(SessionRecord session, ExecRequest request, CancellationToken cancellationToken)
    {
        if (request.Stdin is { } stdin && stdin.Contains('\0'))
        {
            throw new SessionException("stdin contains a NUL byte, which docker sessions cannot pass; write the data to a file with session_write_file and redirect from it");
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var (helper, restartReason) = await HelperAsync(session, cancellationToken).ConfigureAwait(false);
        var environment = new Dictionary<string, string>(request.SessionEnv, StringComparer.Ordinal);
        foreach (var (key, value) in request.CallEnv)
        {
            environment[key] = value;
        }

        HelperCommandResult result;
        try
        {
            result = await helper.RunAsync(request.Cwd, request.Command, request.Stdin, environment, request.Timeout, request.Stdout, request.Stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (HelperDiedException e)
        {
            LogHelperDied(logger, e, session.Id);
            await ThrowIfContainerGoneAsync(session, cancellationToken).ConfigureAwait(false);
            throw new SessionException($"the connection to session {session.Id}'s container broke while the command ran ({e.Message}); its outcome is unknown. Check with another session_exec (the next call reconnects)");
        }

        var state = ShellWrapper.ParseState(result.StateText);
        state?.Env.Remove(HelperScript.CommandMarkerVariable);
        var notes = new List<string>();
        if (restartReason is HelperProtocolException violation)
        {
            notes.Add($"the session's in-container helper was dropped because {violation.Message}; it was restarted for this command, and what the session's earlier commands had left running was killed (cwd and exported variables are kept by the server)");
        }
        else if (restartReason is not null)
        {
            notes.Add("the session's in-container helper had stopped; it was restarted for this command, and what the session's earlier commands had left running was killed (cwd and exported variables are kept by the server)");
        }
        if (result.OomKills > 0 || result.HitProcessLimit)
        {
            var limits = await LimitsAsync(session, cancellationToken).ConfigureAwait(false);
            if (result.OomKills > 0)
            {
                notes.Add(OomNote(result, limits?.Memory));
            }
            if (result.HitProcessLimit)
            {
                notes.Add($"the session hit its process limit ({(limits?.PidsLimit is > 0 and var pids ? $"{pids:N0} processes, pids_limit" : "its container's pids_limit")}): forks failed with 'Resource temporarily unavailable' (EAGAIN); this command's processes and what they started were killed, so the session is usable again");
            }
        }
        if (result.StateTooLarge)
        {
            notes.Add(SessionStateLimits.StateFileTooLarge);
        }
        return new ExecOutcome(
            result.ExitCode,
            result.TimedOut,
            System.Diagnostics.Stopwatch.GetElapsedTime(started),
            state?.Cwd,
            state?.Env,
            notes.Count == 0 ? null : string.Join("; ", notes));
    }

    /// <summary>
    /// Says that the kernel killed for memory, with the session's limit: a bare exit 137 looks like any SIGKILL. The
    /// counter is the container's, so with commands running side by side the victim may be another one's process.
    /// </summary>
    private static string OomNote(HelperCommandResult result, long? limit)
    {
        var what = result.ExitCode == 137
            ? "killed by the kernel for running out of memory (OOM, SIGKILL)"
            : $"out of memory: the kernel's OOM killer killed {(result.OomKills == 1 ? "a process" : $"{result.OomKills} processes")} while it ran";
        return $"the command was {what}; the session's memory limit is {DescribeLimit(limit)}. Use less memory at once, or create a session with a larger memory_mb";
    }

    /// <summary>The container's limits as the engine has them, for notes; null when the engine cannot say.</summary>
    private async Task<HostConfig?> LimitsAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        try
        {
            return (await Engine.InspectContainerAsync(ContainerId(session), cancellationToken).ConfigureAwait(false)).HostConfig;
        }
        catch (DockerEngineException e)
        {
            LogInspectFailed(logger, e, session.Id);
            return null;
        }
    }

    private static string DescribeLimit(long? bytes) =>
        bytes is > 0 ? $"{bytes.Value / (1024 * 1024)} MiB" : "its container's memory limit";

    public async Task<IRunningJob> StartJobAsync(SessionRecord session, JobLaunch launch, IJobSink sink, CancellationToken cancellationToken)
    {
        var (helper, _) = await HelperAsync(session, cancellationToken).ConfigureAwait(false);
        var containerId = ContainerId(session);
        var stateFile = launch.StateFile ? $"{helper.Layout.ScratchDir}/{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))}.state" : "/dev/null";
        var command = launch.Terminal is null
            ? HelperScript.JobCommand(helper.HelperNames, launch.Env, launch.JobId, stateFile, launch.Cwd, launch.Command)
            : HelperScript.TerminalCommand(helper.HelperNames, launch.Env, launch.JobId, launch.Cwd, launch.Command);
        var jobs = _jobs.GetOrAdd(session.Id, _ => new ConcurrentDictionary<string, DockerJob>(StringComparer.Ordinal));
        var job = await Call(() => DockerJob.StartAsync(
            Engine, containerId, command, sink,
            async (job, signal) =>
            {
                var (current, _) = await HelperAsync(session, CancellationToken.None).ConfigureAwait(false);
                if (signal is { } sent)
                {
                    await current.SignalAsync(sent switch { JobSignal.Interrupt => "INT", JobSignal.Quit => "QUIT", _ => "TSTP" }, job.ContainerPid, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await current.KillJobAsync(job.ContainerPid, launch.JobId, job.StartTick).ConfigureAwait(false);
                }
            },
            async () => launch.StateFile ? await ReadJobStateAsync(containerId, stateFile).ConfigureAwait(false) : null,
            cancellationToken,
            launch.Terminal)).ConfigureAwait(false);
        jobs[launch.JobId] = job;
        await TellHelperJobsAsync(session.Id, helper).ConfigureAwait(false);
        _ = job.Completion.ContinueWith(async _ =>
        {
            jobs.TryRemove(launch.JobId, out DockerJob? _);
            if (_helpers.TryGetValue(session.Id, out var current) && current.IsAlive)
            {
                await TellHelperJobsAsync(session.Id, current).ConfigureAwait(false);
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return job;
    }

    /// <summary>The live jobs' shells, which a timeout's sweep must spare.</summary>
    private IEnumerable<int> LiveJobPids(string sessionId) =>
        _jobs.TryGetValue(sessionId, out var jobs) ? jobs.Values.Where(j => j.ContainerPid > 1 && !j.Completion.IsCompleted).Select(j => j.ContainerPid) : [];

    private async Task TellHelperJobsAsync(string sessionId, SessionHelper helper)
    {
        try
        {
            await helper.SetJobsAsync(LiveJobPids(sessionId), CancellationToken.None).ConfigureAwait(false);
        }
        catch (HelperDiedException)
        {
            // The next helper learns them when it starts.
        }
    }

    /// <summary>A finished job's shell state, read once (and removed), never more than the state limit.</summary>
    private async Task<(string Cwd, Dictionary<string, string> Env)?> ReadJobStateAsync(string containerId, string stateFile)
    {
        try
        {
            var output = await Engine.RunExecAsync(containerId, ["/bin/sh", "-c", $"head -c {SessionStateLimits.MaxStateBytes + 1} \"$0\"; rm -f \"$0\"", stateFile]).ConfigureAwait(false);
            if (output.Stdout.Length > SessionStateLimits.MaxStateBytes || ShellWrapper.ParseState(output.Stdout) is not { } state)
            {
                return null;
            }
            state.Env.Remove(HelperScript.CommandMarkerVariable);
            return state;
        }
        catch (DockerEngineException)
        {
            return null;
        }
    }

    public WorkspaceLocation GetWorkspace(SessionRecord session)
    {
        var (_, uid, gid) = ContainerUser();
        return new WorkspaceLocation(session.WorkspaceHostPath, ContainerSpec.WorkspacePath, uid, gid);
    }

    public async Task<ProbeResult> ProbeAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var state = await InspectAsync(session, cancellationToken).ConfigureAwait(false);
        return state is null
            ? new ProbeResult(SessionStatus.Lost, $"its container {ContainerId(session)[..12]} was removed")
            : state.State?.Running == true
                ? new ProbeResult(SessionStatus.Running, $"container {ContainerId(session)[..12]} is running")
                : new ProbeResult(SessionStatus.Lost, Describe(state));
    }

    public async Task DestroyAsync(SessionRecord session, bool keepWorkspace, CancellationToken cancellationToken)
    {
        if (_helpers.TryRemove(session.Id, out var helper))
        {
            await helper.DisposeAsync().ConfigureAwait(false);
        }
        if (session.Status != SessionStatus.Lost || await InspectAsync(session, cancellationToken).ConfigureAwait(false) is not null)
        {
            // Its end is the server's own doing: the engine's die event must not read as a failure.
            _ending.TryAdd(ContainerId(session), 0);
            await Call(() => RemoveContainerAsync(ContainerId(session), cancellationToken)).ConfigureAwait(false);
        }
        var sessionDir = Path.Combine(options.SessionsDir, session.Id);
        if (!keepWorkspace)
        {
            ReleaseQuota(sessionDir, session.WorkspaceHostPath);
            TryDeleteDirectory(sessionDir);
        }
        RemoveSlotLinksTo(sessionDir);
        Untrack(session.Id);
    }

    public async Task<int> ReapOrphansAsync(IReadOnlyCollection<SessionRecord> sessions, CancellationToken cancellationToken)
    {
        // A hibernated session's container is stopped, not left over.
        var live = sessions.Where(s => s.Backend == Name && s.Status is SessionStatus.Running or SessionStatus.Hibernated).ToList();
        var liveSessions = live.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        // A session made from the warm pool keeps the pool's labels (the engine cannot relabel): its id is in its state.
        var liveContainers = live.Select(s => TryContainerId(s)).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var session in live)
        {
            Track(session.Id, TryContainerId(session));
        }
        var mine = await Call(() => Engine.ListContainersAsync(
            new Dictionary<string, string?> { [ContainerSpec.DataDirLabel] = options.DataDir }, all: true, cancellationToken)).ConfigureAwait(false);
        // A container being made for a session not registered yet (a pool container's age is not the claim's) is live too.
        var known = sessions.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        bool IsLiveSessions(ContainerListResponse container) =>
            liveContainers.Contains(container.ID) || ContainerSpec.Label(container.Labels, ContainerSpec.SessionLabel) is { } id && liveSessions.Contains(id);
        bool IsLive(ContainerListResponse container) =>
            IsLiveSessions(container) || _sessionsByContainer.TryGetValue(container.ID, out var owner) && !known.Contains(owner);
        var reaped = 0;
        var removed = new HashSet<string>(StringComparer.Ordinal);
        // Only the first reap of this process sweeps: later ones run while this server's own commands run in them.
        var sweep = Interlocked.Exchange(ref _sweptLeftovers, 1) == 0;
        foreach (var container in mine.Where(c => sweep && c.State == "running" && IsLiveSessions(c)))
        {
            // A live session's container: what the previous server's commands left running dies before any new helper.
            try
            {
                await SweepAsync(container.ID, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerEngineException e)
            {
                LogSweepFailed(logger, e, ContainerSpec.Label(container.Labels, ContainerSpec.SessionLabel) ?? container.ID);
            }
        }
        foreach (var container in mine)
        {
            var sessionId = ContainerSpec.Label(container.Labels, ContainerSpec.SessionLabel);
            var pooled = ContainerSpec.Label(container.Labels, ContainerSpec.PoolLabel) is not null;
            // A young container may belong to a session another server process on this data dir is still registering,
            // or to that process's warm pool (whose heartbeat keeps it running); a stopped pool container is nobody's.
            var age = DateTimeOffset.UtcNow - new DateTimeOffset(DateTime.SpecifyKind(container.Created, DateTimeKind.Utc));
            if (IsLive(container) || (_pool?.Owns(container.ID) ?? false) || (age < options.OrphanGracePeriod && !(pooled && container.State != "running")))
            {
                continue;
            }
            await TryRemoveContainerAsync(container.ID).ConfigureAwait(false);
            LogReaped(logger, container.ID, sessionId ?? (pooled ? "warm pool" : "?"));
            removed.Add(container.ID);
            reaped++;
        }
        RemoveStaleSlots(mine.Where(c => !removed.Contains(c.ID)).ToList());
        if (options.PrewarmDefaultShape && options.PoolSize > 0)
        {
            Pool.Want(PoolShape.Default(options));
        }
        return reaped;
    }

    /// <summary>Slot directories of the warm pool whose container is gone (older than the grace period).</summary>
    private void RemoveStaleSlots(IReadOnlyList<ContainerListResponse> containers)
    {
        var root = Path.Combine(options.DataDir, "pool");
        if (!Directory.Exists(root))
        {
            return;
        }
        var names = containers.SelectMany(c => c.Names ?? []).Select(n => n.TrimStart('/')).ToHashSet(StringComparer.Ordinal);
        foreach (var slot in new DirectoryInfo(root).EnumerateFileSystemInfos())
        {
            if (slot.LinkTarget is { } target)
            {
                // A claimed slot: its link goes when its session's directory has gone.
                if (!Directory.Exists(target))
                {
                    RemoveSlotLink(slot.FullName);
                }
                continue;
            }
            if (!names.Contains($"session-mcp-pool-{slot.Name}") && DateTime.UtcNow - slot.CreationTimeUtc >= options.OrphanGracePeriod)
            {
                TryDeleteDirectory(slot.FullName);
            }
        }
    }

    /// <summary>The warm pool's links to a destroyed session's directory (see <see cref="BindAsync"/>).</summary>
    private void RemoveSlotLinksTo(string sessionDir)
    {
        var root = Path.Combine(options.DataDir, "pool");
        if (!Directory.Exists(root))
        {
            return;
        }
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget == sessionDir)
            {
                RemoveSlotLink(entry.FullName);
            }
        }
    }

    private static void RemoveSlotLink(string path)
    {
        try
        {
            if (new FileInfo(path).LinkTarget is not null)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next start's sweep.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_pool is { } pool)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
        }
        foreach (var helper in _helpers.Values)
        {
            await helper.DisposeAsync().ConfigureAwait(false);
        }
        if (_engine.IsValueCreated)
        {
            _engine.Value.Dispose();
        }
    }

    /// <summary>
    /// The session's live helper, started (again) when there is none. When this process's helper died, says why, and
    /// first kills what its commands left running: their outcome was already reported as unknown, and a process that
    /// wrote into the helper's streams must not outlive it.
    /// </summary>
    private async Task<(SessionHelper Helper, HelperDiedException? RestartReason)> HelperAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        if (_helpers.TryGetValue(session.Id, out var current) && current.IsAlive)
        {
            return (current, null);
        }
        var gate = _helperLocks.GetOrAdd(session.Id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_helpers.TryGetValue(session.Id, out current) && current.IsAlive)
            {
                return (current, null);
            }
            var reason = current?.DeathReason;
            if (current is not null)
            {
                await current.DisposeAsync().ConfigureAwait(false);
            }
            var container = await ThrowIfContainerGoneAsync(session, cancellationToken).ConfigureAwait(false);
            if (current is not null)
            {
                await Call(() => SweepAsync(ContainerId(session), cancellationToken, LiveJobPids(session.Id))).ConfigureAwait(false);
            }
            var layout = ContainerSpec.HelperLayoutOf(container);
            if (layout == HelperLayout.Legacy)
            {
                LogLegacyHelper(logger, session.Id);
            }
            var helper = await Call(() => SessionHelper.StartAsync(Engine, ContainerId(session), layout, logger, cancellationToken)).ConfigureAwait(false);
            _helpers[session.Id] = helper;
            Track(session.Id, ContainerId(session));
            await TellHelperJobsAsync(session.Id, helper).ConfigureAwait(false);
            return (helper, reason ?? (current is null ? null : new HelperDiedException("the helper stopped")));
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ContainerInspectResponse> ThrowIfContainerGoneAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var state = await InspectAsync(session, cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            throw new SessionLostException($"its container {ContainerId(session)[..12]} was removed outside session-mcp");
        }
        if (state.State?.Running != true)
        {
            throw new SessionLostException(Describe(state));
        }
        return state;
    }

    private async Task<ContainerInspectResponse?> InspectAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        try
        {
            return await Call(() => Engine.InspectContainerAsync(ContainerId(session), cancellationToken)).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
    }

    internal static string Describe(ContainerInspectResponse container) => container.State switch
    {
        { OOMKilled: true } state => $"its container was OOM-killed: it used more memory than the session's limit of {DescribeLimit(container.HostConfig?.Memory)} (memory_mb) at {FinishedAt(state):u}, exit code {state.ExitCode}",
        { } state => $"its container stopped ({state.Status}, exit code {state.ExitCode}{(state.ExitCode == 137 ? ", killed" : "")}) at {FinishedAt(state):u}",
        null => "its container reports no state",
    };

    /// <summary>The engine's RFC 3339 stop time (0001-01-01 until the container has stopped once).</summary>
    private static DateTimeOffset FinishedAt(State state) =>
        DateTimeOffset.TryParse(state.FinishedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at.ToUniversalTime() : default;

    private static string? TryContainerId(SessionRecord session)
    {
        try
        {
            return session.BackendState is null ? null : JsonSerializer.Deserialize<BackendState>(session.BackendState)?.ContainerId;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string ContainerId(SessionRecord session) =>
        (session.BackendState is null ? null : JsonSerializer.Deserialize<BackendState>(session.BackendState))?.ContainerId
        ?? throw new SessionException($"session {session.Id} has no container recorded");

    /// <summary>The container's user: the configured one when the server is root, else the server's own (so both can write the bind mount).</summary>
    private (string User, int? Uid, int? Gid) ContainerUser()
    {
        if (Libc.GetEuid() != 0)
        {
            return ($"{Libc.GetEuid()}:{Libc.GetEgid()}", null, null);
        }
        var parts = options.User.Split(':');
        var uid = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var gid = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : uid;
        if (uid == 0)
        {
            throw new SessionException("the docker backend refuses to run sessions as root; configure a non-root user");
        }
        return (options.User, uid, gid);
    }

    /// <summary>Kills every process in the container but PID 1's keep-alive (<see cref="HelperScript.SweepCommand"/>).</summary>
    private async Task SweepAsync(string containerId, CancellationToken cancellationToken, IEnumerable<int>? keep = null) =>
        await Engine.RunExecAsync(containerId, HelperScript.SweepCommand(keep), cancellationToken: cancellationToken).ConfigureAwait(false);

    private async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await Engine.RemoveContainerAsync(containerId, force: true, removeVolumes: true, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
        }
    }

    private async Task TryRemoveContainerAsync(string containerId)
    {
        try
        {
            await RemoveContainerAsync(containerId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DockerEngineException e)
        {
            LogRemoveFailed(logger, e, containerId);
        }
    }

    /// <summary>The one boundary where engine failures become messages for the model.</summary>
    private static async Task<T> Call<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            throw;
        }
        catch (DockerEngineException e)
        {
            throw new SessionException(e.Message, e);
        }
    }

    private static async Task Call(Func<Task> action) => await Call(async () =>
    {
        await action().ConfigureAwait(false);
        return 0;
    }).ConfigureAwait(false);

    private static string? ImageVariable(ImageInspectResponse image, string name) =>
        image.Config?.Env?.FirstOrDefault(e => e.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];

    private static void TryDeleteDirectory(string directory) => WorkspaceRemoval.RemoveTree(directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Helper of session {SessionId} died")]
    private static partial void LogHelperDied(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session {SessionId}'s container predates the sealed helper: its processes can forge its commands' results; recreate the session to seal it")]
    private static partial void LogLegacyHelper(ILogger logger, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not kill what was left running in session {SessionId}'s container")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the limits of session {SessionId}'s container")]
    private static partial void LogInspectFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed orphan container {ContainerId} (session {SessionId})")]
    private static partial void LogReaped(ILogger logger, string containerId, string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not rename pooled container {ContainerId} to {Name}")]
    private static partial void LogRenameFailed(ILogger logger, Exception exception, string containerId, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove container {ContainerId}")]
    private static partial void LogRemoveFailed(ILogger logger, Exception exception, string containerId);

    /// <summary>The session's container, and what it was created with (for a restart on failure; null in older sessions: the defaults).</summary>
    private sealed record BackendState(string ContainerId, string? Image = null, string? Network = null, ResourceLimits? Limits = null);
}
