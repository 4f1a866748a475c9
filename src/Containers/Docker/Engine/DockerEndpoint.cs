using System.Net;
using System.Net.Sockets;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>Where the Docker engine listens: a unix socket path or a TCP host and port (plain HTTP).</summary>
internal sealed record DockerEndpoint
{
    public const string DefaultAddress = "unix:///var/run/docker.sock";
    public const string EnvironmentVariable = "DOCKER_HOST";

    // A missing socket file or a refused port fails at once; this only bounds a peer that never answers.
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    private DockerEndpoint(string address, string? unixSocketPath, string? host, int port)
    {
        Address = address;
        UnixSocketPath = unixSocketPath;
        Host = host;
        Port = port;
    }

    /// <summary>The endpoint as configured, e.g. <c>unix:///var/run/docker.sock</c>; used in every error message.</summary>
    public string Address { get; }

    public string? UnixSocketPath { get; }

    public string? Host { get; }

    public int Port { get; }

    public bool IsUnixSocket => UnixSocketPath is not null;

    /// <summary>The authority HttpClient addresses requests to; the connect callback decides where bytes really go.</summary>
    public Uri BaseAddress => IsUnixSocket ? new Uri("http://docker.sock/") : new Uri($"http://{HostHeader}/");

    public string HostHeader => IsUnixSocket ? "docker.sock" : $"{(Host!.Contains(':') ? $"[{Host}]" : Host)}:{Port}";

    /// <summary>The explicit endpoint if given, else <c>DOCKER_HOST</c>, else the default unix socket.</summary>
    public static DockerEndpoint Resolve(string? explicitEndpoint)
    {
        var address = explicitEndpoint;
        if (string.IsNullOrWhiteSpace(address))
        {
            address = Environment.GetEnvironmentVariable(EnvironmentVariable);
        }

        return Parse(string.IsNullOrWhiteSpace(address) ? DefaultAddress : address.Trim());
    }

    public static DockerEndpoint Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);

        if (address.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = address["unix://".Length..];
            if (path.Length == 0 || path[0] != '/')
            {
                throw new ArgumentException($"Docker endpoint '{address}' must name an absolute socket path, e.g. {DefaultAddress}.", nameof(address));
            }

            return new DockerEndpoint(address, path, host: null, port: 0);
        }

        if (address.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)
            || address.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            var authority = address[(address.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimEnd('/');
            if (!Uri.TryCreate("http://" + authority, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.AbsolutePath != "/")
            {
                throw new ArgumentException($"Docker endpoint '{address}' is not a valid tcp://host:port address.", nameof(address));
            }

            // Docker's convention: without a port, plain HTTP is on 2375.
            var hasExplicitPort = authority.LastIndexOf(':') > authority.LastIndexOf(']');
            var port = hasExplicitPort ? uri.Port : 2375;
            return new DockerEndpoint(address, unixSocketPath: null, uri.IdnHost.Trim('[', ']'), port);
        }

        throw new ArgumentException(
            $"Docker endpoint '{address}' is not supported: use unix:///path/to/docker.sock or tcp://host:port (TLS is not supported).",
            nameof(address));
    }

    /// <summary>Opens a connected socket to the engine, giving up after <see cref="ConnectTimeout"/>.</summary>
    /// <exception cref="SocketException">The engine could not be reached (including the connect timeout).</exception>
    public async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = IsUnixSocket
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        EndPoint target = IsUnixSocket ? new UnixDomainSocketEndPoint(UnixSocketPath!) : new DnsEndPoint(Host!, Port);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(target, timeout.Token).ConfigureAwait(false);
            return socket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new SocketException((int)SocketError.TimedOut);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
