using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Tests.Docker.Engine;

public sealed class DockerEndpointTests
{
    [Fact]
    public void AUnixAddressNamesTheSocketPath()
    {
        // Given / When
        var endpoint = DockerEndpoint.Parse("unix:///var/run/docker.sock");

        // Then
        Assert.True(endpoint.IsUnixSocket);
        Assert.Equal("/var/run/docker.sock", endpoint.UnixSocketPath);
        Assert.Equal("unix:///var/run/docker.sock", endpoint.Address);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:2376", "127.0.0.1", 2376)]
    [InlineData("tcp://docker-host", "docker-host", 2375)]
    [InlineData("tcp://[::1]:2375/", "::1", 2375)]
    [InlineData("http://localhost:80", "localhost", 80)]
    public void ATcpAddressNamesHostAndPort(string address, string host, int port)
    {
        // Given / When
        var endpoint = DockerEndpoint.Parse(address);

        // Then
        Assert.False(endpoint.IsUnixSocket);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
    }

    [Theory]
    [InlineData("npipe:////./pipe/docker_engine")]
    [InlineData("https://docker:2376")]
    [InlineData("unix://relative.sock")]
    [InlineData("/var/run/docker.sock")]
    public void UnsupportedAddressesAreRejectedWithTheAddressInTheMessage(string address)
    {
        // Given / When
        var exception = Assert.Throws<ArgumentException>(() => DockerEndpoint.Parse(address));

        // Then
        Assert.Contains(address, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExplicitEndpointWinsOverTheDefault()
    {
        // Given / When
        using var client = DockerEngineClient.Create("tcp://127.0.0.1:2375");

        // Then
        Assert.Equal("tcp://127.0.0.1:2375", client.Endpoint);
    }

    [Theory]
    [InlineData("1.41", "1.41")]
    [InlineData("1.42", "1.42")]
    [InlineData("1.43", "1.43")]
    [InlineData("1.51", "1.43")]
    [InlineData("2.0", "1.43")]
    [InlineData("1.40", "1.41")]
    [InlineData("garbage", "1.41")]
    [InlineData(null, "1.41")]
    public void TheNegotiatedApiVersionIsTheServersCappedAtWhatWeCodedAgainst(string? server, string expected)
    {
        // Given / When
        var negotiated = DockerEngineClient.NegotiateApiVersion(server);

        // Then
        Assert.Equal(expected, negotiated);
    }

    [Fact]
    public void AChunkedErrorBodyIsDecodedOnlyOnceComplete()
    {
        // Given
        var complete = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"u8.ToArray();

        // When
        var incomplete = DockerHttpUpgrade.TryDecodeChunked(complete.AsSpan(0, 12), out _);
        var decoded = DockerHttpUpgrade.TryDecodeChunked(complete, out var body);

        // Then
        Assert.False(incomplete);
        Assert.True(decoded);
        Assert.Equal("hello world", System.Text.Encoding.ASCII.GetString(body));
    }
}
