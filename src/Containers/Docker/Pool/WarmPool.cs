using System.Collections.Concurrent;
using System.Globalization;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.Containers.Docker.Pool;

/// <summary>
/// Pre-created, started, hardened and idle containers per <see cref="PoolShape"/>, each with its helper attached, so a
/// session of that shape only binds its workspace (<see cref="TryClaim"/>). Bounded: at most
/// <see cref="DockerBackendOptions.PoolSize"/> ready per shape, <see cref="DockerBackendOptions.PoolMaxShapes"/> shapes
/// (the least recently asked for is dropped), and the ready containers' memory limits together at most
/// <see cref="DockerBackendOptions.PoolMaxMemoryBytes"/>. Refilled in the background, one container at a time so a
/// refill never competes with sessions for more than one core. A container is never handed out twice.
/// </summary>
internal sealed partial class WarmPool : IAsyncDisposable
{
    /// <summary>How long a claim's refill waits (see <see cref="Want"/>).</summary>
    internal static readonly TimeSpan RefillDelay = TimeSpan.FromMilliseconds(500);

    private readonly DockerBackendOptions _options;
    private readonly Func<DockerEngineClient> _engine;
    private readonly Func<(string User, int? Uid, int? Gid)> _user;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<PoolShape, ConcurrentQueue<PooledContainer>> _ready = new();
    private readonly List<PoolShape> _shapes = [];
    private readonly SemaphoreSlim _fill = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Timer _heartbeat;
    private readonly Lock _beatLock = new();
    private long _beat;
    private int _claimed;
    private int _created;
    private int _fillPending;

    public WarmPool(DockerBackendOptions options, Func<DockerEngineClient> engine, Func<(string User, int? Uid, int? Gid)> user, ILogger logger)
    {
        _options = options;
        _engine = engine;
        _user = user;
        _logger = logger;
        _heartbeat = new Timer(_ => Beat(), null, ContainerSpec.PoolHeartbeatInterval, ContainerSpec.PoolHeartbeatInterval);
    }

    /// <summary>Where the slots live: each a directory with the container's fresh workspace and its control directory.</summary>
    public string Root => Path.Combine(_options.DataDir, "pool");

    public bool Enabled => _options.PoolSize > 0;

    /// <summary>Takes a ready container of <paramref name="shape"/>, if there is one whose helper is alive; asks for a refill either way.</summary>
    public bool TryClaim(PoolShape shape, out PooledContainer container)
    {
        container = null!;
        if (!Enabled)
        {
            return false;
        }
        Want(shape, RefillDelay);
        if (_ready.TryGetValue(shape, out var queue))
        {
            while (queue.TryDequeue(out var candidate))
            {
                if (candidate.Helper.IsAlive)
                {
                    Interlocked.Increment(ref _claimed);
                    container = candidate;
                    return true;
                }
                _ = DiscardAsync(candidate);
            }
        }
        return false;
    }

    /// <summary>
    /// Makes <paramref name="shape"/> one the pool keeps ready (the most recent one) and starts a refill, after
    /// <paramref name="delay"/>: a claim's refill waits a moment so that it does not compete with the new session's
    /// first command for the CPU.
    /// </summary>
    public void Want(PoolShape shape, TimeSpan delay = default)
    {
        if (!Enabled)
        {
            return;
        }
        List<PoolShape> dropped = [];
        lock (_shapes)
        {
            _shapes.Remove(shape);
            _shapes.Insert(0, shape);
            while (_shapes.Count > _options.PoolMaxShapes)
            {
                dropped.Add(_shapes[^1]);
                _shapes.RemoveAt(_shapes.Count - 1);
            }
        }
        foreach (var old in dropped)
        {
            if (_ready.TryRemove(old, out var queue))
            {
                foreach (var container in queue)
                {
                    _ = DiscardAsync(container);
                }
            }
        }
        if (Interlocked.Exchange(ref _fillPending, 1) == 0)
        {
            _ = Task.Run(() => FillAsync(delay), CancellationToken.None);
        }
    }

    /// <summary>What the pool holds now.</summary>
    public PoolStatus Status()
    {
        lock (_shapes)
        {
            return new PoolStatus(
                _options.PoolSize, _options.PoolMaxMemoryBytes,
                _shapes.Select(s => (s, _ready.TryGetValue(s, out var q) ? q.Count : 0)).ToList(),
                Volatile.Read(ref _claimed), Volatile.Read(ref _created));
        }
    }

    /// <summary>Stops beating and refilling, leaving the containers as a crashed server would (tests).</summary>
    internal async Task AbandonAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _heartbeat.DisposeAsync().ConfigureAwait(false);
        foreach (var container in _ready.Values.SelectMany(q => q))
        {
            await container.Helper.DisposeAsync().ConfigureAwait(false);
        }
        _ready.Clear();
    }

    /// <summary>Completes when no refill is pending or running (for tests and benchmarks).</summary>
    internal async Task WaitForFillAsync(CancellationToken cancellationToken)
    {
        while (Volatile.Read(ref _fillPending) == 1)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
        await _fill.WaitAsync(cancellationToken).ConfigureAwait(false);
        _fill.Release();
    }

    private async Task FillAsync(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Volatile.Write(ref _fillPending, 0);
                return;
            }
        }
        await _fill.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _fillPending, 0);
            while (!_stop.IsCancellationRequested && NextToCreate() is { } shape)
            {
                try
                {
                    var container = await CreateAsync(shape, _stop.Token).ConfigureAwait(false);
                    _ready.GetOrAdd(shape, _ => new ConcurrentQueue<PooledContainer>()).Enqueue(container);
                    Interlocked.Increment(ref _created);
                    // Dropped while it was being made: it is not wanted any more.
                    lock (_shapes)
                    {
                        if (_shapes.Contains(shape))
                        {
                            continue;
                        }
                    }
                    if (_ready.TryRemove(shape, out var orphaned))
                    {
                        foreach (var c in orphaned)
                        {
                            await DiscardAsync(c).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception e) when (e is DockerEngineException or IOException or UnauthorizedAccessException or SessionRouting.Backends.SessionException)
                {
                    // The engine is down or the image is missing: a cold create will say why; try again on the next claim.
                    LogFillFailed(_logger, e, shape.Key);
                    return;
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
        finally
        {
            _fill.Release();
        }
    }

    /// <summary>The most recently wanted shape short of its count, if the memory budget allows one more.</summary>
    private PoolShape? NextToCreate()
    {
        lock (_shapes)
        {
            var reserved = _ready.Sum(pair => pair.Value.Count * pair.Key.MemoryBytes);
            foreach (var shape in _shapes)
            {
                var ready = _ready.TryGetValue(shape, out var queue) ? queue.Count : 0;
                if (ready < _options.PoolSize && reserved + shape.MemoryBytes <= _options.PoolMaxMemoryBytes)
                {
                    return shape;
                }
            }
            return null;
        }
    }

    private async Task<PooledContainer> CreateAsync(PoolShape shape, CancellationToken cancellationToken)
    {
        var engine = _engine();
        var image = await engine.InspectImageAsync(shape.Image, cancellationToken).ConfigureAwait(false);
        var (user, uid, gid) = _user();
        WorkspaceSeeding.SecureSessionsRoot(Root);
        var slotId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        var slot = Path.Combine(Root, slotId);
        var workspace = Path.Combine(slot, "workspace");
        var control = Path.Combine(slot, "control");
        string? containerId = null;
        try
        {
            Directory.CreateDirectory(slot);
            WorkspaceSeeding.CreateEmpty(workspace, uid, gid);
            Directory.CreateDirectory(control, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            WriteHeartbeat(control, Interlocked.Read(ref _beat).ToString(CultureInfo.InvariantCulture));
            var shellDirectory = HelperShell.HostDirectory(_options.DataDir, image.ID);
            var request = ContainerSpec.BuildPooled(_options, shape, slotId, user, workspace, shellDirectory, control, _options.OrphanGracePeriod);
            containerId = await engine.CreateContainerAsync(request, $"session-mcp-pool-{slotId}", cancellationToken).ConfigureAwait(false);
            await HelperShell.EnsureAsync(engine, containerId, shellDirectory, cancellationToken).ConfigureAwait(false);
            await engine.StartContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
            var helper = await SessionHelper.StartAsync(engine, containerId, HelperLayout.Sealed, _logger, cancellationToken).ConfigureAwait(false);
            return new PooledContainer(containerId, slot, shape, image, helper, DateTimeOffset.UtcNow);
        }
        catch
        {
            if (containerId is not null)
            {
                await RemoveAsync(containerId).ConfigureAwait(false);
            }
            WorkspaceRemoval.RemoveTree(slot);
            throw;
        }
    }

    /// <summary>Tells a claimed container's PID 1 to stay (its heartbeat stops); under the beat's lock, so no late beat overwrites it.</summary>
    public void MarkClaimed(string controlDirectory)
    {
        lock (_beatLock)
        {
            WriteHeartbeat(controlDirectory, "claimed");
        }
    }

    /// <summary>Whether <paramref name="containerId"/> is one of this pool's ready containers.</summary>
    public bool Owns(string containerId) => _ready.Values.Any(q => q.Any(c => c.Id == containerId));

    // Written in place: the container's read-only bind mount pins the file's inode.
    private static void WriteHeartbeat(string controlDirectory, string text)
    {
        using var file = new FileStream(Path.Combine(controlDirectory, "heartbeat"), new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        });
        file.SetLength(0);
        file.Write(System.Text.Encoding.ASCII.GetBytes(text + "\n"));
    }

    private void Beat()
    {
        var beat = Interlocked.Increment(ref _beat).ToString(CultureInfo.InvariantCulture);
        lock (_beatLock)
        {
            BeatReady(beat);
        }
    }

    private void BeatReady(string beat)
    {
        foreach (var container in _ready.Values.SelectMany(q => q))
        {
            try
            {
                WriteHeartbeat(container.ControlDirectory, beat);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Claimed meanwhile (its directory moved): nothing to beat.
            }
        }
    }

    private async Task DiscardAsync(PooledContainer container)
    {
        await container.Helper.DisposeAsync().ConfigureAwait(false);
        await RemoveAsync(container.Id).ConfigureAwait(false);
        WorkspaceRemoval.RemoveTree(container.SlotDirectory);
    }

    private async Task RemoveAsync(string containerId)
    {
        try
        {
            await _engine().RemoveContainerAsync(containerId, force: true, removeVolumes: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerEngineException e)
        {
            LogRemoveFailed(_logger, e, containerId);
        }
    }

    /// <summary>Removes every unclaimed container: none outlives the server that made it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _heartbeat.DisposeAsync().ConfigureAwait(false);
        await _fill.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var all = _ready.Values.SelectMany(q => q).ToList();
        _ready.Clear();
        await Task.WhenAll(all.Select(DiscardAsync)).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm pool could not make a container of shape {Shape}")]
    private static partial void LogFillFailed(ILogger logger, Exception exception, string shape);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm pool could not remove container {ContainerId}")]
    private static partial void LogRemoveFailed(ILogger logger, Exception exception, string containerId);
}
