using System.Net.Sockets;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// <c>serve</c> in front of a daemon: copies the client's stdin to the socket and the socket to stdout, byte for byte,
/// never parsing — the MCP server on the other end is the same one <c>serve --daemon never</c> runs in process. When
/// stdin closes, the relay half-closes the socket (the daemon's server for this connection then ends) and exits; the
/// daemon, its sessions, jobs and terminals keep running.
/// </summary>
/// <remarks>
/// Each direction is one thread blocked in read(2), which writes what it got at once: a message wakes one thread in the
/// relay and nothing else. Async copies (the socket's completions run on the thread pool, stdin's blocking reads too)
/// add a hand-off between threads per message each way, which on a loaded machine costs more than the copy itself
/// (docs/benchmarks.md, "Daemon"). Two threads for the life of a client are cheap.
/// </remarks>
internal static class StdioRelay
{
    /// <summary>After the client closed stdin: how long the daemon's last replies may still take to come through.</summary>
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    private const int BufferBytes = 64 * 1024;

    /// <summary>Relays until the client closes stdin (0) or the daemon closes the connection (1, said on stderr).</summary>
    public static async Task<int> RunAsync(Socket socket, Stream input, Stream output, TextWriter stderr, CancellationToken cancellationToken)
    {
        using var _ = socket;
        // Set before the socket is half-closed: the daemon's answering close may arrive before the copy returns.
        var inputEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var toDaemon = RunOnThread("relay stdin → daemon", () => CopyInput(input, socket, inputEnded));
        var fromDaemon = RunOnThread("relay daemon → stdout", () => CopyOutput(socket, output));
        using var cancel = cancellationToken.Register(() => socket.Dispose());
        await Task.WhenAny(inputEnded.Task, toDaemon, fromDaemon).ConfigureAwait(false);
        if (inputEnded.Task.IsCompleted)
        {
            // Whatever the client no longer reads needs no waiting for; a server that is slow to go, no more than this.
            await Task.WhenAny(fromDaemon, Task.Delay(CloseGrace, cancellationToken)).ConfigureAwait(false);
            return 0;
        }
        if (await fromDaemon.ConfigureAwait(false) is { } broken)
        {
            await stderr.WriteLineAsync($"session-mcp: {broken}").ConfigureAwait(false);
            return 1;
        }
        // The client closed stdout: it is going away.
        return 0;
    }

    /// <summary>stdin to the socket until end of input; then the socket's sending side is shut (the daemon reads the end).</summary>
    private static string? CopyInput(Stream input, Socket socket, TaskCompletionSource ended)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            int read;
            while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
            {
                for (var sent = 0; sent < read;)
                {
                    sent += socket.Send(buffer, sent, read - sent, SocketFlags.None);
                }
            }
            ended.TrySetResult();
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The daemon went away: the other direction sees it too and reports it.
        }
        return null;
    }

    /// <summary>The socket to stdout; null at a clean end, else what broke the connection.</summary>
    private static string? CopyOutput(Socket socket, Stream output)
    {
        var buffer = new byte[BufferBytes];
        while (true)
        {
            int read;
            try
            {
                read = socket.Receive(buffer, SocketFlags.None);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return $"the connection to the daemon broke: {e.Message}";
            }
            if (read == 0)
            {
                return "the daemon closed the connection (it was stopped or restarted; 'session-mcp daemon status' says which)";
            }
            try
            {
                // Blocking: when the client's pipe is full, the daemon waits, as it should.
                output.Write(buffer, 0, read);
                output.Flush();
            }
            catch (IOException)
            {
                // The client closed its end: nothing more to relay.
                return null;
            }
        }
    }

    /// <summary>Runs <paramref name="copy"/> on a thread of its own (a background thread: it never keeps the process alive).</summary>
    private static Task<string?> RunOnThread(string name, Func<string?> copy)
    {
        var done = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.TrySetResult(copy());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }
}
