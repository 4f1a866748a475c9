using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using Docker.DotNet.X509;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// The Docker Engine API through the Docker.DotNet library (<see cref="DockerClient"/>), with every failure mapped
/// to <see cref="DockerEngineException"/> and its subclasses at one boundary (<see cref="DockerEngineErrors"/>). Thread-safe.
/// What this adds to the library, and why it is here rather than there:
/// <list type="bullet">
/// <item>Endpoint and TLS from the server's option or <c>DOCKER_HOST</c>/<c>DOCKER_TLS_VERIFY</c>/<c>DOCKER_CERT_PATH</c>
/// (<see cref="DockerEndpoint"/>): the library reads <c>DOCKER_HOST</c> but loads no certificates from the environment,
/// and its CA check (<see cref="DockerTlsCertificates.CreateCertificateAuthorityValidationCallback"/>) checks the chain
/// only, not that the certificate names the host, which the docker CLI does too.</item>
/// <item><see cref="RunExecAsync"/> and <see cref="WaitForExecExitCodeAsync"/>: an exec to completion with its exit
/// code, which the engine publishes just after it closes the output; the library has no such call.</item>
/// <item><see cref="EmptyReadGuardStream"/> around archives, for a bug of the library's chunked stream (see there).</item>
/// </list>
/// </summary>
internal sealed class DockerEngineClient : IDisposable
{
    // The engine writes the exit code just before it closes the output; allow a short grace for the race.
    private static readonly TimeSpan ExecExitGrace = TimeSpan.FromSeconds(2);

    private readonly DockerEndpoint _endpoint;
    private readonly DockerClient _client;

    private DockerEngineClient(DockerEndpoint endpoint)
    {
        _endpoint = endpoint;
        var builder = new DockerClientBuilder()
            .WithEndpoint(endpoint.Uri)
            // Exec output, stop with a grace period and archives can legitimately take long: callers bound them with tokens.
            .WithTimeout(Timeout.InfiniteTimeSpan);
        if (endpoint.TlsCertificateDirectory is { } directory)
        {
            builder = builder.WithAuthProvider(TlsCredentials(endpoint, directory));
        }
        _client = builder.Build();
    }

    /// <summary>The endpoint in use, e.g. <c>unix:///var/run/docker.sock</c>.</summary>
    public string Endpoint => _endpoint.Address;

    /// <summary>Whether the engine is reached over TLS with client certificates.</summary>
    public bool UsesTls => _endpoint.TlsCertificateDirectory is not null;

    /// <summary>Creates a client for <paramref name="endpoint"/>, else <c>DOCKER_HOST</c>, else the default unix socket.</summary>
    /// <exception cref="ArgumentException">The endpoint is neither unix:// nor tcp://, or its TLS certificates cannot be loaded.</exception>
    public static DockerEngineClient Create(string? endpoint = null) => new(DockerEndpoint.Resolve(endpoint));

    /// <summary>Creates a client for an endpoint already resolved (and its TLS settings).</summary>
    public static DockerEngineClient Create(DockerEndpoint endpoint) => new(endpoint);

    // ---- System ----

    public Task<VersionResponse> GetVersionAsync(CancellationToken cancellationToken = default) =>
        Call("GET /version", () => _client.System.GetVersionAsync(cancellationToken));

    /// <summary>Completes when the engine answers, throws <see cref="DockerEngineUnreachableException"/> when it does not.</summary>
    public Task PingAsync(CancellationToken cancellationToken = default) =>
        Call("GET /_ping", () => _client.System.PingAsync(cancellationToken));

    /// <summary>
    /// Reports the engine's events matching <paramref name="parameters"/> to <paramref name="progress"/> as they happen,
    /// until cancelled or the connection ends (a health watch: a container dying, the OOM killer).
    /// </summary>
    public Task MonitorEventsAsync(ContainerEventsParameters parameters, IProgress<Message> progress, CancellationToken cancellationToken = default) =>
        Call("GET /events", () => _client.System.MonitorEventsAsync(parameters, progress, cancellationToken));

    // ---- Containers ----

    /// <summary>Creates a container (named <paramref name="name"/> if given) and returns its id.</summary>
    /// <exception cref="DockerImageNotFoundException">The image is not on the engine.</exception>
    /// <exception cref="DockerConflictException">The name is already in use.</exception>
    public async Task<string> CreateContainerAsync(CreateContainerParameters request, string? name = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Name = name;
        var created = await Call("POST /containers/create", () => _client.Containers.CreateContainerAsync(request, cancellationToken), image: request.Image).ConfigureAwait(false);
        return created.ID;
    }

    /// <summary>Starting a running container is not an error.</summary>
    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default) =>
        Call($"POST /containers/{containerId}/start", () => _client.Containers.StartContainerAsync(containerId, null, cancellationToken), containerId);

    /// <summary>Gives the container another name (a warm pool's container taking its session's).</summary>
    public Task RenameContainerAsync(string containerId, string newName, CancellationToken cancellationToken = default) =>
        Call($"POST /containers/{containerId}/rename", () => _client.Containers.RenameContainerAsync(containerId, new ContainerRenameParameters { NewName = newName }, cancellationToken), containerId);

    /// <summary>The stop signal, then SIGKILL after <paramref name="timeoutSeconds"/> (engine default if null).</summary>
    public Task StopContainerAsync(string containerId, int? timeoutSeconds = null, CancellationToken cancellationToken = default) =>
        Call($"POST /containers/{containerId}/stop", () => _client.Containers.StopContainerAsync(
            containerId, new ContainerStopParameters { WaitBeforeKillSeconds = timeoutSeconds is { } seconds ? (uint)seconds : null }, cancellationToken), containerId);

    /// <exception cref="DockerConflictException">The container is not running.</exception>
    public Task KillContainerAsync(string containerId, string signal = "SIGKILL", CancellationToken cancellationToken = default) =>
        Call($"POST /containers/{containerId}/kill", () => _client.Containers.KillContainerAsync(containerId, new ContainerKillParameters { Signal = signal }, cancellationToken), containerId);

    public Task RemoveContainerAsync(string containerId, bool force = false, bool removeVolumes = false, CancellationToken cancellationToken = default) =>
        Call($"DELETE /containers/{containerId}", () => _client.Containers.RemoveContainerAsync(
            containerId, new ContainerRemoveParameters { Force = force, RemoveVolumes = removeVolumes }, cancellationToken), containerId);

    /// <exception cref="DockerContainerNotFoundException">No such container.</exception>
    public Task<ContainerInspectResponse> InspectContainerAsync(string containerId, CancellationToken cancellationToken = default) =>
        Call($"GET /containers/{containerId}/json", () => _client.Containers.InspectContainerAsync(containerId, cancellationToken), containerId);

    /// <summary>One sample of a container's statistics, without waiting for a second one (so no CPU rate, only totals).</summary>
    public async Task<ContainerStatsResponse?> StatsAsync(string containerId, CancellationToken cancellationToken = default)
    {
        var sample = new LatestSample();
        await Call($"GET /containers/{containerId}/stats", () => _client.Containers.GetContainerStatsAsync(
            containerId, new ContainerStatsParameters { Stream = false, OneShot = true }, sample, cancellationToken), containerId).ConfigureAwait(false);
        return sample.Value;
    }

    /// <summary>Keeps what it is told at once (<see cref="Progress{T}"/> would post it to the thread pool, after the await).</summary>
    private sealed class LatestSample : IProgress<ContainerStatsResponse>
    {
        public ContainerStatsResponse? Value { get; private set; }

        public void Report(ContainerStatsResponse value) => Value = value;
    }

    /// <summary>Containers filtered by labels: a null value matches any value of that label.</summary>
    public async Task<IReadOnlyList<ContainerListResponse>> ListContainersAsync(
        IReadOnlyDictionary<string, string?> labelFilters, bool all = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labelFilters);
        var labels = labelFilters.ToDictionary(label => label.Value is null ? label.Key : $"{label.Key}={label.Value}", _ => true);
        var parameters = new ContainersListParameters { All = all, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = labels } };
        var list = await Call("GET /containers/json", () => _client.Containers.ListContainersAsync(parameters, cancellationToken)).ConfigureAwait(false);
        return list.AsReadOnly();
    }

    // ---- Images ----

    /// <exception cref="DockerImageNotFoundException">The image is not on the engine.</exception>
    public Task<ImageInspectResponse> InspectImageAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        return Call($"GET /images/{image}/json", () => _client.Images.InspectImageAsync(image, cancellationToken), image: image);
    }

    // ---- Exec ----

    /// <summary>Creates an exec and returns its id.</summary>
    /// <exception cref="DockerConflictException">The container is not running.</exception>
    public async Task<string> CreateExecAsync(string containerId, ContainerExecCreateParameters request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var created = await Call($"POST /containers/{containerId}/exec", () => _client.Exec.CreateContainerExecAsync(containerId, request, cancellationToken), containerId)
            .ConfigureAwait(false);
        return created.ID;
    }

    /// <summary>A TTY exec's terminal size.</summary>
    public Task ResizeExecAsync(string execId, int columns, int rows, CancellationToken cancellationToken = default) =>
        Call($"POST /exec/{execId}/resize", () => _client.Exec.ResizeExecTtyAsync(execId, new ContainerResizeParameters { Width = columns, Height = rows }, cancellationToken));

    public Task<ContainerExecInspectResponse> InspectExecAsync(string execId, CancellationToken cancellationToken = default) =>
        Call($"GET /exec/{execId}/json", () => _client.Exec.InspectContainerExecAsync(execId, cancellationToken));

    /// <summary>
    /// Starts an exec on a hijacked connection: stdin is written raw, output arrives as frames (a TTY exec's raw
    /// output, <paramref name="tty"/>, is handed out as stdout frames). Dispose the stream to drop the connection.
    /// </summary>
    public async Task<DockerAttachedStream> StartExecAttachedAsync(string execId, CancellationToken cancellationToken = default, bool tty = false)
    {
        var stream = await Call($"POST /exec/{execId}/start", () => _client.Exec.StartContainerExecAsync(execId, new ContainerExecStartParameters { Detach = false, TTY = tty }, cancellationToken))
            .ConfigureAwait(false);
        return new DockerAttachedStream(stream, Endpoint);
    }

    /// <summary>
    /// Runs a command to completion and collects its output: create, start (output read to the end), inspect.
    /// A missing binary is not an error here: the exit code is 126/127 and the shell's message is in the output.
    /// </summary>
    public async Task<ExecOutput> RunExecAsync(
        string containerId, string[] cmd, string? user = null, string? workingDir = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cmd);
        var execId = await CreateExecAsync(
                containerId,
                new ContainerExecCreateParameters { Cmd = cmd, User = user ?? "", WorkingDir = workingDir ?? "", AttachStdout = true, AttachStderr = true },
                cancellationToken)
            .ConfigureAwait(false);

        string stdout, stderr;
        await using (var attached = await StartExecAttachedAsync(execId, cancellationToken).ConfigureAwait(false))
        {
            (stdout, stderr) = await attached.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        var exitCode = await WaitForExecExitCodeAsync(execId, cancellationToken).ConfigureAwait(false);
        return new ExecOutput(exitCode, stdout, stderr);
    }

    internal async Task<int> WaitForExecExitCodeAsync(string execId, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ExecExitGrace;
        var pause = TimeSpan.FromMilliseconds(2);
        while (true)
        {
            var inspect = await InspectExecAsync(execId, cancellationToken).ConfigureAwait(false);
            if (!inspect.Running && inspect.ExitCode is { } exitCode)
            {
                return (int)exitCode;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new DockerEngineException($"Docker exec '{execId}' closed its output but reported no exit code within {ExecExitGrace.TotalSeconds:0} s.");
            }

            await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
        }
    }

    // ---- Archives ----

    /// <summary>Extracts a tar stream into an existing directory of the container.</summary>
    public Task PutArchiveAsync(string containerId, string containerPath, Stream tar, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        ArgumentNullException.ThrowIfNull(tar);
        return Call($"PUT /containers/{containerId}/archive", () => _client.Containers.ExtractArchiveToContainerAsync(
            containerId, new CopyToContainerParameters { Path = containerPath }, tar, cancellationToken), containerId);
    }

    /// <summary>A tar stream of the file or directory. The caller disposes it.</summary>
    public async Task<Stream> GetArchiveAsync(string containerId, string containerPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        var archive = await Call($"GET /containers/{containerId}/archive", () => _client.Containers.GetArchiveFromContainerAsync(
            containerId, new ContainerPathStatParameters { Path = containerPath }, statOnly: false, cancellationToken), containerId).ConfigureAwait(false);
        return archive.Stream is { } stream
            ? new EmptyReadGuardStream(stream)
            : throw new DockerEngineException($"Docker engine sent no archive of {containerPath} in container '{containerId}'.");
    }

    public void Dispose() => _client.Dispose();

    // ---- Plumbing ----

    private async Task<T> Call<T>(string operation, Func<Task<T>> action, string? containerId = null, string? image = null)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception exception) when (DockerEngineErrors.TryMap(exception, Endpoint, operation, containerId, image, out var mapped))
        {
            throw mapped;
        }
    }

    private Task Call(string operation, Func<Task> action, string? containerId = null, string? image = null) =>
        Call(operation, async () =>
        {
            await action().ConfigureAwait(false);
            return 0;
        }, containerId, image);

    /// <summary>Client certificate from cert.pem/key.pem; the server must chain to ca.pem and name the host it was reached at.</summary>
    private static CertificateCredentials TlsCredentials(DockerEndpoint endpoint, string directory)
    {
        X509Certificate2 certificate, authority;
        try
        {
            certificate = DockerTlsCertificates.LoadCertificateFromPemFiles(Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"));
            authority = DockerTlsCertificates.LoadCertificateAuthorityFromPemFile(Path.Combine(directory, "ca.pem"));
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException(
                $"Docker endpoint '{endpoint.Address}' asks for TLS ({DockerEndpoint.TlsVerifyVariable}) but the certificates in {directory} (ca.pem, cert.pem, key.pem) could not be loaded: {e.Message}", e);
        }

        var chainsToAuthority = DockerTlsCertificates.CreateCertificateAuthorityValidationCallback(authority);
        return new CertificateCredentials(certificate)
        {
            ServerCertificateValidationCallback = (sender, serverCertificate, chain, errors) =>
                (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
                && chainsToAuthority(sender, serverCertificate, chain, errors),
        };
    }
}

/// <summary>The result of <see cref="DockerEngineClient.RunExecAsync"/>.</summary>
internal sealed record ExecOutput(int ExitCode, string Stdout, string Stderr);
