namespace SessionMcp.Containers.Docker;

/// <summary>Settings of the docker backend: defaults and the maxima a session may ask for.</summary>
public sealed class DockerBackendOptions
{
    /// <summary>Engine endpoint (<c>unix://</c> or <c>tcp://</c>); null: <c>DOCKER_HOST</c>, else the local socket.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Image when <c>session_create</c> names none (build it with samples/images/build-image.sh).</summary>
    public string DefaultImage { get; set; } = "session-mcp/busybox:latest";

    /// <summary>The server's data directory; labels every container so this server finds its own.</summary>
    public string DataDir { get; set; } = "";

    /// <summary>Where workspaces live on the host (bind-mounted at /workspace).</summary>
    public string SessionsDir { get; set; } = "";

    /// <summary>Whether sessions may ask for <c>network: "bridge"</c>; otherwise every container has no network.</summary>
    public bool AllowNetwork { get; set; }

    /// <summary>The unprivileged user commands run as (when the server itself runs as root).</summary>
    public string User { get; set; } = "1000:1000";

    public long DefaultMemoryBytes { get; set; } = 1L << 30;

    public long MaxMemoryBytes { get; set; } = 8L << 30;

    /// <summary>Below the host's cores (see <see cref="DefaultCpusFor"/>), so one busy session cannot starve the others.</summary>
    public double DefaultCpus { get; set; } = DefaultCpusFor(Environment.ProcessorCount);

    public double MaxCpus { get; set; } = Environment.ProcessorCount;

    public long DefaultPids { get; set; } = 512;

    public long MaxPids { get; set; } = 4096;

    /// <summary>Root filesystem read-only (writable: /workspace and a tmpfs /tmp).</summary>
    public bool ReadOnlyRootfs { get; set; } = true;

    /// <summary>
    /// Unregistered containers younger than this are left alone when reaping orphans at start-up: they may belong to
    /// a session that another server process on the same data directory is still creating.
    /// </summary>
    public TimeSpan OrphanGracePeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Largest size of the tmpfs at /tmp, which also holds the helper's per-command output files. It is capped at half
    /// the session's memory limit, because tmpfs pages count against it: a huge output then fails to write (ENOSPC)
    /// instead of OOM-killing the whole container.
    /// </summary>
    public long TmpBytes { get; set; } = 512L << 20;

    /// <summary>
    /// Idle containers kept ready per shape (image, limits, network) by the warm pool; 0 turns the pool off. Two: a
    /// burst of two creates is served from the pool while the refill (one container at a time, about as long as a
    /// <c>docker run -d</c>) catches up, and an idle pool costs two sleeping containers with their helpers (a few MiB).
    /// </summary>
    public int PoolSize { get; set; } = 2;

    /// <summary>Shapes the pool keeps at once: the most recently asked for; an older one's containers are removed.</summary>
    public int PoolMaxShapes { get; set; } = 4;

    /// <summary>The ready containers' memory limits together stay within this (their actual use is a few MiB).</summary>
    public long PoolMaxMemoryBytes { get; set; } = 4L << 30;

    /// <summary>
    /// Fill the pool with the default shape at start-up (when docker is the default backend). Otherwise a shape joins
    /// the pool when a session of it is first created, so a server that never makes docker sessions never asks the engine.
    /// </summary>
    public bool PrewarmDefaultShape { get; set; }

    /// <summary>
    /// One core less than the host has, at most 2 and at least 1: a session spinning on every CPU it may use (a fork
    /// bomb held at its PID limit) leaves a core to the server and the other sessions. A single-core host gets 1.
    /// </summary>
    public static double DefaultCpusFor(int hostCores) => Math.Clamp(hostCores - 1, 1, 2);
}
