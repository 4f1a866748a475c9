using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// The engine calls of a session's lifecycle that the hand-written Engine client does not make: stop and start
/// (hibernation), the engine's event stream (a container that died or had a process OOM-killed, as it happens), and an
/// inspect for how a container ended (OOM, exit code, signal). Made with Docker.DotNet.Enhanced, the product card's client.
/// </summary>
/// <remarks>
/// It builds its own <see cref="DockerClient"/> from the endpoint the backend uses (<see cref="DockerBackendOptions.Endpoint"/>,
/// else <c>DOCKER_HOST</c>, else the local socket). Once the backend's Engine client moves to Docker.DotNet (branch
/// docker-client), this should take the backend's client instead of making a second one.
/// </remarks>
internal sealed class ContainerLifecycle(DockerBackendOptions options) : IDisposable
{
    private readonly Lazy<DockerClient> _client = new(() => CreateClient(options.Endpoint));

    /// <summary>The engine's events this server needs: a container of its own died, or the OOM killer hit one.</summary>
    internal sealed record ContainerEvent(string ContainerId, string? SessionId, string Action, int? ExitCode);

    /// <summary>How a stopped container ended, as the engine recorded it.</summary>
    internal sealed record ContainerEnd(bool OomKilled, long ExitCode, string Status, string? FinishedAt, long MemoryLimit);

    private DockerClient Client => _client.Value;

    public static DockerClient CreateClient(string? endpoint) =>
        new DockerClientBuilder().WithEndpoint(new Uri(Engine.DockerEndpoint.Resolve(endpoint).Address)).Build();

    /// <summary>Stops a container (its keep-alive exits on SIGTERM at once; SIGKILL after a few seconds otherwise).</summary>
    public Task StopAsync(string containerId, CancellationToken cancellationToken) =>
        Call(() => Client.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = 3 }, cancellationToken));

    public Task StartAsync(string containerId, CancellationToken cancellationToken) =>
        Call(() => Client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken));

    /// <summary>Whether the container runs; null when it does not exist.</summary>
    public async Task<bool?> IsRunningAsync(string containerId, CancellationToken cancellationToken) =>
        await Call(async () =>
        {
            try
            {
                return (bool?)((await Client.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false)).State?.Running ?? false);
            }
            catch (DockerContainerNotFoundException)
            {
                return null;
            }
        }).ConfigureAwait(false);

    /// <summary>How the container ended; null when it no longer exists.</summary>
    public async Task<ContainerEnd?> EndOfAsync(string containerId, CancellationToken cancellationToken) =>
        await Call(async () =>
        {
            try
            {
                var inspect = await Client.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
                var state = inspect.State;
                return state is null ? null : new ContainerEnd(state.OOMKilled, state.ExitCode, state.Status, state.FinishedAt, inspect.HostConfig?.Memory ?? 0);
            }
            catch (DockerContainerNotFoundException)
            {
                return null;
            }
        }).ConfigureAwait(false);

    /// <summary>
    /// The engine's die and oom events for this server's containers (its data-directory label), as they happen, until
    /// cancelled or the engine goes away (then a <see cref="SessionException"/>: the caller watches again later).
    /// </summary>
    public async IAsyncEnumerable<ContainerEvent> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<ContainerEvent>(new UnboundedChannelOptions { SingleReader = true });
        var parameters = new ContainerEventsParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["event"] = new Dictionary<string, bool> { ["die"] = true, ["oom"] = true },
                ["label"] = new Dictionary<string, bool> { [$"{ContainerSpec.DataDirLabel}={options.DataDir}"] = true },
            },
        };
        var monitor = Task.Run(async () =>
        {
            try
            {
                await Call(() => Client.System.MonitorEventsAsync(parameters, new ChannelProgress(channel.Writer), cancellationToken)).ConfigureAwait(false);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e is OperationCanceledException ? null : e);
            }
        }, CancellationToken.None);
        await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
        await monitor.ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }

    /// <summary>Writes each event as it arrives (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
    private sealed class ChannelProgress(ChannelWriter<ContainerEvent> writer) : IProgress<Message>
    {
        public void Report(Message value)
        {
            IDictionary<string, string>? attributes = value.Actor?.Attributes;
            var exit = attributes is not null && attributes.TryGetValue("exitCode", out var text) && int.TryParse(text, CultureInfo.InvariantCulture, out var code) ? code : (int?)null;
            var id = value.Actor?.ID;
            if (id is not null)
            {
                var session = attributes is not null && attributes.TryGetValue(ContainerSpec.SessionLabel, out var label) ? label : null;
                writer.TryWrite(new ContainerEvent(id, session, value.Action ?? "", exit));
            }
        }
    }

    /// <summary>The one boundary where this client's failures become messages for the model (as the Engine client's do).</summary>
    private async Task<T> Call<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DockerApiException e)
        {
            throw new SessionException($"the Docker engine at {Engine.DockerEndpoint.Resolve(options.Endpoint).Address} refused the request ({(int)e.StatusCode}): {e.ResponseBody?.Trim()}", e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new SessionException($"the Docker engine at {Engine.DockerEndpoint.Resolve(options.Endpoint).Address} is unreachable ({e.Message}); start it (or point DOCKER_HOST at it) and retry", e);
        }
    }

    private Task Call(Func<Task> action) => Call(async () =>
    {
        await action().ConfigureAwait(false);
        return 0;
    });
}
