using System.Text.Json.Serialization;

namespace SessionMcp.Containers.Docker.Engine;

// Wire shapes of the Docker Engine API (PascalCase on the wire, so C# names map 1:1). Only the fields we use.

/// <summary>GET /version.</summary>
internal sealed record DockerVersion(string Version, string ApiVersion, string Os, string Arch)
{
    [JsonPropertyName("MinAPIVersion")]
    public string? MinApiVersion { get; init; }
}

/// <summary>POST /containers/create body.</summary>
internal sealed record ContainerCreateRequest
{
    public required string Image { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public string? User { get; init; }

    public string? WorkingDir { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public bool? Tty { get; init; }

    public bool? OpenStdin { get; init; }

    public string? StopSignal { get; init; }

    public int? StopTimeout { get; init; }

    public ContainerHostConfig? HostConfig { get; init; }
}

/// <summary>HostConfig, both as sent on create and as reported by inspect.</summary>
internal sealed record ContainerHostConfig
{
    public IReadOnlyList<string>? CapDrop { get; init; }

    public IReadOnlyList<string>? CapAdd { get; init; }

    public IReadOnlyList<string>? SecurityOpt { get; init; }

    public string? NetworkMode { get; init; }

    /// <summary>Bytes; 0 = unlimited.</summary>
    public long? Memory { get; init; }

    /// <summary>Memory plus swap in bytes; equal to <see cref="Memory"/> means no swap, -1 unlimited.</summary>
    public long? MemorySwap { get; init; }

    /// <summary>CPU quota in units of 1e-9 CPUs.</summary>
    public long? NanoCpus { get; init; }

    public long? PidsLimit { get; init; }

    public IReadOnlyList<string>? Binds { get; init; }

    public bool? ReadonlyRootfs { get; init; }

    public bool? Init { get; init; }

    /// <summary>Mount point to mount options, e.g. <c>"/tmp": "rw,size=64m"</c>.</summary>
    public IReadOnlyDictionary<string, string>? Tmpfs { get; init; }

    public bool? AutoRemove { get; init; }
}

internal sealed record ContainerCreateResponse(string Id)
{
    public IReadOnlyList<string>? Warnings { get; init; }
}

/// <summary>GET /containers/{id}/json.</summary>
internal sealed record ContainerInspect
{
    public required string Id { get; init; }

    /// <summary>As the engine reports it, with a leading slash.</summary>
    public string Name { get; init; } = "";

    public string? Image { get; init; }

    public required ContainerState State { get; init; }

    public required ContainerConfig Config { get; init; }

    public required ContainerHostConfig HostConfig { get; init; }
}

internal sealed record ContainerState
{
    /// <summary>created, running, paused, restarting, removing, exited or dead.</summary>
    public string Status { get; init; } = "";

    public bool Running { get; init; }

    public bool OOMKilled { get; init; }

    public int ExitCode { get; init; }

    public int Pid { get; init; }

    public string? Error { get; init; }

    /// <summary>0001-01-01T00:00:00Z until the container has stopped once.</summary>
    public DateTimeOffset FinishedAt { get; init; }
}

internal sealed record ContainerConfig
{
    public string? User { get; init; }

    public string? Image { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public string? WorkingDir { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }
}

/// <summary>One row of GET /containers/json.</summary>
internal sealed record ContainerSummary
{
    public required string Id { get; init; }

    /// <summary>Creation time, in seconds since the Unix epoch.</summary>
    public long Created { get; init; }

    public IReadOnlyList<string> Names { get; init; } = [];

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public string State { get; init; } = "";

    public string? Image { get; init; }
}

/// <summary>GET /images/{name}/json.</summary>
internal sealed record ImageInspect
{
    public required string Id { get; init; }

    public IReadOnlyList<string>? RepoTags { get; init; }

    public string? Os { get; init; }

    public string? Architecture { get; init; }

    public long Size { get; init; }

    public ImageConfig? Config { get; init; }
}

internal sealed record ImageConfig
{
    public string? User { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public string? WorkingDir { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }
}

/// <summary>POST /containers/{id}/exec body.</summary>
internal sealed record ExecCreateRequest
{
    public required IReadOnlyList<string> Cmd { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    public string? User { get; init; }

    public string? WorkingDir { get; init; }

    public bool AttachStdin { get; init; }

    public bool AttachStdout { get; init; } = true;

    public bool AttachStderr { get; init; } = true;

    public bool Tty { get; init; }
}

internal sealed record ExecCreateResponse(string Id);

/// <summary>POST /exec/{id}/start body. Tty=false makes the engine multiplex stdout and stderr into frames.</summary>
internal sealed record ExecStartRequest(bool Detach, bool Tty);

/// <summary>GET /exec/{id}/json. <see cref="ExitCode"/> is null while the process runs.</summary>
internal sealed record ExecInspect(bool Running, int? ExitCode, int Pid);

/// <summary>The result of <see cref="DockerEngineClient.RunExecAsync"/>.</summary>
internal sealed record ExecOutput(int ExitCode, string Stdout, string Stderr);

internal sealed record DockerErrorResponse(string? Message);

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DockerVersion))]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(ContainerInspect))]
[JsonSerializable(typeof(IReadOnlyList<ContainerSummary>))]
[JsonSerializable(typeof(ImageInspect))]
[JsonSerializable(typeof(ExecCreateRequest))]
[JsonSerializable(typeof(ExecCreateResponse))]
[JsonSerializable(typeof(ExecStartRequest))]
[JsonSerializable(typeof(ExecInspect))]
[JsonSerializable(typeof(DockerErrorResponse))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
internal sealed partial class DockerEngineJsonContext : JsonSerializerContext;
