using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Tests.Docker.Engine;

public sealed class DockerEngineErrorsTests
{
    [Fact]
    public void A404OnAContainerPathBecomesContainerNotFound()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(HttpStatusCode.NotFound, Body("No such container: abc123"), "GET /containers/abc123/json", "abc123", image: null);

        // Then
        var notFound = Assert.IsType<DockerContainerNotFoundException>(exception);
        Assert.Equal("abc123", notFound.ContainerId);
        Assert.Equal("No such container: abc123", notFound.EngineMessage);
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public void A404OnCreateNamesTheMissingImageAndHowToBuildIt()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(HttpStatusCode.NotFound, Body("No such image: acme/tool:1"), "POST /containers/create", containerId: null, "acme/tool:1");

        // Then
        var notFound = Assert.IsType<DockerImageNotFoundException>(exception);
        Assert.Equal(
            "Docker image 'acme/tool:1' not found on the engine; build it (see samples/images/build-image.sh) or set another image.",
            notFound.Message);
    }

    [Fact]
    public void A404OnImageInspectNamesTheImage()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(HttpStatusCode.NotFound, Body("No such image: acme/tool:1"), "GET /images/acme/tool:1/json", containerId: null, "acme/tool:1");

        // Then
        Assert.Equal("acme/tool:1", Assert.IsType<DockerImageNotFoundException>(exception).Image);
    }

    [Fact]
    public void A404ForAPathInsideAnExistingContainerIsNotContainerNotFound()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(
            HttpStatusCode.NotFound, Body("Could not find the file /nope in container abc"), "GET /containers/abc/archive", "abc", image: null);

        // Then
        Assert.IsType<DockerEngineException>(exception);
        Assert.Equal(HttpStatusCode.NotFound, exception.StatusCode);
    }

    [Fact]
    public void A409BecomesAConflictQuotingTheEngine()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(HttpStatusCode.Conflict, Body("Container abc is not running"), "POST /containers/abc/exec", "abc", image: null);

        // Then
        var conflict = Assert.IsType<DockerConflictException>(exception);
        Assert.Equal("Docker engine answered 409 Conflict to POST /containers/abc/exec: Container abc is not running", conflict.Message);
    }

    [Fact]
    public void AnyOtherErrorKeepsStatusAndTheRawBodyWhenItIsNotJson()
    {
        // Given / When
        var exception = DockerEngineErrors.FromAnswer(HttpStatusCode.InternalServerError, "runc exploded\n", "POST /containers/abc/start", "abc", image: null);

        // Then
        Assert.Equal(typeof(DockerEngineException), exception.GetType());
        Assert.Equal(HttpStatusCode.InternalServerError, exception.StatusCode);
        Assert.Equal("runc exploded", exception.EngineMessage);
    }

    [Fact]
    public async Task AMissingSocketFailsFastWithAnUnreachableErrorNamingTheEndpoint()
    {
        // Given
        const string endpoint = "unix:///tmp/nonexistent.sock";
        using var client = DockerEngineClient.Create(endpoint);
        var stopwatch = Stopwatch.StartNew();

        // When
        var exception = await Assert.ThrowsAsync<DockerEngineUnreachableException>(() => client.PingAsync());

        // Then
        Assert.Equal("Docker engine not reachable at unix:///tmp/nonexistent.sock: is dockerd running?", exception.Message);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task ASocketFileNobodyListensOnIsUnreachableToo()
    {
        // Given: a bound but never listening unix socket refuses connections
        var path = Path.Combine(Path.GetTempPath(), $"session-mcp-{Guid.NewGuid():N}.sock");
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(path));
        using var client = DockerEngineClient.Create("unix://" + path);

        try
        {
            // When
            var exception = await Assert.ThrowsAsync<DockerEngineUnreachableException>(() => client.GetVersionAsync());

            // Then
            Assert.Equal("unix://" + path, exception.Endpoint);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AttachingThroughAnUnreachableEndpointIsUnreachableAsWell()
    {
        // Given: a refused loopback port
        using var client = DockerEngineClient.Create("tcp://127.0.0.1:1");

        // When
        var exception = await Assert.ThrowsAsync<DockerEngineUnreachableException>(() => client.StartExecAttachedAsync("some-exec"));

        // Then
        Assert.Contains("tcp://127.0.0.1:1", exception.Message, StringComparison.Ordinal);
    }

    private static string Body(string engineMessage) => $$"""{"message":"{{engineMessage}}"}""";
}
