using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// Hibernation, health and restart of docker sessions. Hibernation <em>stops</em> the container rather than pausing it:
/// a paused container keeps all its memory (and its PID and tmpfs pages) charged to the host, which is what an idle
/// session should give back; a stopped one holds nothing but its workspace on disk. The price is a cold start and a new
/// helper on wake (measured in docs/benchmarks.md), and that what ran in it ends: nothing should, as only a session with
/// no call and no running job is hibernated.
/// </summary>
internal sealed partial class DockerBackend : ILifecycleBackend
{
    /// <summary>How long a helper may take to answer a liveness check before the check counts as unanswered.</summary>
    internal static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(5);

    private ContainerLifecycle? _lifecycleCalls;

    // Containers this server is stopping or removing itself: their die events are not failures.
    private readonly ConcurrentDictionary<string, byte> _ending = new(StringComparer.Ordinal);

    // Which session a container serves, from the session's state: a container taken from the warm pool keeps the pool's
    // labels (the engine cannot relabel) and gets the session's name only asynchronously, so its events carry no session.
    private readonly ConcurrentDictionary<string, string> _sessionsByContainer = new(StringComparer.Ordinal);

    /// <summary>The lifecycle's engine calls, on this backend's one client (made on first use, as the client is).</summary>
    private ContainerLifecycle Lifecycle => LazyInitializer.EnsureInitialized(ref _lifecycleCalls, () => new ContainerLifecycle(options, () => Engine));

    /// <summary>Remembers that <paramref name="containerId"/> is <paramref name="sessionId"/>'s, for its engine events.</summary>
    private void Track(string sessionId, string? containerId)
    {
        if (containerId is not null)
        {
            _sessionsByContainer[containerId] = sessionId;
        }
    }

    private void Untrack(string sessionId)
    {
        foreach (var (containerId, owner) in _sessionsByContainer)
        {
            if (owner == sessionId)
            {
                _sessionsByContainer.TryRemove(containerId, out _);
            }
        }
    }

    public async Task<string> HibernateAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var containerId = ContainerId(session);
        if (_helpers.TryRemove(session.Id, out var helper))
        {
            await helper.DisposeAsync().ConfigureAwait(false);
        }
        _ending.TryAdd(containerId, 0);
        await Lifecycle.StopAsync(containerId, cancellationToken).ConfigureAwait(false);
        return "the container was stopped: any process still running in it ended and its /tmp was emptied (no command or job was running)";
    }

    public async Task<string?> WakeAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var containerId = ContainerId(session);
        var running = await Lifecycle.IsRunningAsync(containerId, cancellationToken).ConfigureAwait(false)
            ?? throw new SessionLostException($"its container {containerId[..12]} was removed while the session was hibernated");
        if (!running)
        {
            await Lifecycle.StartAsync(containerId, cancellationToken).ConfigureAwait(false);
            await RestoreTmpfsModesAsync(containerId, cancellationToken).ConfigureAwait(false);
        }
        _ending.TryRemove(containerId, out _);
        // The helper too, so the first command after waking pays nothing more (and the resume time measures it all).
        await HelperAsync(session, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The engine remounts a restarted container's tmpfs mounts without their <c>mode=</c> option (root-owned 0755), so the
    /// session's user could no longer write /tmp nor the helper its scratch: set the modes <see cref="ContainerSpec"/> gives
    /// them again, as root in the container (its own directories: no capability needed).
    /// </summary>
    private async Task RestoreTmpfsModesAsync(string containerId, CancellationToken cancellationToken)
    {
        foreach (var (mode, path) in new[] { ("1777", "/tmp"), ("1733", HelperLayout.Sealed.ScratchDir) })
        {
            var result = await Call(() => Engine.RunExecAsync(containerId, ["chmod", mode, path], user: "0", cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                LogModeNotRestored(logger, containerId, path, result.Stderr.Trim());
            }
        }
    }

    public async Task<BackendFailure?> CheckHealthAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        if (_helpers.TryGetValue(session.Id, out var helper) && helper.IsAlive)
        {
            return await helper.PingAsync(HealthTimeout, cancellationToken).ConfigureAwait(false)
                ? null
                : new BackendFailure(session.Id, string.Create(CultureInfo.InvariantCulture,
                    $"its in-container helper stopped answering (no answer to a liveness check within {HealthTimeout.TotalSeconds:0} s, twice in a row): it hangs (stopped, or starved of CPU or memory)"),
                    Fatal: true, OutOfMemory: false, ExitCode: null, Hung: true);
        }
        // No helper here to ask (or it died, which the next call mends): is the container itself still there?
        var containerId = ContainerId(session);
        Track(session.Id, containerId);
        if (_ending.ContainsKey(containerId) || await Lifecycle.IsRunningAsync(containerId, cancellationToken).ConfigureAwait(false) == true)
        {
            return null;
        }
        var end = await Lifecycle.EndOfAsync(containerId, cancellationToken).ConfigureAwait(false);
        return end is null
            ? new BackendFailure(session.Id, $"its container {containerId[..12]} was removed outside session-mcp", Fatal: true, OutOfMemory: false, ExitCode: null)
            : new BackendFailure(session.Id, DescribeEnd(end), Fatal: true, OutOfMemory: end.OomKilled, ExitCode: (int)end.ExitCode);
    }

    public async Task<string?> RestartAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        var state = State(session);
        if (_helpers.TryRemove(session.Id, out var helper))
        {
            await helper.DisposeAsync().ConfigureAwait(false);
        }
        _ending.TryAdd(state.ContainerId, 0);
        await Call(() => RemoveContainerAsync(state.ContainerId, cancellationToken)).ConfigureAwait(false);

        var spec = new NewSessionSpec(session.Id, session.Name, new Dictionary<string, string>(), null, state.Image, state.Network, state.Limits);
        var image = state.Image ?? options.DefaultImage;
        var (user, _, _) = ContainerUser();
        var imageInfo = await Call(() => Engine.InspectImageAsync(image, cancellationToken)).ConfigureAwait(false);
        WorkspaceQuota.EnsureMounted(Path.Combine(options.SessionsDir, session.Id), session.WorkspaceHostPath);
        string? containerId = null;
        try
        {
            containerId = await StartContainerAsync(spec, image, imageInfo.ID, user, session.WorkspaceHostPath, id => containerId = id, cancellationToken).ConfigureAwait(false);
        }
        catch when (containerId is not null)
        {
            await TryRemoveContainerAsync(containerId).ConfigureAwait(false);
            throw;
        }
        _sessionsByContainer.TryRemove(state.ContainerId, out _);
        Track(session.Id, containerId);
        LogRestarted(logger, session.Id, containerId);
        return JsonSerializer.Serialize(state with { ContainerId = containerId });
    }

    public async IAsyncEnumerable<BackendFailure> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in Lifecycle.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            // A pooled session's container is labelled as the pool's: its session is known by the container's id.
            var sessionId = e.SessionId ?? _sessionsByContainer.GetValueOrDefault(e.ContainerId);
            if (sessionId is null || _ending.ContainsKey(e.ContainerId))
            {
                continue;
            }
            if (e.Action == "oom")
            {
                var limit = await Lifecycle.EndOfAsync(e.ContainerId, cancellationToken).ConfigureAwait(false);
                yield return new BackendFailure(sessionId,
                    $"the kernel's OOM killer killed a process in its container (memory limit {DescribeLimit(limit?.MemoryLimit)}, memory_mb)", Fatal: false, OutOfMemory: true, ExitCode: null);
                continue;
            }
            var end = await Lifecycle.EndOfAsync(e.ContainerId, cancellationToken).ConfigureAwait(false);
            yield return end is null
                ? new BackendFailure(sessionId, $"its container {e.ContainerId[..12]} died and was removed (exit code {e.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "unknown"})", Fatal: true, OutOfMemory: false, ExitCode: e.ExitCode)
                : new BackendFailure(sessionId, DescribeEnd(end), Fatal: true, OutOfMemory: end.OomKilled, ExitCode: (int)end.ExitCode);
        }
    }

    /// <summary>Why a container ended, for the event and session_list: OOM, else its exit code and the signal it implies.</summary>
    internal static string DescribeEnd(ContainerLifecycle.ContainerEnd end)
    {
        var at = end.FinishedAt is { Length: > 0 } finished ? $" at {finished}" : "";
        if (end.OomKilled)
        {
            return $"its container was OOM-killed: it used more memory than the session's limit of {DescribeLimit(end.MemoryLimit)} (memory_mb){at}, exit code {end.ExitCode.ToString(CultureInfo.InvariantCulture)}";
        }
        var signal = end.ExitCode > 128 && end.ExitCode < 160 ? (int)(end.ExitCode - 128) : (int?)null;
        var bySignal = signal is { } number ? $", killed by signal {number.ToString(CultureInfo.InvariantCulture)}{SignalName(number)}" : "";
        return $"its container died (exit code {end.ExitCode.ToString(CultureInfo.InvariantCulture)}{bySignal}){at}";
    }

    private static string SignalName(int signal) => signal switch
    {
        9 => " (SIGKILL)",
        15 => " (SIGTERM)",
        6 => " (SIGABRT)",
        11 => " (SIGSEGV)",
        2 => " (SIGINT)",
        1 => " (SIGHUP)",
        _ => "",
    };

    private static BackendState State(SessionRecord session) =>
        (session.BackendState is null ? null : JsonSerializer.Deserialize<BackendState>(session.BackendState))
        ?? throw new SessionException($"session {session.Id} has no container recorded");

    /// <summary>Unmounts the workspace's quota filesystem (if any) before its directory is removed.</summary>
    private void ReleaseQuota(string sessionDir, string workspace)
    {
        try
        {
            WorkspaceQuota.Release(sessionDir, workspace);
        }
        catch (Exception e) when (e is SessionException or IOException)
        {
            LogQuotaReleaseFailed(logger, e, sessionDir);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recreated session {SessionId}'s container after a failure: {ContainerId}")]
    private static partial void LogRestarted(ILogger logger, string sessionId, string containerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not restore the mode of {Path} in container {ContainerId}: {Reason}")]
    private static partial void LogModeNotRestored(ILogger logger, string containerId, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not release the disk quota of {SessionDir}")]
    private static partial void LogQuotaReleaseFailed(ILogger logger, Exception exception, string sessionDir);
}
