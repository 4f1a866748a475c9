using System.Net.Sockets;

namespace SessionMcp.McpServer.Tests.Docker;

/// <summary>
/// A unix-socket relay in front of the real Docker socket: the server under test talks to the proxy, and the test
/// takes the "engine" away and brings it back by stopping and starting the relay, without touching dockerd.
/// </summary>
internal sealed class EngineProxy : IAsyncDisposable
{
    private readonly string _target;
    private readonly List<Socket> _open = [];
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;

    public EngineProxy(string socketPath, string target = "/var/run/docker.sock")
    {
        SocketPath = socketPath;
        _target = target;
    }

    public string SocketPath { get; }

    public string Endpoint => "unix://" + SocketPath;

    public void Start()
    {
        File.Delete(SocketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen(64);
        _listener = listener;
        _accepting = Task.Run(() => AcceptLoopAsync(listener));
    }

    /// <summary>Refuses new connections and cuts every open one, as an engine that went away would.</summary>
    public async Task StopAsync()
    {
        _listener?.Dispose();
        _listener = null;
        File.Delete(SocketPath);
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
            _open.Clear();
        }
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            var upstream = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await upstream.ConnectAsync(new UnixDomainSocketEndPoint(_target)).ConfigureAwait(false);
            lock (_open)
            {
                _open.Add(client);
                _open.Add(upstream);
            }
            _ = RelayAsync(client, upstream);
            _ = RelayAsync(upstream, client);
        }
    }

    private static async Task RelayAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
