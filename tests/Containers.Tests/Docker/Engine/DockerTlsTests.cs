using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Docker.DotNet.Models;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Docker.Engine;

/// <summary>
/// The real engine reached over TLS with client certificates: socat (OpenSSL) listens on loopback, demands a client
/// certificate signed by the test's CA, and forwards to the engine's unix socket. The certificates are made here.
/// </summary>
public sealed class DockerTlsTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("session-mcp-tls-").FullName;
    private TlsEngineProxy? _proxy;

    public async Task InitializeAsync()
    {
        DockerRequirement.ThrowIfUnavailable();
        TlsProxyFactAttribute.ThrowIfUnavailable();
        if (TlsProxyFactAttribute.SkipReason is not null)
        {
            return;
        }
        TestCertificates.Write(Path.Combine(_directory, "server"), Path.Combine(_directory, "client"));
        _proxy = await TlsEngineProxy.StartAsync(Path.Combine(_directory, "server"), new Uri(DockerRequirement.Endpoint).LocalPath);
    }

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [TlsProxyFact]
    public async Task AClientWithCertificatesFromTheEnvironmentRunsCommandsInAContainerOverTls()
    {
        // Given: the engine's address and certificates as the docker CLI takes them
        var environment = new Dictionary<string, string>
        {
            [DockerEndpoint.EnvironmentVariable] = $"tcp://127.0.0.1:{_proxy!.Port}",
            [DockerEndpoint.TlsVerifyVariable] = "1",
            [DockerEndpoint.CertPathVariable] = Path.Combine(_directory, "client"),
        };
        using var client = DockerEngineClient.Create(DockerEndpoint.Resolve(null, environment.GetValueOrDefault));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var containerId = await client.CreateContainerAsync(
            new CreateContainerParameters { Image = DockerTestImage.Name, Cmd = ["sleep", "600"], HostConfig = new HostConfig { NetworkMode = "none" } },
            $"session-mcp-tls-test-{Guid.NewGuid():N}",
            timeout.Token);
        try
        {
            await client.StartContainerAsync(containerId, timeout.Token);

            // When: a command to completion, and a shell attached on a hijacked connection
            var output = await client.RunExecAsync(containerId, ["sh", "-c", "echo over-tls; echo err >&2; exit 4"], cancellationToken: timeout.Token);
            var execId = await client.CreateExecAsync(containerId, new ContainerExecCreateParameters { Cmd = ["/bin/sh"], AttachStdin = true, AttachStdout = true, AttachStderr = true }, timeout.Token);
            await using var attached = await client.StartExecAttachedAsync(execId, timeout.Token);
            await attached.WriteAsync("echo attached\n"u8.ToArray(), timeout.Token);
            var stdout = new StringBuilder();
            while (!stdout.ToString().Contains('\n', StringComparison.Ordinal) && await attached.ReadFrameAsync(timeout.Token) is { } frame)
            {
                stdout.Append(Encoding.UTF8.GetString(frame.Payload.Span));
            }

            // Then
            Assert.True(client.UsesTls);
            Assert.Equal(new ExecOutput(4, "over-tls\n", "err\n"), output);
            Assert.Equal("attached\n", stdout.ToString());
        }
        finally
        {
            await client.RemoveContainerAsync(containerId, force: true, cancellationToken: CancellationToken.None);
        }
    }

    [TlsProxyFact]
    public async Task AnEngineWhoseCertificateTheConfiguredCaDidNotSignIsRefused()
    {
        // Given: the client's ca.pem is another CA's
        var otherClient = Path.Combine(_directory, "other");
        TestCertificates.Write(Path.Combine(_directory, "other-server"), otherClient);
        using var client = DockerEngineClient.Create(DockerEndpoint.Parse($"tcp://127.0.0.1:{_proxy!.Port}", otherClient));

        // When
        var exception = await Assert.ThrowsAsync<DockerEngineException>(() => client.GetVersionAsync());

        // Then
        Assert.Contains("TLS handshake", exception.Message, StringComparison.Ordinal);
        Assert.Contains($"tcp://127.0.0.1:{_proxy.Port}", exception.Message, StringComparison.Ordinal);
    }
}

/// <summary>Runs where socat is installed (.ci/start-docker.sh installs it); in CI (CI=true) a missing socat fails instead.</summary>
public sealed class TlsProxyFactAttribute : FactAttribute
{
    public TlsProxyFactAttribute()
    {
        if ((DockerRequirement.SkipReason ?? SkipReason) is { } reason)
        {
            Skip = reason;
        }
    }

    private static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static string? Missing =>
        TlsEngineProxy.SocatPath is null ? "socat is not installed (the TLS proxy in front of the engine): run .ci/start-docker.sh, which installs it"
        : !DockerRequirement.Endpoint.StartsWith("unix://", StringComparison.Ordinal) ? $"the engine is at {DockerRequirement.Endpoint}, not a unix socket the TLS proxy can forward to"
        : null;

    /// <summary>Why the TLS tests are skipped here; null when they run (always in CI).</summary>
    public static string? SkipReason => InCi ? null : Missing;

    public static void ThrowIfUnavailable()
    {
        if (InCi && Missing is { } reason)
        {
            throw new InvalidOperationException(reason);
        }
    }
}

/// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files the way Docker lays them out.</summary>
internal static class TestCertificates
{
    public static void Write(string serverDirectory, string clientDirectory)
    {
        Directory.CreateDirectory(serverDirectory);
        Directory.CreateDirectory(clientDirectory);
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=session-mcp test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));

        var server = new SubjectAlternativeNameBuilder();
        server.AddIpAddress(IPAddress.Loopback);
        Leaf(ca, "CN=127.0.0.1", "1.3.6.1.5.5.7.3.1", server.Build(), serverDirectory, now);
        Leaf(ca, "CN=session-mcp test client", "1.3.6.1.5.5.7.3.2", null, clientDirectory, now);
        File.WriteAllText(Path.Combine(serverDirectory, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(clientDirectory, "ca.pem"), ca.ExportCertificatePem());
    }

    private static void Leaf(X509Certificate2 ca, string subject, string usage, X509Extension? alternativeNames, string directory, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (alternativeNames is not null)
        {
            request.CertificateExtensions.Add(alternativeNames);
        }
        using var certificate = request.Create(ca, now.AddDays(-1), now.AddHours(23), RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(Path.Combine(directory, "cert.pem"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
    }
}

/// <summary>socat terminating TLS on a loopback port (client certificate required) and forwarding to the engine's socket.</summary>
internal sealed class TlsEngineProxy : IAsyncDisposable
{
    private readonly Process _process;

    private TlsEngineProxy(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public static string? SocatPath => new[] { "/usr/bin/socat", "/usr/local/bin/socat", "/bin/socat" }.FirstOrDefault(File.Exists);

    public int Port { get; }

    public static async Task<TlsEngineProxy> StartAsync(string certificates, string engineSocket)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var start = new ProcessStartInfo(SocatPath!)
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(
            $"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={certificates}/cert.pem,key={certificates}/key.pem,cafile={certificates}/ca.pem,verify=1");
        start.ArgumentList.Add($"UNIX-CONNECT:{engineSocket}");
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var proxy = new TlsEngineProxy(process, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var connection = new TcpClient();
                await connection.ConnectAsync(IPAddress.Loopback, port);
                return proxy;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
