using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// The daemon's transport: an accept loop on a unix socket (mode 0600) that gives every connection an MCP server of its
/// own — <see cref="McpServer.Create"/> over a <see cref="StreamServerTransport"/> on the socket — built from the one
/// <see cref="McpServerOptions"/> (tools, filters, instructions) and the one service provider (registry, router,
/// backends, jobs, audit log) of this process. A connection that ends takes only its server with it: sessions, jobs and
/// terminals belong to the process and outlive every client.
/// </summary>
internal sealed partial class DaemonListener(
    DaemonPaths paths,
    IOptions<McpServerOptions> options,
    IServiceProvider services,
    ILoggerFactory loggerFactory,
    ILogger<DaemonListener> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>Output is buffered so that a message leaves in one write (the transport writes it and its newline apart).</summary>
    private const int OutputBufferBytes = 64 * 1024;

    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _nextConnection;

    /// <summary>Binds the socket (replacing a stale one: the caller holds the daemon lock) and starts accepting.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = Bind(paths);
        LogListening(logger, paths.Socket, Environment.ProcessId);
        var listener = _listener;
        var stopping = _stopping.Token;
        _acceptLoop = Task.Factory.StartNew(() => Accept(listener, stopping), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, ends every connection's server (their in-flight calls are cancelled) and waits for them.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is { } loop)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        var open = _connections.Values.ToArray();
        LogStopping(logger, open.Length);
        await Task.WhenAll(open).WaitAsync(cancellationToken).ConfigureAwait(false);
        TryDelete(paths.Socket);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        _listener?.Dispose();
        _stopping.Dispose();
    }

    /// <summary>
    /// Binds in a private directory (0700), sets the socket's mode to 0600, then renames it into place: no other user
    /// can connect in the moment between bind and chmod, whatever the data directory's own mode.
    /// </summary>
    private static Socket Bind(DaemonPaths paths)
    {
        var staging = Path.Combine(paths.DataDir, $".daemon-bind-{Environment.ProcessId}");
        TryDeleteDirectory(staging);
        Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            var staged = Path.Combine(staging, "s");
            socket.Bind(new UnixDomainSocketEndPoint(staged));
            File.SetUnixFileMode(staged, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            // A socket file left by a daemon that died is replaced; a live daemon cannot own it (we hold the lock).
            File.Move(staged, paths.Socket, overwrite: true);
            socket.Listen(backlog: 64);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            TryDeleteDirectory(staging);
        }
    }

    /// <summary>
    /// Accepts on a thread of its own, with blocking calls: a socket accepted asynchronously comes out non-blocking, and
    /// a connection must stay blocking for <see cref="BlockingSocketStream"/>.
    /// </summary>
    private void Accept(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = listener.Accept();
            }
            catch (Exception e) when (e is ObjectDisposedException || stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE and the like: keep serving the connections there are, and try again after a back-off (a
                // lasting failure must not spin).
                LogAcceptFailed(logger, e);
                stopping.WaitHandle.WaitOne(AcceptRetryDelay);
                continue;
            }
            var id = Interlocked.Increment(ref _nextConnection);
            // Registered before it can finish, removed by itself when it does.
            var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[id] = served.Task;
            _ = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(id, connection, stopping).ConfigureAwait(false);
                }
                finally
                {
                    _connections.TryRemove(id, out _);
                    served.TrySetResult();
                }
            }, CancellationToken.None);
        }
    }

    private async Task ServeAsync(long id, Socket connection, CancellationToken stopping)
    {
        var peer = PeerOf(connection);
        // The socket's mode already keeps other users out; this also refuses one that got hold of a descriptor to it.
        if (peer is { } credentials && credentials.Uid != DaemonNative.GetEuid() && credentials.Uid != 0)
        {
            LogRefused(logger, id, credentials.Pid, credentials.Uid);
            connection.Dispose();
            return;
        }
        LogConnected(logger, id, peer?.Pid ?? 0, _connections.Count);
        // Disposed last: the transport's end, which cancels it, comes first.
        using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        try
        {
            var stream = new BlockingSocketStream(connection);
            // The transport disposes both streams (and so the socket) when the server is done with it.
            await using var transport = new StreamServerTransport(stream, new BufferedStream(stream, OutputBufferBytes), "session-mcp", loggerFactory);
            // The server would wait for the calls still running when its client went away (a foreground exec for its
            // whole timeout): cancel them, as over stdio, where the process ends with its client. A foreground command
            // is then handed over or stopped as on a cancel, and its call is audited now.
            _ = transport.MessageReader.Completion.ContinueWith(
                static (_, state) => CancelQuietly((CancellationTokenSource)state!), clientGone, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            await using var server = ModelContextProtocol.Server.McpServer.Create(transport, options.Value, loggerFactory, services);
            await server.RunAsync(clientGone.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            // The client went away with calls running.
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The daemon is stopping.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away mid-message: the end of this connection, nothing more.
            LogConnectionBroken(logger, id, e.Message);
        }
        catch (Exception e)
        {
            LogConnectionFailed(logger, e, id);
        }
        LogDisconnected(logger, id);
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection was already done.
        }
    }

    /// <summary>The process at the other end (SO_PEERCRED), or null when the kernel does not say.</summary>
    private static (int Pid, uint Uid)? PeerOf(Socket connection)
    {
        Span<byte> credentials = stackalloc byte[12];
        try
        {
            return connection.GetRawSocketOption(DaemonNative.SOL_SOCKET, DaemonNative.SO_PEERCRED, credentials) == 12
                ? (MemoryMarshal.Read<int>(credentials), MemoryMarshal.Read<uint>(credentials[4..]))
                : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening on {Socket} (pid {Pid})")]
    private static partial void LogListening(ILogger logger, string socket, int pid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {Connection} from pid {Pid} ({Open} open)")]
    private static partial void LogConnected(ILogger logger, long connection, int pid, int open);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {Connection} closed")]
    private static partial void LogDisconnected(ILogger logger, long connection);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {Connection} from pid {Pid} refused: uid {Uid} is not this daemon's user")]
    private static partial void LogRefused(ILogger logger, long connection, int pid, uint uid);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {Connection} broken: {Reason}")]
    private static partial void LogConnectionBroken(ILogger logger, long connection, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Connection {Connection} failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception, long connection);

    [LoggerMessage(Level = LogLevel.Error, Message = "Accepting a connection failed")]
    private static partial void LogAcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: closing {Open} connections")]
    private static partial void LogStopping(ILogger logger, int open);
}
