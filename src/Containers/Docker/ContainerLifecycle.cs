using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Docker.DotNet.Models;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// The engine calls of a session's lifecycle: stop and start (hibernation), the engine's event stream (a container that
/// died or had a process OOM-killed, as it happens), and an inspect for how a container ended (OOM, exit code, signal).
/// They go through the backend's own <see cref="DockerEngineClient"/> (one Docker.DotNet client per backend, with its
/// endpoint and TLS), whose failures are mapped at its one boundary (<see cref="DockerEngineErrors"/>); here they only
/// become <see cref="SessionException"/>s, as in the rest of the backend.
/// </summary>
internal sealed class ContainerLifecycle(DockerBackendOptions options, Func<DockerEngineClient> engine)
{
    /// <summary>The engine's events this server needs: a container of its own died, or the OOM killer hit one.</summary>
    internal sealed record ContainerEvent(string ContainerId, string? SessionId, string Action, int? ExitCode);

    /// <summary>How a stopped container ended, as the engine recorded it.</summary>
    internal sealed record ContainerEnd(bool OomKilled, long ExitCode, string Status, string? FinishedAt, long MemoryLimit);

    private DockerEngineClient Engine => engine();

    /// <summary>Stops a container (its keep-alive exits on SIGTERM at once; SIGKILL after a few seconds otherwise).</summary>
    public Task StopAsync(string containerId, CancellationToken cancellationToken) =>
        Call(() => Engine.StopContainerAsync(containerId, 3, cancellationToken));

    public Task StartAsync(string containerId, CancellationToken cancellationToken) =>
        Call(() => Engine.StartContainerAsync(containerId, cancellationToken));

    /// <summary>Whether the container runs; null when it does not exist.</summary>
    public async Task<bool?> IsRunningAsync(string containerId, CancellationToken cancellationToken) =>
        await Call(async () =>
        {
            try
            {
                return (bool?)((await Engine.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false)).State?.Running ?? false);
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
                var inspect = await Engine.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
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
                await Call(() => Engine.MonitorEventsAsync(parameters, new ChannelProgress(channel.Writer), cancellationToken)).ConfigureAwait(false);
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

    /// <summary>The engine's failures, already worded by <see cref="DockerEngineErrors"/>, as errors of the session.</summary>
    private static async Task<T> Call<T>(Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (DockerEngineException e)
        {
            throw new SessionException(e.Message, e);
        }
    }

    private static Task Call(Func<Task> action) => Call(async () =>
    {
        await action().ConfigureAwait(false);
        return 0;
    });
}
