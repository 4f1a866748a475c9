using System.Diagnostics;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Every tools/call that reaches the server is audited and answered with a specific error result, also when the SDK
/// client could never send it: a lone surrogate, params or arguments of the wrong shape, numbers beyond a parameter's
/// range. These tests speak raw JSON-RPC lines to the real server process.
/// </summary>
public sealed class MalformedCallTests
{
    public static TheoryData<string, string> MalformedCalls() => new()
    {
        // the params of a tools/call (raw JSON, as sent), what the error must say
        { """{"name":"session_list","arguments":{"note":"\ud800"}}""", "argument 'note' is not valid Unicode: it holds an unpaired UTF-16 surrogate (\\ud800)" },
        { """{"name":"session_list","arguments":{"note":"ok \udc00 then"}}""", "unpaired UTF-16 surrogate (\\udc00)" },
        { """[1, 2]""", "tools/call got params that are an array" },
        { "\"session_list\"", "tools/call got params that are a string" },
        { """{"name":"session_list","arguments":[1]}""", "tools/call \"arguments\" must be an object of the tool's arguments by name, got an array" },
        { """{"arguments":{}}""", "tools/call params have no \"name\"" },
        { """{"name":5,"arguments":{}}""", "tools/call \"name\" must be a string (the tool's name), got the number 5" },
        { """{"name":"session_exec","arguments":{"session_id":"s-00000000","command":"true","timeout_ms":9007199254740992}}""", "timeout_ms must be between 1 and 600,000" },
        { """{"name":"session_create","arguments":{"backend":"docker","memory_mb":17592186044416}}""", "memory_mb must be between 16 and 8192 on this server, got 17592186044416" },
        { """{"name":"session_create","arguments":{"backend":"docker","memory_mb":99999999999999999999999}}""", "argument 'memory_mb' is out of range: got the number 99999999999999999999999" },
        { """{"name":"session_create","arguments":{"backend":"docker","image":""}}""", "image is empty; give a non-empty image" },
    };

    [Theory]
    [MemberData(nameof(MalformedCalls))]
    public async Task AMalformedCallGetsASpecificErrorResultAndAnEvent(string parameters, string expected)
    {
        // Given a server spoken to in raw JSON-RPC
        using var dataDir = new TempDirectory("data");
        using var server = await RawServer.StartAsync(dataDir.Path);

        // When the call is sent as it is
        var response = await server.RequestAsync(2, $$"""{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{parameters}}}""");

        // Then the answer is an error result (not a JSON-RPC error) with one text block that says what is wrong
        var result = response["result"] as JsonObject;
        Assert.True(result is not null, $"no result: {response.ToJsonString()}\n{server.StandardError}");
        Assert.True(result["isError"]?.GetValue<bool>(), response.ToJsonString());
        Assert.Null(result["structuredContent"]);
        var block = Assert.Single(result["content"]!.AsArray())!;
        Assert.Equal("text", block["type"]!.GetValue<string>());
        var text = block["text"]!.GetValue<string>();
        Assert.Contains(expected, text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);

        // And it was audited with that message
        var events = await ServerCli.ExportAsync(dataDir.Path);
        var recorded = Assert.Single(events);
        Assert.Contains(expected, recorded["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotEqual("ok", recorded["outcome"]!.GetValue<string>());
    }

    /// <summary>The server process with only a line protocol on its stdin/stdout.</summary>
    private sealed class RawServer : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _stderr = new();

        private RawServer(Process process)
        {
            _process = process;
            process.ErrorDataReceived += (_, line) =>
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(line.Data);
                }
            };
            process.BeginErrorReadLine();
        }

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

        public static async Task<RawServer> StartAsync(string dataDir)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { ServerProcess.ServerDll, "serve", "--data-dir", dataDir, "--daemon", "never" })
            {
                start.ArgumentList.Add(argument);
            }
            foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SESSION_MCP_", StringComparison.Ordinal)).ToList())
            {
                start.Environment.Remove(name);
            }
            var server = new RawServer(Process.Start(start)!);
            await server.RequestAsync(1, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""");
            await server.SendAsync("""{"jsonrpc":"2.0","method":"notifications/initialized"}""");
            return server;
        }

        public async Task SendAsync(string line)
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
        }

        public async Task<JsonNode> RequestAsync(int id, string line)
        {
            await SendAsync(line);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await _process.StandardOutput.ReadLineAsync(timeout.Token) is { } answer)
            {
                var message = JsonNode.Parse(answer)!;
                if (message["id"]?.GetValue<int>() == id)
                {
                    return message;
                }
            }
            throw new InvalidOperationException($"the server closed its output\n{StandardError}");
        }

        public void Dispose()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
