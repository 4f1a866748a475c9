using System.Globalization;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Docker.Pool;

/// <summary>
/// What makes two session containers interchangeable before a session binds one: image, limits and network. The user,
/// root filesystem and tmpfs sizes are the server's, the same for every container. Per-session <c>env</c> is not part
/// of it: the helper applies it to each command, never to the container.
/// </summary>
internal sealed record PoolShape(string Image, long MemoryBytes, double Cpus, long Pids, string Network)
{
    /// <summary>The shape a create request asks for, with the server's defaults filled in (validated first).</summary>
    public static PoolShape Of(DockerBackendOptions options, NewSessionSpec spec)
    {
        var (network, memory, cpus, pids) = ContainerSpec.Validate(options, spec);
        return new PoolShape(spec.Image ?? options.DefaultImage, memory, cpus, pids, network);
    }

    /// <summary>The shape of a session created with no image, limits or network given.</summary>
    public static PoolShape Default(DockerBackendOptions options) =>
        Of(options, new NewSessionSpec("pool", null, new Dictionary<string, string>(), null, null, null, null));

    /// <summary>The request that builds a container of this shape.</summary>
    public NewSessionSpec Spec(string id) =>
        new(id, null, new Dictionary<string, string>(), null, Image, Network, new ResourceLimits(MemoryBytes >> 20, Cpus, Pids));

    /// <summary>The label value on its containers, readable in <c>docker ps</c>.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture, $"{Image} {MemoryBytes >> 20}MiB {Cpus}cpu {Pids}pids {Network}");
}
