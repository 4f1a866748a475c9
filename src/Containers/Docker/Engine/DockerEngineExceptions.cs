using System.Net;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>The engine answered with an error, or could not be talked to at all.</summary>
internal class DockerEngineException : Exception
{
    public DockerEngineException(string message, HttpStatusCode? statusCode = null, string? engineMessage = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        EngineMessage = engineMessage;
    }

    /// <summary>The HTTP status the engine answered with; null when no answer came.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The engine's own explanation (the <c>message</c> field of its error body), if any.</summary>
    public string? EngineMessage { get; }
}

internal sealed class DockerContainerNotFoundException(string containerId, string? engineMessage)
    : DockerEngineException($"Docker container '{containerId}' not found on the engine.", HttpStatusCode.NotFound, engineMessage)
{
    public string ContainerId { get; } = containerId;
}

internal sealed class DockerImageNotFoundException(string image, string? engineMessage)
    : DockerEngineException(
        $"Docker image '{image}' not found on the engine; build it (see samples/images/build-image.sh) or set another image.",
        HttpStatusCode.NotFound,
        engineMessage)
{
    public string Image { get; } = image;
}

/// <summary>409: e.g. a name already in use, or exec in a container that is not running.</summary>
internal sealed class DockerConflictException(string message, string? engineMessage)
    : DockerEngineException(message, HttpStatusCode.Conflict, engineMessage);

internal sealed class DockerEngineUnreachableException(string endpoint, Exception innerException)
    : DockerEngineException($"Docker engine not reachable at {endpoint}: is dockerd running?", statusCode: null, engineMessage: null, innerException)
{
    public string Endpoint { get; } = endpoint;
}
