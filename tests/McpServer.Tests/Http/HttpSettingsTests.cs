using Microsoft.AspNetCore.Http;
using SessionMcp.McpServer.Cli;
using SessionMcp.McpServer.Http;

namespace SessionMcp.McpServer.Tests.Http;

/// <summary><c>daemon --http</c>'s flags and settings, and the Host/Origin guard, as plain functions.</summary>
public sealed class HttpSettingsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void TheHttpFlagsAreDaemonOptions()
    {
        // Given / When
        var daemon = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["daemon", "--http", "--urls", "http://127.0.0.1:9000", "--http-allow-remote"]));
        var misplaced = Assert.IsType<CommandLineError>(CommandLineParser.Parse(["serve", "--http"]));

        // Then
        Assert.True(daemon.Http);
        Assert.Equal("http://127.0.0.1:9000", daemon.HttpUrls);
        Assert.True(daemon.HttpAllowRemote);
        Assert.Equal("--http is an option of daemon, not of serve", misplaced.Message);
    }

    [Fact]
    public void HttpIsOffUnlessAskedForAndLoopbackByDefault()
    {
        // Given / When
        var off = HttpSettings.Resolve(http: false, urls: null, allowRemote: false, NoEnvironment);
        var on = HttpSettings.Resolve(http: true, urls: null, allowRemote: false, NoEnvironment);
        var fromEnvironment = HttpSettings.Resolve(http: false, urls: null, allowRemote: false, name => name == "SESSION_MCP_HTTP_URLS" ? "http://[::1]:9001" : null);

        // Then
        Assert.Null(off);
        Assert.Equal([new Uri(HttpSettings.DefaultUrl)], on!.Urls);
        Assert.Equal("::1", fromEnvironment!.Urls[0].Host.Trim('[', ']'));
    }

    [Theory]
    [InlineData("http://0.0.0.0:8765", false, "--urls binds 0.0.0.0, which is not loopback")]
    [InlineData("http://example.org:8765", false, "--urls binds example.org, which is not loopback")]
    [InlineData("ftp://127.0.0.1:21", false, "--urls must be http(s)://HOST:PORT")]
    [InlineData("http://127.0.0.1:8765/mcp", false, "--urls must be http(s)://HOST:PORT")]
    [InlineData("https://127.0.0.1:8765", false, "SESSION_MCP_HTTP_CERT names no certificate")]
    public void BadOrRemoteUrlsAreRefusedWithTheReason(string urls, bool allowRemote, string expected)
    {
        // Given / When
        var error = Assert.Throws<ArgumentException>(() => HttpSettings.Resolve(http: true, urls, allowRemote, NoEnvironment));

        // Then
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARemoteBindNeedsTheExplicitFlag()
    {
        // Given / When
        var settings = HttpSettings.Resolve(http: true, "http://0.0.0.0:8765", allowRemote: true, NoEnvironment);

        // Then
        Assert.True(settings!.AllowRemote);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8765", "127.0.0.1:8765", null, true)]
    [InlineData("http://127.0.0.1:8765", "localhost:9000", null, true)]
    [InlineData("http://127.0.0.1:8765", "[::1]:8765", "http://localhost:3000", true)]
    [InlineData("http://127.0.0.1:8765", "127.0.0.1:8765", "http://127.0.0.1:8765", true)]
    [InlineData("http://127.0.0.1:8765", "attacker.example:8765", null, false)]
    [InlineData("http://127.0.0.1:8765", "127.0.0.1:8765", "http://attacker.example", false)]
    [InlineData("http://127.0.0.1:8765", "127.0.0.1:8765", "null", false)]
    [InlineData("http://10.0.0.5:8765", "10.0.0.5:8765", "https://10.0.0.5:8765", true)]
    [InlineData("http://10.0.0.5:8765", "localhost:8765", null, false)]
    [InlineData("http://0.0.0.0:8765", "build-box.lan:8765", null, true)]
    public void TheGuardAllowsOnlyBoundHostsAndSameHostOrigins(string url, string host, string? origin, bool allowed)
    {
        // Given a guard for the bind and a request
        var guard = new RequestOriginGuard(new HttpSettings([new Uri(url)], AllowRemote: true, CertificatePath: null, CertificateKeyPath: null));
        var context = new DefaultHttpContext();
        context.Request.Host = HostString.FromUriComponent(host);
        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        // When / Then
        Assert.Equal(allowed, guard.Problem(context.Request) is null);
    }
}
