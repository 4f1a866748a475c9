using System.Globalization;
using Docker.DotNet.Models;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// The hardened container a session gets, as a pure function of the settings and the request: non-root, every
/// capability dropped, no-new-privileges, no network unless allowed, memory/CPU/PID limits, read-only root, and the
/// workspace bind-mounted at /workspace, and the sealed helper's shell and scratch (<see cref="HelperLayout.Sealed"/>).
/// </summary>
internal static class ContainerSpec
{
    public const string WorkspacePath = "/workspace";
    public const string SessionLabel = "session-mcp.session";
    public const string DataDirLabel = "session-mcp.data-dir";

    /// <summary>Set on containers whose helper is sealed; containers created before it have the legacy layout.</summary>
    public const string HelperLabel = "session-mcp.helper";
    private const string SealedHelper = "sealed";

    /// <summary>Set, instead of <see cref="SessionLabel"/>, on a warm pool's containers; the value is the <see cref="Pool.PoolShape.Key"/>.</summary>
    public const string PoolLabel = "session-mcp.pool";

    /// <summary>Where a pool container sees its control directory (read-only): the heartbeat its PID 1 watches.</summary>
    public const string PoolControlPath = "/.session-mcp/pool";

    /// <summary>How often the server beats a pool container's heartbeat; its PID 1 reads it as often.</summary>
    public static readonly TimeSpan PoolHeartbeatInterval = TimeSpan.FromSeconds(2);

    /// <summary>PID 1 under docker-init: sleeps forever, so the container lives until the session is destroyed.</summary>
    private static readonly string[] KeepAlive = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"];

    public static CreateContainerParameters Build(DockerBackendOptions options, NewSessionSpec spec, string image, string user, string hostWorkspace, string hostHelperShellDirectory)
    {
        var (network, memory, cpus, pids) = Validate(options, spec);
        return new CreateContainerParameters
        {
            Image = image,
            Cmd = KeepAlive,
            User = user,
            WorkingDir = WorkspacePath,
            Labels = new Dictionary<string, string>
            {
                [SessionLabel] = spec.SessionId,
                [DataDirLabel] = options.DataDir,
                [HelperLabel] = SealedHelper,
            },
            HostConfig = new HostConfig
            {
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                NetworkMode = network,
                Memory = memory,
                MemorySwap = memory,
                NanoCPUs = (long)(cpus * 1_000_000_000),
                PidsLimit = pids,
                Binds = [$"{hostWorkspace}:{WorkspacePath}:rw", $"{hostHelperShellDirectory}:{HelperShell.ContainerDirectory}:ro"],
                ReadonlyRootfs = options.ReadOnlyRootfs,
                Tmpfs = new Dictionary<string, string>
                {
                    ["/tmp"] = FormattableString.Invariant($"rw,nosuid,nodev,size={Math.Min(options.TmpBytes, memory / 2)},mode=1777"),
                    // Root-owned 1733: the session's uid may create files but not list them (HelperScript's threat model).
                    [HelperLayout.Sealed.ScratchDir] = FormattableString.Invariant($"rw,nosuid,nodev,noexec,size={Math.Min(options.TmpBytes, memory / 2)},mode=1733"),
                },
                Init = true,
            },
        };
    }

    /// <summary>
    /// A warm pool's container: the session's hardening for <paramref name="shape"/>, labelled as the pool's, its
    /// workspace a fresh empty directory, and a PID 1 that exits when the server's heartbeat (a line in
    /// <paramref name="hostControlDirectory"/>'s heartbeat file) has not changed for <paramref name="idleLimit"/>: an
    /// unclaimed container does not outlive a server that died. Once the heartbeat says <c>claimed</c> it keeps the
    /// container alive like any session's.
    /// </summary>
    public static CreateContainerParameters BuildPooled(
        DockerBackendOptions options, Pool.PoolShape shape, string slotId, string user, string hostWorkspace, string hostHelperShellDirectory, string hostControlDirectory, TimeSpan idleLimit)
    {
        var request = Build(options, shape.Spec(slotId), shape.Image, user, hostWorkspace, hostHelperShellDirectory);
        request.Labels.Remove(SessionLabel);
        request.Labels[PoolLabel] = shape.Key;
        request.HostConfig!.Binds.Add($"{hostControlDirectory}:{PoolControlPath}:ro");
        var beat = (int)PoolHeartbeatInterval.TotalSeconds;
        var limit = Math.Max((int)Math.Ceiling(idleLimit.TotalSeconds), 3 * beat);
        request.Cmd =
        [
            "/bin/sh", "-c",
            string.Create(CultureInfo.InvariantCulture, $$"""
                trap 'exit 0' TERM
                last=; idle=0
                while :; do
                  sleep {{beat}} & wait $!
                  now=; read -r now < {{PoolControlPath}}/heartbeat
                  [ "$now" = claimed ] && break
                  if [ "$now" = "$last" ]; then idle=$((idle + {{beat}})); [ "$idle" -ge {{limit}} ] && exit 0; else idle=0; last=$now; fi
                done
                while :; do sleep 3600 & wait $!; done
                """),
        ];
        return request;
    }

    /// <summary>The helper layout a container was created with (its label says).</summary>
    public static HelperLayout HelperLayoutOf(ContainerInspectResponse container) =>
        Label(container.Config?.Labels, HelperLabel) == SealedHelper ? HelperLayout.Sealed : HelperLayout.Legacy;

    /// <summary>A label's value, null when the container has no such label.</summary>
    public static string? Label(IDictionary<string, string>? labels, string name) =>
        labels is not null && labels.TryGetValue(name, out var value) ? value : null;

    /// <summary>The network and limits a request asks for, checked against the server's ranges; called before the engine is asked anything.</summary>
    public static (string Network, long MemoryBytes, double Cpus, long Pids) Validate(DockerBackendOptions options, NewSessionSpec spec)
    {
        var network = spec.Network ?? "none";
        if (network is not ("none" or "bridge"))
        {
            throw new SessionException($"network must be \"none\" or \"bridge\", got \"{network}\"");
        }
        if (network == "bridge" && !options.AllowNetwork)
        {
            throw new SessionException("network \"bridge\" is not allowed by this server's configuration (SESSION_MCP_DOCKER_ALLOW_NETWORK); sessions run without network");
        }

        // Checked in MiB, as asked, then converted: a huge memory_mb is reported as given, not as its overflowed bytes.
        var memory = Limit(spec.Limits?.MemoryMb, options.DefaultMemoryBytes >> 20, options.MaxMemoryBytes >> 20, 16, "memory_mb", v => v.ToString(CultureInfo.InvariantCulture)) << 20;
        var cpus = spec.Limits?.Cpus ?? options.DefaultCpus;
        if (cpus < 0.01 || cpus > options.MaxCpus)
        {
            throw new SessionException($"cpus must be between 0.01 and {options.MaxCpus.ToString(CultureInfo.InvariantCulture)} on this server, got {cpus.ToString(CultureInfo.InvariantCulture)}");
        }
        var pids = Limit(spec.Limits?.Pids, options.DefaultPids, options.MaxPids, 16, "pids_limit", v => v.ToString(CultureInfo.InvariantCulture));

        return (network, memory, cpus, pids);
    }

    private static long Limit(long? requested, long defaultValue, long max, long min, string name, Func<long, string> show)
    {
        var value = requested ?? defaultValue;
        if (value < min || value > max)
        {
            throw new SessionException($"{name} must be between {show(min)} and {show(max)} on this server, got {show(value)}");
        }
        return value;
    }
}
