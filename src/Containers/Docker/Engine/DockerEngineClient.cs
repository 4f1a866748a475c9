using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// A small typed client for the Docker Engine API over a unix socket or plain TCP. Thread-safe.
/// The API version is negotiated on first use (the server's, capped at <see cref="HighestApiVersion"/>).
/// Failures surface as <see cref="DockerEngineException"/> and its subclasses, mapped in <see cref="DockerEngineErrors"/>.
/// </summary>
internal sealed class DockerEngineClient : IDisposable
{
    /// <summary>The newest API version this client was written against.</summary>
    public const string HighestApiVersion = "1.43";

    /// <summary>The oldest API version this client relies on (Engine 20.10).</summary>
    public const string LowestApiVersion = "1.41";

    // The engine writes the exit code just before it closes the output; allow a short grace for the race.
    private static readonly TimeSpan ExecExitGrace = TimeSpan.FromSeconds(2);

    private readonly DockerEndpoint _endpoint;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _negotiation = new(1, 1);
    private volatile string? _apiVersion;

    private DockerEngineClient(DockerEndpoint endpoint)
    {
        _endpoint = endpoint;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
                new NetworkStream(await endpoint.ConnectAsync(cancellationToken).ConfigureAwait(false), ownsSocket: true),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = endpoint.BaseAddress,
            // Exec output, stop with a grace period and archives can legitimately take long: callers bound them with tokens.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("session-mcp", "1.0"));
    }

    /// <summary>The endpoint in use, e.g. <c>unix:///var/run/docker.sock</c>.</summary>
    public string Endpoint => _endpoint.Address;

    /// <summary>Creates a client for <paramref name="endpoint"/>, else <c>DOCKER_HOST</c>, else the default unix socket.</summary>
    /// <exception cref="ArgumentException">The endpoint is neither unix:// nor tcp://.</exception>
    public static DockerEngineClient Create(string? endpoint = null) => new(DockerEndpoint.Resolve(endpoint));

    // ---- System ----

    /// <summary>GET /version (unversioned). Also settles the API version if not yet negotiated.</summary>
    public async Task<DockerVersion> GetVersionAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(HttpMethod.Get, "/version", content: null, HttpCompletionOption.ResponseContentRead, imageName: null, cancellationToken)
            .ConfigureAwait(false);
        var version = await ReadJsonAsync(response, DockerEngineJsonContext.Default.DockerVersion, cancellationToken).ConfigureAwait(false);
        _apiVersion ??= NegotiateApiVersion(version.ApiVersion);
        return version;
    }

    /// <summary>The API version used in request paths, negotiated on first call.</summary>
    public async ValueTask<string> GetApiVersionAsync(CancellationToken cancellationToken = default)
    {
        if (_apiVersion is { } known)
        {
            return known;
        }

        await _negotiation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_apiVersion is null)
            {
                await GetVersionAsync(cancellationToken).ConfigureAwait(false);
            }

            return _apiVersion!;
        }
        finally
        {
            _negotiation.Release();
        }
    }

    /// <summary>GET /_ping; completes when the engine answers, throws <see cref="DockerEngineUnreachableException"/> when it does not.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(HttpMethod.Get, "/_ping", content: null, HttpCompletionOption.ResponseContentRead, imageName: null, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>The server's API version, capped at <see cref="HighestApiVersion"/> and floored at <see cref="LowestApiVersion"/>.</summary>
    internal static string NegotiateApiVersion(string? serverApiVersion)
    {
        var highest = Version.Parse(HighestApiVersion);
        var lowest = Version.Parse(LowestApiVersion);
        if (!Version.TryParse(serverApiVersion, out var server))
        {
            return LowestApiVersion;
        }

        var chosen = server > highest ? highest : server < lowest ? lowest : server;
        return string.Create(CultureInfo.InvariantCulture, $"{chosen.Major}.{chosen.Minor}");
    }

    // ---- Containers ----

    /// <summary>POST /containers/create; returns the new container's id.</summary>
    /// <exception cref="DockerImageNotFoundException">The image is not on the engine.</exception>
    /// <exception cref="DockerConflictException">The name is already in use.</exception>
    public async Task<string> CreateContainerAsync(ContainerCreateRequest request, string? name = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = name is null ? "/containers/create" : $"/containers/create?name={Uri.EscapeDataString(name)}";
        using var response = await SendAsync(HttpMethod.Post, path, Json(request, DockerEngineJsonContext.Default.ContainerCreateRequest), request.Image, cancellationToken)
            .ConfigureAwait(false);
        var created = await ReadJsonAsync(response, DockerEngineJsonContext.Default.ContainerCreateResponse, cancellationToken).ConfigureAwait(false);
        return created.Id;
    }

    /// <summary>POST /containers/{id}/start; starting a running container is not an error.</summary>
    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Post, $"/containers/{Segment(containerId)}/start", content: null, imageName: null, cancellationToken, notModifiedIsSuccess: true)
            .ConfigureAwait(false);
    }

    /// <summary>POST /containers/{id}/stop: the stop signal, then SIGKILL after <paramref name="timeoutSeconds"/> (engine default if null).</summary>
    public async Task StopContainerAsync(string containerId, int? timeoutSeconds = null, CancellationToken cancellationToken = default)
    {
        var path = $"/containers/{Segment(containerId)}/stop" + (timeoutSeconds is { } seconds ? $"?t={seconds.ToString(CultureInfo.InvariantCulture)}" : "");
        using var response = await SendAsync(HttpMethod.Post, path, content: null, imageName: null, cancellationToken, notModifiedIsSuccess: true).ConfigureAwait(false);
    }

    /// <summary>POST /containers/{id}/kill.</summary>
    /// <exception cref="DockerConflictException">The container is not running.</exception>
    public async Task KillContainerAsync(string containerId, string signal = "SIGKILL", CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(
                HttpMethod.Post, $"/containers/{Segment(containerId)}/kill?signal={Uri.EscapeDataString(signal)}", content: null, imageName: null, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>DELETE /containers/{id}.</summary>
    public async Task RemoveContainerAsync(string containerId, bool force = false, bool removeVolumes = false, CancellationToken cancellationToken = default)
    {
        var path = $"/containers/{Segment(containerId)}?force={Flag(force)}&v={Flag(removeVolumes)}";
        using var response = await SendAsync(HttpMethod.Delete, path, content: null, imageName: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET /containers/{id}/json.</summary>
    /// <exception cref="DockerContainerNotFoundException">No such container.</exception>
    public async Task<ContainerInspect> InspectContainerAsync(string containerId, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/containers/{Segment(containerId)}/json", content: null, imageName: null, cancellationToken)
            .ConfigureAwait(false);
        return await ReadJsonAsync(response, DockerEngineJsonContext.Default.ContainerInspect, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET /containers/json filtered by labels: a null value matches any value of that label.</summary>
    public async Task<IReadOnlyList<ContainerSummary>> ListContainersAsync(
        IReadOnlyDictionary<string, string?> labelFilters, bool all = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labelFilters);
        var filters = new Dictionary<string, List<string>>
        {
            ["label"] = labelFilters.Select(label => label.Value is null ? label.Key : $"{label.Key}={label.Value}").ToList(),
        };
        var filterJson = JsonSerializer.Serialize(filters, DockerEngineJsonContext.Default.DictionaryStringListString);
        var path = $"/containers/json?all={Flag(all)}&filters={Uri.EscapeDataString(filterJson)}";
        using var response = await SendAsync(HttpMethod.Get, path, content: null, imageName: null, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, DockerEngineJsonContext.Default.IReadOnlyListContainerSummary, cancellationToken).ConfigureAwait(false);
    }

    // ---- Images ----

    /// <summary>GET /images/{name}/json.</summary>
    /// <exception cref="DockerImageNotFoundException">The image is not on the engine.</exception>
    public async Task<ImageInspect> InspectImageAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        using var response = await SendAsync(HttpMethod.Get, $"/images/{Uri.EscapeDataString(image)}/json", content: null, image, cancellationToken)
            .ConfigureAwait(false);
        return await ReadJsonAsync(response, DockerEngineJsonContext.Default.ImageInspect, cancellationToken).ConfigureAwait(false);
    }

    // ---- Exec ----

    /// <summary>POST /containers/{id}/exec; returns the exec id.</summary>
    /// <exception cref="DockerConflictException">The container is not running.</exception>
    public async Task<string> CreateExecAsync(string containerId, ExecCreateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var response = await SendAsync(
                HttpMethod.Post, $"/containers/{Segment(containerId)}/exec", Json(request, DockerEngineJsonContext.Default.ExecCreateRequest), imageName: null, cancellationToken)
            .ConfigureAwait(false);
        var created = await ReadJsonAsync(response, DockerEngineJsonContext.Default.ExecCreateResponse, cancellationToken).ConfigureAwait(false);
        return created.Id;
    }

    /// <summary>POST /exec/{id}/resize: a TTY exec's terminal size.</summary>
    public async Task ResizeExecAsync(string execId, int columns, int rows, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(
                HttpMethod.Post, FormattableString.Invariant($"/exec/{Segment(execId)}/resize?h={rows}&w={columns}"), content: null, imageName: null, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>GET /exec/{id}/json.</summary>
    public async Task<ExecInspect> InspectExecAsync(string execId, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, $"/exec/{Segment(execId)}/json", content: null, imageName: null, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, DockerEngineJsonContext.Default.ExecInspect, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts an exec on a hijacked connection: stdin is written raw, output arrives as frames (a TTY exec's raw
    /// output, <paramref name="tty"/>, is handed out as stdout frames). Dispose the stream to drop the connection.
    /// </summary>
    public async Task<DockerAttachedStream> StartExecAttachedAsync(string execId, CancellationToken cancellationToken = default, bool tty = false)
    {
        var apiVersion = await GetApiVersionAsync(cancellationToken).ConfigureAwait(false);
        var requestUri = new Uri(_endpoint.BaseAddress, $"/v{apiVersion}/exec/{Segment(execId)}/start");
        var body = JsonSerializer.SerializeToUtf8Bytes(new ExecStartRequest(Detach: false, Tty: tty), DockerEngineJsonContext.Default.ExecStartRequest);

        Socket? socket = null;
        NetworkStream? network = null;
        try
        {
            socket = await _endpoint.ConnectAsync(cancellationToken).ConfigureAwait(false);
            network = new NetworkStream(socket, ownsSocket: false);
            var upgrade = await DockerHttpUpgrade.SendAsync(network, _endpoint.HostHeader, HttpMethod.Post, requestUri, body, cancellationToken)
                .ConfigureAwait(false);
            if (!upgrade.IsHijacked)
            {
                using (upgrade.Head)
                {
                    throw await DockerEngineErrors.ToExceptionAsync(upgrade.Head, imageName: null, cancellationToken).ConfigureAwait(false);
                }
            }

            var attached = new DockerAttachedStream(socket, network, upgrade.AlreadyRead, raw: tty);
            socket = null;
            network = null;
            return attached;
        }
        catch (Exception exception) when (DockerEngineErrors.TryMapTransportFailure(exception, Endpoint, out var mapped))
        {
            throw mapped;
        }
        finally
        {
            network?.Dispose();
            socket?.Dispose();
        }
    }

    /// <summary>
    /// Runs a command to completion and collects its output: create, start (output streamed to the end), inspect.
    /// A missing binary is not an error here: the exit code is 126/127 and the shell's message is in the output.
    /// </summary>
    public async Task<ExecOutput> RunExecAsync(
        string containerId, string[] cmd, string? user = null, string? workingDir = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cmd);
        var execId = await CreateExecAsync(
                containerId,
                new ExecCreateRequest { Cmd = cmd, User = user, WorkingDir = workingDir, AttachStdout = true, AttachStderr = true },
                cancellationToken)
            .ConfigureAwait(false);

        var stdout = new ArrayBufferWriter<byte>();
        var stderr = new ArrayBufferWriter<byte>();
        using (var response = await SendAsync(
                       HttpMethod.Post,
                       $"/exec/{Segment(execId)}/start",
                       Json(new ExecStartRequest(Detach: false, Tty: false), DockerEngineJsonContext.Default.ExecStartRequest),
                       imageName: null,
                       cancellationToken,
                       completion: HttpCompletionOption.ResponseHeadersRead)
                   .ConfigureAwait(false))
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var demultiplexer = new DockerStreamDemultiplexer(body);
                while (await demultiplexer.ReadFrameAsync(cancellationToken).ConfigureAwait(false) is { } frame)
                {
                    switch (frame.Stream)
                    {
                        case DockerStreamKind.Stdout:
                            stdout.Write(frame.Payload.Span);
                            break;
                        case DockerStreamKind.Stderr:
                            stderr.Write(frame.Payload.Span);
                            break;
                        case DockerStreamKind.SystemError:
                            throw new DockerEngineException(
                                $"Docker engine failed during exec in container '{containerId}': {Encoding.UTF8.GetString(frame.Payload.Span)}",
                                engineMessage: Encoding.UTF8.GetString(frame.Payload.Span));
                    }
                }
            }
        }

        var exitCode = await WaitForExecExitCodeAsync(execId, cancellationToken).ConfigureAwait(false);
        return new ExecOutput(exitCode, Encoding.UTF8.GetString(stdout.WrittenSpan), Encoding.UTF8.GetString(stderr.WrittenSpan));
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
                return exitCode;
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

    /// <summary>PUT /containers/{id}/archive: extracts a tar stream into an existing directory of the container.</summary>
    public async Task PutArchiveAsync(string containerId, string containerPath, Stream tar, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        ArgumentNullException.ThrowIfNull(tar);
        var content = new StreamContent(tar);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        var path = $"/containers/{Segment(containerId)}/archive?path={Uri.EscapeDataString(containerPath)}";
        using var response = await SendAsync(HttpMethod.Put, path, content, imageName: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET /containers/{id}/archive: a tar stream of the file or directory. The caller disposes it.</summary>
    public async Task<Stream> GetArchiveAsync(string containerId, string containerPath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerPath);
        var path = $"/containers/{Segment(containerId)}/archive?path={Uri.EscapeDataString(containerPath)}";
        var response = await SendAsync(HttpMethod.Get, path, content: null, imageName: null, cancellationToken, completion: HttpCompletionOption.ResponseHeadersRead)
            .ConfigureAwait(false);
        try
        {
            // Disposing the content stream releases the connection; the response itself holds nothing else.
            return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _negotiation.Dispose();
    }

    // ---- Plumbing ----

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string pathAndQuery,
        HttpContent? content,
        string? imageName,
        CancellationToken cancellationToken,
        bool notModifiedIsSuccess = false,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        var apiVersion = await GetApiVersionAsync(cancellationToken).ConfigureAwait(false);
        var response = await SendRawAsync(method, $"/v{apiVersion}{pathAndQuery}", content, completion, imageName, cancellationToken, notModifiedIsSuccess)
            .ConfigureAwait(false);
        return response;
    }

    /// <summary>Sends one request; returns a successful response or throws the mapped exception.</summary>
    private async Task<HttpResponseMessage> SendRawAsync(
        HttpMethod method,
        string pathAndQuery,
        HttpContent? content,
        HttpCompletionOption completion,
        string? imageName,
        CancellationToken cancellationToken,
        bool notModifiedIsSuccess = false)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery) { Content = content, Version = HttpVersion.Version11 };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (DockerEngineErrors.TryMapTransportFailure(exception, Endpoint, out var mapped))
        {
            throw mapped;
        }

        if (response.IsSuccessStatusCode || (notModifiedIsSuccess && response.StatusCode == HttpStatusCode.NotModified))
        {
            return response;
        }

        using (response)
        {
            throw await DockerEngineErrors.ToExceptionAsync(response, imageName, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(body, typeInfo, cancellationToken).ConfigureAwait(false)
                   ?? throw new DockerEngineException(
                       $"Docker engine answered {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} with an empty body.");
        }
    }

    private static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static string Segment(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        return Uri.EscapeDataString(id);
    }

    private static string Flag(bool value) => value ? "1" : "0";
}
