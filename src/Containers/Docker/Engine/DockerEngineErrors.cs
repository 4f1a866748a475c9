using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using Docker.DotNet;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// The one place where the library's answers (<see cref="DockerApiException"/>) and transport failures become typed
/// exceptions, so callers can catch <see cref="DockerContainerNotFoundException"/> instead of parsing status codes.
/// </summary>
internal static class DockerEngineErrors
{
    // Error bodies are short JSON; anything longer is not worth carrying into an exception message.
    private const int MaxEngineMessageLength = 2000;

    /// <summary>Maps a failure of <paramref name="operation"/> (e.g. <c>POST /containers/abc/exec</c>); false for anything else (cancellation, bugs).</summary>
    /// <param name="containerId">The container the request was about, if any, so a 404 can name it.</param>
    /// <param name="image">The image the request was about, if any, so a 404 on create can name it.</param>
    public static bool TryMap(
        Exception exception, string endpoint, string operation, string? containerId, string? image, [NotNullWhen(true)] out DockerEngineException? mapped)
    {
        mapped = exception switch
        {
            DockerEngineException already => already,
            DockerApiException answer => FromAnswer(answer.StatusCode, answer.ResponseBody, operation, containerId, image),
            _ => FromTransport(exception, endpoint),
        };
        return mapped is not null;
    }

    /// <summary>The typed exception for an engine's error answer.</summary>
    public static DockerEngineException FromAnswer(HttpStatusCode status, string? body, string operation, string? containerId, string? image)
    {
        var engineMessage = EngineMessage(body);
        if (status == HttpStatusCode.NotFound)
        {
            var isImageRequest = operation.Contains(" /images/", StringComparison.Ordinal);
            var isCreate = operation.EndsWith("/containers/create", StringComparison.Ordinal);
            if (image is not null && (isImageRequest || (isCreate && (engineMessage?.Contains("No such image", StringComparison.OrdinalIgnoreCase) ?? true))))
            {
                return new DockerImageNotFoundException(image, engineMessage);
            }

            if (containerId is not null && !IsMissingFileInsideContainer(operation, engineMessage))
            {
                return new DockerContainerNotFoundException(containerId, engineMessage);
            }
        }

        var summary = $"Docker engine answered {(int)status} {status} to {operation}";
        var message = engineMessage is null ? summary + "." : $"{summary}: {engineMessage}";
        return status == HttpStatusCode.Conflict
            ? new DockerConflictException(message, engineMessage)
            : new DockerEngineException(message, status, engineMessage);
    }

    /// <summary>A failure to connect (or a connection that broke before an answer), naming the endpoint; null when it is not one.</summary>
    private static DockerEngineException? FromTransport(Exception exception, string endpoint) => exception switch
    {
        HttpRequestException { InnerException: SocketException }
            or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
            or SocketException
            or IOException { InnerException: SocketException }
            // The library's TCP connect tries each address of the host and throws them all together.
            or AggregateException { InnerExceptions: [SocketException, ..] } => new DockerEngineUnreachableException(endpoint, exception),
        AuthenticationException or HttpRequestException { InnerException: AuthenticationException } or IOException { InnerException: AuthenticationException } =>
            new DockerEngineException(
                $"Docker engine at {endpoint} failed the TLS handshake ({exception.GetBaseException().Message}): check that DOCKER_CERT_PATH's ca.pem signed the engine's certificate, that it names the host, and that the engine accepts cert.pem",
                innerException: exception),
        HttpRequestException or IOException => new DockerEngineException($"Docker engine at {endpoint} broke off the exchange: {exception.Message}", innerException: exception),
        _ => null,
    };

    private static string? EngineMessage(string? body)
    {
        body = body?.Trim();
        if (string.IsNullOrEmpty(body))
        {
            return null;
        }

        if (body[0] == '{')
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                if (document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("message", out var message)
                    && message.ValueKind == JsonValueKind.String
                    && !string.IsNullOrWhiteSpace(message.GetString()))
                {
                    return Truncate(message.GetString()!.Trim());
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
    private static bool IsMissingFileInsideContainer(string operation, string? engineMessage) =>
        operation.EndsWith("/archive", StringComparison.Ordinal)
        && !(engineMessage?.StartsWith("No such container", StringComparison.OrdinalIgnoreCase) ?? false);
}
