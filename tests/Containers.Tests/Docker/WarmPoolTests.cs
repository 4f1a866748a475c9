using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.Containers.Docker;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Containers.Docker.Pool;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>The warm pool on the real engine: whose workspace a pooled container binds, refill and bounds, reaping.</summary>
public sealed class WarmPoolTests : IAsyncLifetime
{
    private readonly DockerEngineClient _engine = DockerEngineClient.Create(DockerRequirement.Endpoint);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(120));
    private readonly string _dataDir = Directory.CreateTempSubdirectory("pool-tests").FullName;
    private readonly List<DockerBackend> _backends = [];

    private CancellationToken Token => _timeout.Token;

    public Task InitializeAsync()
    {
        DockerRequirement.ThrowIfUnavailable();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }
        foreach (var container in await ContainersAsync())
        {
            await _engine.RemoveContainerAsync(container, force: true, removeVolumes: true);
        }
        _engine.Dispose();
        _timeout.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    [DockerFact]
    public async Task APooledCreateBindsAFreshWorkspaceWhereNoOtherSessionsFilesAreVisible()
    {
        // Given a filled pool, and a first session (from the pool) that wrote a secret into its workspace
        var backend = Backend(poolSize: 2);
        await FillAsync(backend, DefaultShape);
        var first = await CreateAsync(backend, "s-first001", Source(("first.txt", "mine")));
        await RunAsync(first.ContainerId, "echo secret > /workspace/secret.txt; mkdir -p /workspace/deep && echo x > /workspace/deep/y");
        await backend.DestroyAsync(first.Record, keepWorkspace: false, Token);

        // When more sessions are created from the pool (refilled meanwhile) than it held at first
        var sessions = new List<Created>();
        for (var i = 0; i < 3; i++)
        {
            await backend.Pool.WaitForFillAsync(Token);
            sessions.Add(await CreateAsync(backend, $"s-pooled0{i}", Source(($"own{i}.txt", $"{i}"))));
        }

        // Then each one sees its own source and nothing else, in a container no other session ever had
        for (var i = 0; i < sessions.Count; i++)
        {
            var listing = await RunAsync(sessions[i].ContainerId, "ls -A /workspace; find / \\( -path /proc -o -path /sys \\) -prune -o \\( -name secret.txt -o -name 'first.txt' -o -name 'own*.txt' \\) -print 2>/dev/null; true");
            Assert.Equal($"own{i}.txt\n/workspace/own{i}.txt\n", listing);
            Assert.Equal(Path.Combine(_dataDir, "sessions", sessions[i].Record.Id, "workspace"), sessions[i].Provisioned.WorkspaceHostPath);
            // The bind mount followed the renamed directory: what the container writes is in the session's workspace.
            await RunAsync(sessions[i].ContainerId, "echo hi > /workspace/from-container");
            Assert.Equal("hi\n", await File.ReadAllTextAsync(Path.Combine(sessions[i].Provisioned.WorkspaceHostPath, "from-container"), Token));
            var name = $"/session-mcp-{sessions[i].Record.Id}";
            var id = sessions[i].ContainerId;
            await WaitUntilAsync(async () => (await _engine.InspectContainerAsync(id, Token)).Name == name);
        }
        Assert.Equal(4, sessions.Select(s => s.ContainerId).Append(first.ContainerId).Distinct().Count());
        Assert.Equal(4, backend.PoolStatus!.Claimed);
    }

    [DockerFact]
    public async Task PerSessionEnvIsTheHelpersNotTheContainersSoThePoolServesIt()
    {
        // Given a filled pool
        var backend = Backend(poolSize: 1);
        await FillAsync(backend, DefaultShape);

        // When a session asks for its own environment
        var created = await CreateAsync(backend, "s-envpool1", source: null, env: new Dictionary<string, string> { ["FOO"] = "bar" });

        // Then it came from the pool, its env is kept for the helper to apply, and the container has none of it
        Assert.Equal(1, backend.PoolStatus!.Claimed);
        Assert.Equal("bar", created.Provisioned.Env["FOO"]);
        var inspect = await _engine.InspectContainerAsync(created.ContainerId, Token);
        Assert.DoesNotContain(inspect.Config!.Env ?? [], e => e.StartsWith("FOO=", StringComparison.Ordinal));
    }

    [DockerFact]
    public async Task ThePoolRefillsInTheBackgroundWithinItsCountMemoryAndShapeBounds()
    {
        // Given a pool of 2 per shape, whose memory budget holds three default containers, and one shape at a time
        var backend = Backend(poolSize: 2, maxShapes: 1, memoryBudget: 3 * (64L << 20));
        var small = new PoolShape(DockerTestImage.Name, 64L << 20, 0.5, 64, "none");
        var other = small with { Pids = 65 };

        // When it fills, gives one away, and refills
        await FillAsync(backend, small);
        var filled = ReadyOf(backend, small);
        var created = await CreateAsync(backend, "s-refill01", source: null, limits: new ResourceLimits(64, 0.5, 64));
        await backend.Pool.WaitForFillAsync(Token);
        var refilled = ReadyOf(backend, small);

        // And another shape is asked for, which is over the shape bound
        await FillAsync(backend, other);

        // Then
        Assert.Equal(2, filled);
        Assert.Equal(2, refilled);
        Assert.Equal(3, backend.PoolStatus!.Created - 2);
        Assert.Equal([other], backend.PoolStatus.Shapes.Select(s => s.Shape));
        Assert.Equal(2, ReadyOf(backend, other));
        var idle = (await ContainersAsync()).Where(id => id != created.ContainerId).ToList();
        await WaitUntilAsync(async () => (await ContainersAsync()).Count(id => id != created.ContainerId) == 2);

        // And a budget smaller than the count holds fewer
        var tight = Backend(poolSize: 2, memoryBudget: 100L << 20);
        await FillAsync(tight, small);
        Assert.Equal(1, ReadyOf(tight, small));
        Assert.NotEmpty(idle);
    }

    [DockerFact]
    public async Task LeftoverPoolContainersStopWithoutAHeartbeatAndAreReapedAtTheNextStart()
    {
        // Given a server whose pool was filled and which then died (no heartbeat, nothing removed)
        var crashed = Backend(poolSize: 2);
        await FillAsync(crashed, DefaultShape);
        var leftovers = await ContainersAsync();
        await crashed.Pool.AbandonAsync();

        // When the idle limit passes (the grace period, at least three heartbeats) and a new server starts
        await WaitUntilAsync(async () =>
        {
            foreach (var id in leftovers)
            {
                if ((await _engine.InspectContainerAsync(id, Token)).State!.Running)
                {
                    return false;
                }
            }
            return true;
        });
        var next = Backend(poolSize: 0);
        var reaped = await next.ReapOrphansAsync([], Token);

        // Then the leftovers stopped by themselves and are gone, with their slot directories
        Assert.Equal(2, leftovers.Count);
        Assert.Equal(2, reaped);
        Assert.Empty(await ContainersAsync());
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_dataDir, "pool")));
    }

    [DockerFact]
    public async Task APooledSessionsContainerKeepsItsWorkspaceAndStaysUpAcrossARestart()
    {
        // Given a session from the pool with a file in its workspace
        var backend = Backend(poolSize: 1);
        await FillAsync(backend, DefaultShape);
        var created = await CreateAsync(backend, "s-restart1", source: null);
        await RunAsync(created.ContainerId, "echo kept > /workspace/kept.txt");

        // When its container is stopped and started again (as a hibernated session would be), and the pool's idle limit passes
        await _engine.StopContainerAsync(created.ContainerId, timeoutSeconds: 5, Token);
        await _engine.StartContainerAsync(created.ContainerId, Token);
        await Task.Delay(TimeSpan.FromSeconds(8), Token);

        // Then it still runs, on the session's own workspace
        Assert.True((await _engine.InspectContainerAsync(created.ContainerId, Token)).State!.Running);
        Assert.Equal("kept\n", await RunAsync(created.ContainerId, "cat /workspace/kept.txt"));
        await RunAsync(created.ContainerId, "echo after > /workspace/after.txt");
        Assert.True(File.Exists(Path.Combine(created.Provisioned.WorkspaceHostPath, "after.txt")));
    }

    [DockerFact]
    public async Task AServerThatStopsRemovesItsIdlePoolContainersButNotItsSessions()
    {
        // Given a filled pool and a session from it
        var backend = Backend(poolSize: 2);
        await FillAsync(backend, DefaultShape);
        var created = await CreateAsync(backend, "s-stays001", source: null);
        await backend.Pool.WaitForFillAsync(Token);

        // When the server stops
        _backends.Remove(backend);
        await backend.DisposeAsync();

        // Then only the session's container is left, and it still runs
        Assert.Equal([created.ContainerId], await ContainersAsync());
        Assert.True((await _engine.InspectContainerAsync(created.ContainerId, Token)).State!.Running);
    }

    private DockerBackend Backend(int poolSize, int maxShapes = 4, long memoryBudget = 4L << 30)
    {
        var backend = new DockerBackend(
            new DockerBackendOptions
            {
                DataDir = _dataDir,
                SessionsDir = Path.Combine(_dataDir, "sessions"),
                DefaultImage = DockerTestImage.Name,
                DefaultMemoryBytes = 64L << 20,
                DefaultCpus = 0.5,
                DefaultPids = 64,
                MaxCpus = Environment.ProcessorCount,
                OrphanGracePeriod = TimeSpan.Zero,
                PoolSize = poolSize,
                PoolMaxShapes = maxShapes,
                PoolMaxMemoryBytes = memoryBudget,
            },
            NullLogger<DockerBackend>.Instance);
        _backends.Add(backend);
        return backend;
    }

    /// <summary>The default shape of <see cref="Backend"/>'s options: the test image, 64 MiB, half a CPU, 64 PIDs, no network.</summary>
    private static PoolShape DefaultShape => new(DockerTestImage.Name, 64L << 20, 0.5, 64, "none");

    private async Task FillAsync(DockerBackend backend, PoolShape shape)
    {
        backend.Pool.Want(shape);
        await backend.Pool.WaitForFillAsync(Token);
    }

    private static int ReadyOf(DockerBackend backend, PoolShape shape) =>
        backend.PoolStatus!.Shapes.Where(s => s.Shape == shape).Select(s => s.Ready).SingleOrDefault();

    private async Task<Created> CreateAsync(
        DockerBackend backend, string id, string? source, IReadOnlyDictionary<string, string>? env = null, ResourceLimits? limits = null)
    {
        var provisioned = await backend.CreateAsync(new NewSessionSpec(id, null, env ?? new Dictionary<string, string>(), source, null, null, limits), Token);
        var containerId = System.Text.Json.JsonDocument.Parse(provisioned.BackendState!).RootElement.GetProperty("ContainerId").GetString()!;
        var record = new SessionRecord(
            id, null, "docker", SessionStatus.Running, provisioned.WorkspaceHostPath, provisioned.WorkspacePath, provisioned.WorkspacePath,
            provisioned.Env, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, provisioned.BackendState, null);
        return new Created(record, provisioned, containerId);
    }

    private string Source(params (string Name, string Text)[] files)
    {
        var directory = Directory.CreateTempSubdirectory("pool-source").FullName;
        foreach (var (name, text) in files)
        {
            File.WriteAllText(Path.Combine(directory, name), text);
        }
        return directory;
    }

    private async Task<string> RunAsync(string containerId, string script)
    {
        var output = await _engine.RunExecAsync(containerId, ["/bin/sh", "-c", script], user: "1000:1000", cancellationToken: Token);
        Assert.True(output.ExitCode == 0, $"exit {output.ExitCode}: {output.Stderr}");
        return output.Stdout;
    }

    /// <summary>This test's containers (by its data directory's label).</summary>
    private async Task<List<string>> ContainersAsync() =>
        (await _engine.ListContainersAsync(new Dictionary<string, string?> { [ContainerSpec.DataDirLabel] = _dataDir }, all: true)).Select(c => c.ID).ToList();

    private async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        while (!await condition())
        {
            await Task.Delay(200, Token);
        }
    }

    private sealed record Created(SessionRecord Record, ProvisionedSession Provisioned, string ContainerId);
}
