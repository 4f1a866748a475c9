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
        using var server = StartRawServer(dataDir.Path);
        try
        {
            var sessionId = await InitializeAndCreateSessionAsync(server);
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

    [Fact]
    public async Task CancellingAWaitEndsItAndCancellingAForegroundCommandThatMayBeHandedOverKillsIt()
    {
        // Given a server with a session running a job
        using var dataDir = new TempDirectory("cancel-wait");
        using var server = StartRawServer(dataDir.Path);
        try
        {
            var sessionId = await InitializeAndCreateSessionAsync(server);
            await SendAsync(server, Call(3, "session_exec", new JsonObject { ["session_id"] = sessionId, ["command"] = "sleep 1000", ["background"] = true }));
            var jobId = (await ReadResponseAsync(server, 3))["result"]!["structuredContent"]!["job_id"]!.GetValue<string>();

            // When a long wait and a long foreground command (to be handed over at its timeout) are cancelled
            await SendAsync(server, Call(4, "session_job_output", new JsonObject { ["session_id"] = sessionId, ["job_id"] = jobId, ["wait_ms"] = 600_000 }));
            await SendAsync(server, Call(5, "session_exec", new JsonObject { ["session_id"] = sessionId, ["command"] = "sleep 1001", ["timeout_ms"] = 600_000, ["on_timeout"] = "background" }));
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(sessionId, "sleep", "1001").Count == 1, TimeSpan.FromSeconds(20)), "the command never started");
            await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/cancelled", ["params"] = new JsonObject { ["requestId"] = 4 } });
            await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/cancelled", ["params"] = new JsonObject { ["requestId"] = 5 } });

            // Then both end at once, audited as cancelled; the command is killed, the job (not asked about) runs on
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(sessionId, "sleep", "1001").Count == 0, TimeSpan.FromSeconds(10)), "the foreground command survived its cancellation");
            Assert.True(await Poll.UntilAsync(async () =>
                (await ServerCli.ExportAsync(dataDir.Path)).Count(e => e["outcome"]?.GetValue<string>() == "cancelled" && e["tool"]?.GetValue<string>() is "session_job_output" or "session_exec") == 2,
                TimeSpan.FromSeconds(10)), "the cancelled calls were not recorded as cancelled");
            Assert.Single(LocalProcesses.Find(sessionId, "sleep", "1000"));
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }

    /// <summary>The real server, spoken to in raw JSON-RPC (requests 1 and 2 are taken by the set-up).</summary>
    private static Process StartRawServer(string dataDir)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { ServerProcess.ServerDll, "serve", "--data-dir", dataDir, "--daemon", "never" })
        {
            start.ArgumentList.Add(argument);
        }
        var server = Process.Start(start)!;
        server.ErrorDataReceived += (_, _) => { };
        server.BeginErrorReadLine();
        return server;
    }

    private static async Task<string> InitializeAndCreateSessionAsync(Process server)
    {
        await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["id"] = 1, ["method"] = "initialize", ["params"] = new JsonObject { ["protocolVersion"] = "2025-11-25", ["capabilities"] = new JsonObject(), ["clientInfo"] = new JsonObject { ["name"] = "raw", ["version"] = "1" } } });
        await ReadResponseAsync(server, 1);
        await SendAsync(server, new JsonObject { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" });
        await SendAsync(server, Call(2, "session_create", new JsonObject()));
        return (await ReadResponseAsync(server, 2))["result"]!["structuredContent"]!["session_id"]!.GetValue<string>();
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
