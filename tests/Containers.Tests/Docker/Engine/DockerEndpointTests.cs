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
        Assert.Equal("/var/run/docker.sock", endpoint.Uri.LocalPath);
        Assert.Null(endpoint.TlsCertificateDirectory);
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
        Assert.Equal("tcp", endpoint.Uri.Scheme);
        Assert.Equal(host, endpoint.Uri.Host.Trim('[', ']'));
        Assert.Equal(port, endpoint.Uri.Port);
    }

    [Fact]
    public void ATlsAddressWithoutAPortIsOnDockersTlsPort()
    {
        // Given / When
        var endpoint = DockerEndpoint.Parse("tcp://docker-host", tlsCertificateDirectory: "/etc/docker-certs");

        // Then
        Assert.Equal(2376, endpoint.Uri.Port);
        Assert.Equal("/etc/docker-certs", endpoint.TlsCertificateDirectory);
    }

    [Fact]
    public void ATlsEndpointWithoutItsCertificatesFailsNamingTheDirectory()
    {
        // Given
        var directory = Path.Combine(Path.GetTempPath(), $"session-mcp-no-certs-{Guid.NewGuid():N}");

        // When
        var exception = Assert.Throws<ArgumentException>(() => DockerEngineClient.Create(DockerEndpoint.Parse("tcp://127.0.0.1:2376", directory)));

        // Then
        Assert.Contains(directory, exception.Message, StringComparison.Ordinal);
        Assert.Contains("ca.pem, cert.pem, key.pem", exception.Message, StringComparison.Ordinal);
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
    [InlineData("1", "/certs", "/certs")]
    [InlineData("1", null, "~/.docker")]
    [InlineData("", "/certs", null)]
    [InlineData("0", "/certs", null)]
    [InlineData(null, "/certs", null)]
    public void TlsIsTakenFromTheEnvironmentAsTheDockerCliTakesIt(string? tlsVerify, string? certPath, string? expected)
    {
        // Given
        var environment = new Dictionary<string, string?>
        {
            ["DOCKER_HOST"] = "tcp://engine.example:2376",
            ["DOCKER_TLS_VERIFY"] = tlsVerify,
            ["DOCKER_CERT_PATH"] = certPath,
        };

        // When
        var endpoint = DockerEndpoint.Resolve(null, name => environment.GetValueOrDefault(name));

        // Then
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(expected?.Replace("~", home, StringComparison.Ordinal), endpoint.TlsCertificateDirectory);
        Assert.Equal("tcp://engine.example:2376", endpoint.Address);
    }
}
