using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Tests.Docker.Engine;

public sealed class DockerEngineErrorsTests
{
    [Fact]
    public async Task A404OnAContainerPathBecomesContainerNotFound()
    {
        // Given
        using var response = EngineAnswer(HttpStatusCode.NotFound, HttpMethod.Get, "/v1.41/containers/abc123/json", "No such container: abc123");

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: null, CancellationToken.None);

        // Then
        var notFound = Assert.IsType<DockerContainerNotFoundException>(exception);
        Assert.Equal("abc123", notFound.ContainerId);
        Assert.Equal("No such container: abc123", notFound.EngineMessage);
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public async Task A404OnCreateNamesTheMissingImageAndHowToBuildIt()
    {
        // Given
        using var response = EngineAnswer(HttpStatusCode.NotFound, HttpMethod.Post, "/v1.41/containers/create", "No such image: acme/tool:1");

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: "acme/tool:1", CancellationToken.None);

        // Then
        var notFound = Assert.IsType<DockerImageNotFoundException>(exception);
        Assert.Equal(
            "Docker image 'acme/tool:1' not found on the engine; build it (see samples/images/build-image.sh) or set another image.",
            notFound.Message);
    }

    [Fact]
    public async Task A404OnImageInspectNamesTheImageFromThePath()
    {
        // Given
        using var response = EngineAnswer(HttpStatusCode.NotFound, HttpMethod.Get, "/v1.41/images/acme%2Ftool%3A1/json", "No such image: acme/tool:1");

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: null, CancellationToken.None);

        // Then
        Assert.Equal("acme/tool:1", Assert.IsType<DockerImageNotFoundException>(exception).Image);
    }

    [Fact]
    public async Task A404ForAPathInsideAnExistingContainerIsNotContainerNotFound()
    {
        // Given
        using var response = EngineAnswer(
            HttpStatusCode.NotFound, HttpMethod.Get, "/v1.41/containers/abc/archive", "Could not find the file /nope in container abc");

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: null, CancellationToken.None);

        // Then
        Assert.IsType<DockerEngineException>(exception);
        Assert.Equal(HttpStatusCode.NotFound, exception.StatusCode);
    }

    [Fact]
    public async Task A409BecomesAConflictQuotingTheEngine()
    {
        // Given
        using var response = EngineAnswer(HttpStatusCode.Conflict, HttpMethod.Post, "/v1.41/containers/abc/exec", "Container abc is not running");

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: null, CancellationToken.None);

        // Then
        var conflict = Assert.IsType<DockerConflictException>(exception);
        Assert.Equal("Docker engine answered 409 Conflict to POST /v1.41/containers/abc/exec: Container abc is not running", conflict.Message);
    }

    [Fact]
    public async Task AnyOtherErrorKeepsStatusAndTheRawBodyWhenItIsNotJson()
    {
        // Given
        using var response = new HttpResponseMessage(HttpStatusCode.InternalServerError)
        {
            RequestMessage = new HttpRequestMessage(HttpMethod.Post, "http://docker.sock/v1.41/containers/abc/start"),
            Content = new StringContent("runc exploded\n"),
        };

        // When
        var exception = await DockerEngineErrors.ToExceptionAsync(response, imageName: null, CancellationToken.None);

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

    private static HttpResponseMessage EngineAnswer(HttpStatusCode status, HttpMethod method, string path, string engineMessage) =>
        new(status)
        {
            RequestMessage = new HttpRequestMessage(method, "http://docker.sock" + path),
            Content = new StringContent($$"""{"message":"{{engineMessage}}"}""", Encoding.UTF8, "application/json"),
        };
}
