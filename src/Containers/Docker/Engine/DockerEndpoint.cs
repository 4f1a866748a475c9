namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// Where the Docker engine listens and how to talk to it: a unix socket, or TCP (plain, or TLS with client certificates
/// the way the docker CLI takes them: <c>DOCKER_TLS_VERIFY</c> set and <c>ca.pem</c>, <c>cert.pem</c>, <c>key.pem</c> in
/// <c>DOCKER_CERT_PATH</c>, else <c>~/.docker</c>).
/// </summary>
internal sealed record DockerEndpoint
{
    public const string DefaultAddress = "unix:///var/run/docker.sock";
    public const string EnvironmentVariable = "DOCKER_HOST";
    public const string TlsVerifyVariable = "DOCKER_TLS_VERIFY";
    public const string CertPathVariable = "DOCKER_CERT_PATH";

    private DockerEndpoint(string address, Uri uri, string? tlsCertificateDirectory)
    {
        Address = address;
        Uri = uri;
        TlsCertificateDirectory = tlsCertificateDirectory;
    }

    /// <summary>The endpoint as configured, e.g. <c>unix:///var/run/docker.sock</c>; used in every error message.</summary>
    public string Address { get; }

    /// <summary>The endpoint as the library takes it: <c>unix:///path</c> or <c>tcp://host:port</c>.</summary>
    public Uri Uri { get; }

    public bool IsUnixSocket => Uri.Scheme == "unix";

    /// <summary>The directory holding ca.pem, cert.pem and key.pem when the engine is reached over TLS; null: no TLS.</summary>
    public string? TlsCertificateDirectory { get; }

    /// <summary>The explicit endpoint if given, else <c>DOCKER_HOST</c>, else the default unix socket; TLS from the environment.</summary>
    public static DockerEndpoint Resolve(string? explicitEndpoint) => Resolve(explicitEndpoint, Environment.GetEnvironmentVariable);

    /// <param name="environment">Reads an environment variable (the process's, or a test's own).</param>
    public static DockerEndpoint Resolve(string? explicitEndpoint, Func<string, string?> environment)
    {
        var address = explicitEndpoint;
        if (string.IsNullOrWhiteSpace(address))
        {
            address = environment(EnvironmentVariable);
        }

        var tlsVerify = environment(TlsVerifyVariable);
        var certPath = environment(CertPathVariable);
        // The CLI's rule: DOCKER_TLS_VERIFY set to anything but empty (or "0") turns TLS on.
        var useTls = !string.IsNullOrEmpty(tlsVerify) && tlsVerify != "0";
        var certificates = useTls
            ? string.IsNullOrWhiteSpace(certPath) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker") : certPath
            : null;
        return Parse(string.IsNullOrWhiteSpace(address) ? DefaultAddress : address.Trim(), certificates);
    }

    /// <param name="tlsCertificateDirectory">Where ca.pem, cert.pem and key.pem are, for a TLS endpoint; null: plain.</param>
    public static DockerEndpoint Parse(string address, string? tlsCertificateDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);

        if (address.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = address["unix://".Length..];
            if (path.Length == 0 || path[0] != '/')
            {
                throw new ArgumentException($"Docker endpoint '{address}' must name an absolute socket path, e.g. {DefaultAddress}.", nameof(address));
            }

            return new DockerEndpoint(address, new Uri("unix://" + path), tlsCertificateDirectory: null);
        }

        if (address.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)
            || address.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            var authority = address[(address.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/');
            if (!Uri.TryCreate("tcp://" + authority, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.AbsolutePath != "/")
            {
                throw new ArgumentException($"Docker endpoint '{address}' is not a valid tcp://host:port address.", nameof(address));
            }

            // Docker's convention: without a port, plain HTTP is on 2375 and TLS on 2376.
            var hasExplicitPort = authority.LastIndexOf(':') > authority.LastIndexOf(']');
            var port = hasExplicitPort ? uri.Port : tlsCertificateDirectory is null ? 2375 : 2376;
            return new DockerEndpoint(address, new UriBuilder("tcp", uri.Host, port).Uri, tlsCertificateDirectory);
        }

        throw new ArgumentException(
            $"Docker endpoint '{address}' is not supported: use unix:///path/to/docker.sock or tcp://host:port (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for TLS).",
            nameof(address));
    }
}
