using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// The one place where engine answers and transport failures become typed exceptions,
/// so callers can catch <see cref="DockerContainerNotFoundException"/> instead of parsing status codes.
/// </summary>
internal static class DockerEngineErrors
{
    // Error bodies are short JSON; anything longer is not worth carrying into an exception message.
    private const int MaxEngineMessageLength = 2000;

    /// <summary>Throws the typed exception for an unsuccessful answer; does nothing for 2xx.</summary>
    /// <param name="imageName">The image the request was about, if any, so a 404 on create can name it.</param>
    public static async ValueTask EnsureSuccessAsync(HttpResponseMessage response, string? imageName, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        throw await ToExceptionAsync(response, imageName, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<DockerEngineException> ToExceptionAsync(HttpResponseMessage response, string? imageName, CancellationToken cancellationToken)
    {
        var engineMessage = await ReadEngineMessageAsync(response, cancellationToken).ConfigureAwait(false);
        var method = response.RequestMessage?.Method.Method ?? "?";
        var path = response.RequestMessage?.RequestUri?.AbsolutePath ?? "?";
        var status = response.StatusCode;

        if (status == HttpStatusCode.NotFound)
        {
            var isImageRequest = path.Contains("/images/", StringComparison.Ordinal);
            var isCreate = path.EndsWith("/containers/create", StringComparison.Ordinal);
            if (isImageRequest || (isCreate && (engineMessage?.Contains("No such image", StringComparison.OrdinalIgnoreCase) ?? true)))
            {
                return new DockerImageNotFoundException(imageName ?? ImageNameFromPath(path) ?? "?", engineMessage);
            }

            if (ContainerIdFromPath(path) is { } containerId && !IsMissingFileInsideContainer(path, engineMessage))
            {
                return new DockerContainerNotFoundException(containerId, engineMessage);
            }
        }

        var summary = $"Docker engine answered {(int)status} {status} to {method} {path}";
        var message = engineMessage is null ? summary + "." : $"{summary}: {engineMessage}";
        return status == HttpStatusCode.Conflict
            ? new DockerConflictException(message, engineMessage)
            : new DockerEngineException(message, status, engineMessage);
    }

    /// <summary>Maps a failure to connect (or a connection that broke before an answer) to an exception naming the endpoint.</summary>
    public static bool TryMapTransportFailure(Exception exception, string endpoint, [NotNullWhen(true)] out DockerEngineException? mapped)
    {
        switch (exception)
        {
            case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.ProxyTunnelError }:
            case HttpRequestException { InnerException: SocketException }:
            case SocketException:
            case IOException { InnerException: SocketException }:
                mapped = new DockerEngineUnreachableException(endpoint, exception);
                return true;
            case HttpRequestException other:
                mapped = new DockerEngineException($"Docker engine at {endpoint} broke off the exchange: {other.Message}", innerException: other);
                return true;
            default:
                mapped = null;
                return false;
        }
    }

    private static async Task<string?> ReadEngineMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            return null;
        }

        body = body.Trim();
        if (body.Length == 0)
        {
            return null;
        }

        if (body[0] == '{')
        {
            try
            {
                var error = JsonSerializer.Deserialize(body, DockerEngineJsonContext.Default.DockerErrorResponse);
                if (!string.IsNullOrWhiteSpace(error?.Message))
                {
                    return Truncate(error.Message.Trim());
                }
            }
            catch (JsonException)
            {
                // Not the engine's error shape: fall through to the raw body.
            }
        }

        return Truncate(body);
    }

    private static string Truncate(string text) =>
        text.Length <= MaxEngineMessageLength ? text : new StringBuilder(text, 0, MaxEngineMessageLength, MaxEngineMessageLength + 1).Append('…').ToString();

    // A 404 from the archive endpoints can mean the path inside an existing container is missing.
    private static bool IsMissingFileInsideContainer(string path, string? engineMessage) =>
        path.EndsWith("/archive", StringComparison.Ordinal)
        && !(engineMessage?.StartsWith("No such container", StringComparison.OrdinalIgnoreCase) ?? false);

    private static string? ContainerIdFromPath(string path) => SegmentAfter(path, "containers");

    private static string? ImageNameFromPath(string path)
    {
        // /v1.43/images/{name with slashes}/json
        var start = path.IndexOf("/images/", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var name = path[(start + "/images/".Length)..];
        var lastSlash = name.LastIndexOf('/');
        return Uri.UnescapeDataString(lastSlash > 0 ? name[..lastSlash] : name);
    }

    private static string? SegmentAfter(string path, string collection)
    {
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var index = Array.IndexOf(segments, collection);
        return index >= 0 && index + 1 < segments.Length && segments[index + 1] is not ("create" or "json")
            ? Uri.UnescapeDataString(segments[index + 1])
            : null;
    }
}
