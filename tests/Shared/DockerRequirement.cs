using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SessionMcp.Tests.Shared;

/// <summary>A fact that needs a Docker engine: skipped where none answers, except in CI (CI=true), where it must fail instead.</summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (DockerRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs a Docker engine: skipped where none answers, except in CI (CI=true), where it must fail instead.</summary>
public sealed class DockerTheoryAttribute : TheoryAttribute
{
    public DockerTheoryAttribute()
    {
        if (DockerRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>The image built by samples/images/build-image.sh (run by .ci/start-docker.sh).</summary>
public static class DockerTestImage
{
    public const string Name = "session-mcp/busybox:latest";
}

/// <summary>
/// Probes the engine once per test process with a raw GET /_ping, standalone from the client under test.
/// </summary>
public static class DockerRequirement
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private static readonly Lazy<string?> LazySkipReason = new(ProbeSkipReason, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The endpoint tests talk to: DOCKER_HOST, else the default unix socket.</summary>
    public static string Endpoint =>
        Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } configured ? configured : "unix:///var/run/docker.sock";

    /// <summary>Null when Docker tests should run; otherwise why they are skipped.</summary>
    public static string? SkipReason => LazySkipReason.Value;

    private static string? ProbeSkipReason()
    {
        // In CI a missing engine is a broken pipeline, not a reason to go green.
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var endpoint = Endpoint;
        return AnswersPing(endpoint)
            ? null
            : $"Docker engine not reachable at {endpoint}: is dockerd running? (start it with .ci/start-docker.sh)";
    }

    private static bool AnswersPing(string endpoint)
    {
        try
        {
            using var socket = Connect(endpoint);
            if (socket is null)
            {
                return false;
            }

            socket.ReceiveTimeout = (int)ProbeTimeout.TotalMilliseconds;
            socket.SendTimeout = (int)ProbeTimeout.TotalMilliseconds;
            socket.Send("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"u8);
            var buffer = new byte[64];
            var statusLine = Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer));
            return statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) && statusLine.Contains(" 200 ", StringComparison.Ordinal);
        }
        catch (Exception exception) when (exception is SocketException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    private static Socket? Connect(string endpoint)
    {
        Socket socket;
        EndPoint target;
        if (endpoint.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = endpoint["unix://".Length..];
            if (!File.Exists(path))
            {
                return null;
            }

            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            target = new UnixDomainSocketEndPoint(path);
        }
        else if (Uri.TryCreate(endpoint.Replace("tcp://", "http://", StringComparison.OrdinalIgnoreCase), UriKind.Absolute, out var uri))
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            target = new DnsEndPoint(uri.Host, uri.IsDefaultPort ? 2375 : uri.Port);
        }
        else
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(ProbeTimeout);
        try
        {
            // Synchronous on purpose: attribute constructors cannot await, and this runs once per process.
            socket.ConnectAsync(target, timeout.Token).AsTask().GetAwaiter().GetResult();
            return socket;
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            return null;
        }
    }
}
