using System.Diagnostics;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// A client's notifications/cancelled stops the command it names. The SDK client sends none over stdio, so this test
/// speaks raw JSON-RPC to the real server process, as any other client would.
/// </summary>
public sealed class CancellationTests
{
    [Fact]
    public async Task CancelledExecKillsTheCommandAndIsAuditedAsCancelled()
    {
        // Given a server with a session and a long command in flight
        using var dataDir = new TempDirectory("cancel");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { ServerProcess.ServerDll, "serve", "--data-dir", dataDir.Path })
        {
            start.ArgumentList.Add(argument);
        }
        using var server = Process.Start(start)!;
        server.ErrorDataReceived += (_, _) => { };
        server.BeginErrorReadLine();
        try
        {
            await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = "initialize", ["params"] = new JsonObject { ["protocolVersion"] = "2025-11-25", ["capabilities"] = new JsonObject(), ["clientInfo"] = new JsonObject { ["name"] = "raw", ["version"] = "1" } } });
            await ReadResponseAsync(server, 1);
            await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" });
            await SendAsync(server, Call(2, "session_create", new JsonObject()));
            var sessionId = (await ReadResponseAsync(server, 2))["result"]!["structuredContent"]!["session_id"]!.GetValue<string>();
            await SendAsync(server, Call(3, "session_exec", new JsonObject { ["session_id"] = sessionId, ["command"] = "sleep 1000" }));
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(sessionId, "sleep", "1000").Count == 1, TimeSpan.FromSeconds(20)), "the command never started");

            // When
            await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/cancelled", ["params"] = new JsonObject { ["requestId"] = 3, ["reason"] = "user pressed stop" } });

            // Then the command is killed and the call is in the audit log as cancelled
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(sessionId, "sleep", "1000").Count == 0, TimeSpan.FromSeconds(10)), "the command survived the cancellation");
            Assert.True(await Poll.UntilAsync(async () =>
                (await ServerCli.ExportAsync(dataDir.Path)).Any(e => e["tool"]?.GetValue<string>() == "session_exec" && e["outcome"]?.GetValue<string>() == "cancelled"),
                TimeSpan.FromSeconds(10)), "no cancelled event was recorded");
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    private static JsonObject Call(int id, string tool, JsonObject arguments) => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = id,
        ["method"] = "tools/call",
        ["params"] = new JsonObject { ["name"] = tool, ["arguments"] = arguments },
    };

    private static async Task SendAsync(Process server, JsonObject message)
    {
        await server.StandardInput.WriteLineAsync(message.ToJsonString());
        await server.StandardInput.FlushAsync();
    }

    private static async Task<JsonNode> ReadResponseAsync(Process server, int id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var message = JsonNode.Parse(line)!;
            if (message["id"]?.GetValue<int>() == id)
            {
                return message;
            }
        }
        throw new InvalidOperationException("the server closed its output");
    }
}
