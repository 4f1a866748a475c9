using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace SessionMcp.Benchmarks;

/// <summary>The real server (session-mcp.dll from this program's output) as a child over stdio, driven by the SDK client.</summary>
internal sealed class ServerClient : IAsyncDisposable
{
    private readonly McpClient _client;

    private ServerClient(McpClient client) => _client = client;

    public static Task<ServerClient> StartAsync(string dataDir, CancellationToken cancellationToken) =>
        StartAsync(dataDir, "never", cancellationToken);

    /// <summary><c>serve --daemon <paramref name="daemon"/></c>: never serves in the child, auto relays to the data directory's daemon.</summary>
    public static Task<ServerClient> StartAsync(string dataDir, string daemon, CancellationToken cancellationToken) =>
        StartAsync(dataDir, daemon, [], cancellationToken);

    /// <summary>As above, with further options of <c>serve</c> (e.g. <c>--history off</c>).</summary>
    public static async Task<ServerClient> StartAsync(string dataDir, string daemon, IReadOnlyList<string> options, CancellationToken cancellationToken)
    {
        // BENCH_SERVER_DLL measures another build of the server (e.g. an instrumented scratch copy) with the same client.
        var server = Environment.GetEnvironmentVariable("BENCH_SERVER_DLL") is { Length: > 0 } other ? other : Path.Combine(AppContext.BaseDirectory, "session-mcp.dll");
        if (!File.Exists(server))
        {
            throw new FileNotFoundException($"{server} does not exist; build tests/Benchmarks", server);
        }
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "session-mcp",
            Command = "dotnet",
            // never: in process, as measured before the daemon existed; the daemon's relay is measured apart (--daemon).
            Arguments = [server, "serve", "--data-dir", dataDir, "--daemon", daemon, .. options],
            // The server logs to stderr; keep it out of the benchmark's output unless asked.
            StandardErrorLines = line =>
            {
                if (Environment.GetEnvironmentVariable("BENCH_SERVER_STDERR") == "1")
                {
                    Console.Error.WriteLine($"[server] {line}");
                }
            },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { ClientInfo = new() { Name = "session-mcp-benchmarks", Version = "1.0" } }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ServerClient(client);
    }

    /// <summary>The daemon's MCP server straight over its socket, with no relay in between: what the relay adds is the difference.</summary>
    public static async Task<ServerClient> ConnectSocketAsync(string socketPath, CancellationToken cancellationToken)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
        var stream = new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        var client = await McpClient.CreateAsync(new StreamClientTransport(stream, stream), new McpClientOptions { ClientInfo = new() { Name = "session-mcp-benchmarks", Version = "1.0" } }, cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ServerClient(client);
    }

    /// <summary>A tools/call that starts no process: the per-call cost of transport, dispatch and audit.</summary>
    public Task ListSessionsAsync(CancellationToken cancellationToken) => CallAsync("session_list", [], cancellationToken);

    public async Task<string> CreateSessionAsync(string backend, CancellationToken cancellationToken)
    {
        var result = await CallAsync("session_create", new() { ["backend"] = backend, ["name"] = $"benchmark-{backend}" }, cancellationToken).ConfigureAwait(false);
        return result.GetProperty("session_id").GetString()!;
    }

    public async Task ExecAsync(string sessionId, string command, CancellationToken cancellationToken)
    {
        var result = await CallAsync("session_exec", new() { ["session_id"] = sessionId, ["command"] = command }, cancellationToken).ConfigureAwait(false);
        if (result.GetProperty("exit_code").GetInt32() is var exitCode and not 0)
        {
            throw new InvalidOperationException($"session_exec {command} exited with {exitCode}: {result.GetProperty("stderr").GetString()}");
        }
    }

    public Task WriteFileAsync(string sessionId, string path, string content, CancellationToken cancellationToken) =>
        CallAsync("session_write_file", new() { ["session_id"] = sessionId, ["path"] = path, ["content"] = content }, cancellationToken);

    public Task ReadFileAsync(string sessionId, string path, CancellationToken cancellationToken) =>
        CallAsync("session_read_file", new() { ["session_id"] = sessionId, ["path"] = path }, cancellationToken);

    public Task EditFileAsync(string sessionId, string path, string oldString, string newString, CancellationToken cancellationToken) =>
        CallAsync("session_edit_file", new() { ["session_id"] = sessionId, ["path"] = path, ["old_string"] = oldString, ["new_string"] = newString }, cancellationToken);

    public Task DestroySessionAsync(string sessionId, CancellationToken cancellationToken) =>
        CallAsync("session_destroy", new() { ["session_id"] = sessionId }, cancellationToken);

    /// <summary>Any call, its result as it came (an error result is not an exception): for attacks whose refusal is a fine outcome.</summary>
    public async Task<CallToolResult> CallToolAsync(string tool, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        var result = await _client.CallToolAsync(tool, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.IsError == true
            ? throw new InvalidOperationException(string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text)))
            : result;
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    /// <summary>Any call, its structured content; an error result is an exception.</summary>
    public async Task<JsonElement> CallAsync(string tool, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        var result = await _client.CallToolAsync(tool, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.IsError == true)
        {
            var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
            throw new InvalidOperationException($"{tool} failed: {text}");
        }
        return result.StructuredContent ?? throw new InvalidOperationException($"{tool} returned no structured content");
    }
}
