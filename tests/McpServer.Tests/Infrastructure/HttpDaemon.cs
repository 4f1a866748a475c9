using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SessionMcp.McpServer.Tests.EndToEnd;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// A real <c>session-mcp daemon --http</c> on a free loopback port, with the tokens a test asks for (made before it
/// started) and its environment extended as asked (the attention webhook, for one); SDK clients over Streamable HTTP
/// and plain requests for what must never reach MCP. Disposing it stops it and the clients it made.
/// </summary>
internal sealed class HttpDaemon : IAsyncDisposable
{
    private readonly DaemonTests.DaemonDirectory _directory;
    private readonly Process _process;
    private readonly List<HttpMcpClient> _clients = [];

    private HttpDaemon(DaemonTests.DaemonDirectory directory, Process process, int port, Dictionary<string, string> tokens)
    {
        _directory = directory;
        _process = process;
        Port = port;
        Tokens = tokens;
    }

    public string DataDir => _directory.Path;

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Each token's text by its name.</summary>
    public IReadOnlyDictionary<string, string> Tokens { get; }

    public static Task<HttpDaemon> StartAsync(params (string Name, string Scope)[] tokens) => StartAsync(null, tokens);

    public static async Task<HttpDaemon> StartAsync(IReadOnlyDictionary<string, string>? environment, params (string Name, string Scope)[] tokens)
    {
        var directory = new DaemonTests.DaemonDirectory();
        var made = new Dictionary<string, string>();
        foreach (var (name, scope) in tokens)
        {
            var created = await ServerCli.RunAsync(directory.Path, ["token", "create", "--name", name, "--scope", scope]);
            Assert.True(created.ExitCode == 0, created.ToString());
            made[name] = created.Stdout.Trim();
        }
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { ServerProcess.ServerDll, "daemon", "--data-dir", directory.Path, "--http", "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SESSION_MCP_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var daemon = new HttpDaemon(directory, process, port, made);
        using var http = new HttpClient();
        var healthy = await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync(daemon.BaseUrl + "/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30));
        if (!healthy)
        {
            var log = File.Exists(Path.Combine(directory.Path, "daemon.log")) ? await File.ReadAllTextAsync(Path.Combine(directory.Path, "daemon.log")) : "";
            await daemon.DisposeAsync();
            Assert.Fail($"the daemon never answered /healthz on port {port}\n--- daemon.log ---\n{log}");
        }
        return daemon;
    }

    /// <summary>An SDK client over Streamable HTTP with the token named <paramref name="token"/>.</summary>
    public async Task<HttpMcpClient> ConnectAsync(string token, string? protocolVersion = null)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(BaseUrl + "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + Tokens[token] },
        });
        using var timeout = new CancellationTokenSource(ServerProcess.CallTimeout);
        var client = new HttpMcpClient(await McpClient.CreateAsync(
            transport,
            new McpClientOptions { ClientInfo = new() { Name = "session-mcp-http-tests", Version = "1.0" }, ProtocolVersion = protocolVersion },
            cancellationToken: timeout.Token));
        _clients.Add(client);
        return client;
    }

    /// <summary>A raw POST to /mcp with the token text <paramref name="token"/> (or none), as a client that is no SDK would send it.</summary>
    public async Task<HttpResponseMessage> PostAsync(string body, string? token, Action<HttpRequestMessage>? adjust = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + "/mcp") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        adjust?.Invoke(request);
        return await SendAsync(request);
    }

    /// <summary>A GET with the token named <paramref name="token"/> (or none).</summary>
    public async Task<HttpResponseMessage> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BaseUrl + path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens[token]);
        }
        return await SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }
        await _directory.DisposeAsync();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        using var http = new HttpClient();
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>An SDK client over Streamable HTTP (an agent, or a person's other tool), with the calls the tests make.</summary>
internal sealed class HttpMcpClient(McpClient client) : IAsyncDisposable
{
    private int _disposed;

    public McpClient Client => client;

    public async Task<JsonNode> CallAsync(string tool, object? arguments = null)
    {
        var result = await CallRawAsync(tool, arguments);
        Assert.True(result.IsError != true, $"{tool} failed: {ServerProcess.TextOf(result)}");
        return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!;
    }

    public async Task<string> CallErrorAsync(string tool, object? arguments = null)
    {
        var result = await CallRawAsync(tool, arguments);
        Assert.True(result.IsError == true, $"{tool} was expected to fail but returned: {ServerProcess.TextOf(result)}");
        return ServerProcess.TextOf(result);
    }

    public async Task<string> CreateSessionAsync(string name) =>
        (await CallAsync("session_create", new { backend = "local", name }))["session_id"]!.GetValue<string>();

    /// <summary>Once: a test may dispose it, and so does its daemon.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? client.DisposeAsync() : ValueTask.CompletedTask;

    private async Task<CallToolResult> CallRawAsync(string tool, object? arguments)
    {
        using var timeout = new CancellationTokenSource(ServerProcess.CallTimeout);
        var json = JsonSerializer.SerializeToElement(arguments ?? new { });
        var dictionary = json.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        return await client.CallToolAsync(tool, dictionary, cancellationToken: timeout.Token);
    }
}
