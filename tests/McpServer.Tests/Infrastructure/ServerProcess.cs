using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// The real <c>session-mcp serve</c> process, talked to over its stdin/stdout with the SDK's <see cref="McpClient"/>.
/// The process is started here rather than by <see cref="StdioClientTransport"/> so that tests know its pid and can
/// SIGKILL it in the middle of calls.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    /// <summary>How long any one call may take before the test fails instead of hanging.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(15);

    // Null members of an argument object are left out, as a client leaves out arguments it does not set.
    private static readonly JsonSerializerOptions ArgumentJson = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly Process _process;
    private readonly StringBuilder _stderr;
    private ResultContract? _contract;
    private bool _disposed;

    private ServerProcess(Process process, StringBuilder stderr, McpClient client, string dataDir)
    {
        _process = process;
        _stderr = stderr;
        Client = client;
        DataDir = dataDir;
    }

    /// <summary>session-mcp.dll, copied next to the test assembly by the project reference.</summary>
    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "session-mcp.dll");

    public McpClient Client { get; }

    public string DataDir { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the server logged so far (its log goes to stderr); shown when a call fails.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <c>session-mcp serve --data-dir <paramref name="dataDir"/></c> plus any further options, and connects. The
    /// server runs in the process started here (<c>--daemon never</c>), so each test's server is its own and ends with
    /// it, unless the options say <c>--daemon</c> themselves (the daemon's tests).
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string dataDir, IReadOnlyList<string>? extraArguments = null, CancellationToken cancellationToken = default)
    {
        string[] daemon = extraArguments?.Contains("--daemon") == true ? [] : ["--daemon", "never"];
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { ServerDll, "serve", "--data-dir", dataDir }.Concat(daemon).Concat(extraArguments ?? []))
        {
            start.ArgumentList.Add(argument);
        }
        // Settings come from the command line only; a developer's own SESSION_MCP_* must not leak into the tests.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SESSION_MCP_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(line.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CallTimeout);
            var transport = new StreamClientTransport(process.StandardInput.BaseStream, process.StandardOutput.BaseStream);
            var client = await McpClient.CreateAsync(
                transport,
                new McpClientOptions { ClientInfo = new() { Name = "session-mcp-tests", Version = "1.0" } },
                cancellationToken: timeout.Token).ConfigureAwait(false);
            return new ServerProcess(process, stderr, client, dataDir);
        }
        catch (Exception e)
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            string log;
            lock (stderr)
            {
                log = stderr.ToString();
            }
            throw new InvalidOperationException($"session-mcp did not start on {dataDir}: {e.Message}\n--- server stderr ---\n{log}", e);
        }
    }

    /// <summary>Calls a tool that must succeed; returns its structured content (with event_seq).</summary>
    public async Task<JsonNode> CallAsync(string tool, object? arguments = null, CancellationToken cancellationToken = default)
    {
        if (tool == "session_create" && IsDockerBackend(arguments))
        {
            // In CI a docker session that cannot exist should fail with why (the image build's output), not "image not found".
            DockerRequirement.ThrowIfUnavailable();
        }
        var result = await CallRawAsync(tool, arguments, null, cancellationToken).ConfigureAwait(false);
        if (result.IsError == true)
        {
            Assert.Fail($"{tool} {JsonSerializer.Serialize(arguments, ArgumentJson)} failed: {TextOf(result)}");
        }
        Assert.True(result.StructuredContent is not null, $"{tool} returned no structured content: {TextOf(result)}");
        return JsonNode.Parse(result.StructuredContent!.Value.GetRawText())!;
    }

    /// <summary>Calls a tool that must fail; returns the error text the model sees.</summary>
    public async Task<string> CallErrorAsync(string tool, object? arguments = null, CancellationToken cancellationToken = default)
    {
        var result = await CallRawAsync(tool, arguments, null, cancellationToken).ConfigureAwait(false);
        Assert.True(result.IsError == true, $"{tool} {JsonSerializer.Serialize(arguments, ArgumentJson)} was expected to fail but returned: {TextOf(result)}");
        return TextOf(result);
    }

    /// <summary>
    /// Calls a tool and returns the raw result; <paramref name="arguments"/> is any object that serialises to a JSON
    /// object. Every result is checked against the <see cref="ResultContract"/> (output schema, errors, budget).
    /// </summary>
    public async Task<CallToolResult> CallRawAsync(string tool, object? arguments, IProgress<ProgressNotificationValue>? progress, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        try
        {
            _contract ??= await ResultContract.LoadAsync(Client, timeout.Token).ConfigureAwait(false);
            var result = await Client.CallToolAsync(tool, ToArguments(arguments), progress, cancellationToken: timeout.Token).ConfigureAwait(false);
            _contract.Check(tool, result);
            return result;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{tool} did not answer within {CallTimeout.TotalSeconds:0} s\n--- server stderr ---\n{StandardError}");
        }
    }

    /// <summary>SIGKILL: no shutdown code of the server runs.</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        if (!_process.HasExited)
        {
            // Process.Kill sends SIGKILL on Unix.
            _process.Kill(entireProcessTree: false);
        }
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection and lets the server exit on its own (killing it only if it does not).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            await Client.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The server may already be gone (killed by the test).
        }
        try
        {
            _process.StandardInput.Close();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        using var timeout = new CancellationTokenSource(ShutdownTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await KillAsync(CancellationToken.None).ConfigureAwait(false);
        }
        _process.Dispose();
    }

    public static string TextOf(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    private static bool IsDockerBackend(object? arguments) =>
        ToArguments(arguments)?.GetValueOrDefault("backend") is JsonElement { ValueKind: JsonValueKind.String } backend && backend.GetString() == Backends.Docker;

    private static Dictionary<string, object?>? ToArguments(object? arguments)
    {
        if (arguments is null)
        {
            return null;
        }
        var json = arguments as JsonElement? ?? JsonSerializer.SerializeToElement(arguments, ArgumentJson);
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("tool arguments must serialise to a JSON object", nameof(arguments));
        }
        return json.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
    }
}
