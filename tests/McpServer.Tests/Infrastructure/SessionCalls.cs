using System.Text.Json.Nodes;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>Shorthands for the calls almost every session test makes.</summary>
public static class SessionCalls
{
    public static async Task<string> CreateSessionAsync(this ServerProcess server, string backend, Dictionary<string, string>? env = null, string? name = null)
    {
        var created = await server.CallAsync("session_create", new { backend, env, name }).ConfigureAwait(false);
        return created["session_id"]!.GetValue<string>();
    }

    public static Task<JsonNode> ExecAsync(this ServerProcess server, string sessionId, string command, int? timeoutMs = null) =>
        server.CallAsync("session_exec", new { session_id = sessionId, command, timeout_ms = timeoutMs });

    /// <summary>Runs a command that must exit 0 and returns its stdout.</summary>
    public static async Task<string> RunAsync(this ServerProcess server, string sessionId, string command)
    {
        var result = await server.ExecAsync(sessionId, command).ConfigureAwait(false);
        Assert.True(result["exit_code"]!.GetValue<int>() == 0, $"'{command}' failed: {result.ToJsonString()}");
        return result["stdout"]!.GetValue<string>();
    }

    /// <summary>The session as session_list shows it.</summary>
    public static async Task<JsonNode> ListedSessionAsync(this ServerProcess server, string sessionId)
    {
        var list = await server.CallAsync("session_list").ConfigureAwait(false);
        return list["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == sessionId)!;
    }

    /// <summary>The session's status as session_list shows it (running, idle, hibernated, lost, ...).</summary>
    public static async Task<string> StatusAsync(this ServerProcess server, string sessionId) =>
        (await server.ListedSessionAsync(sessionId).ConfigureAwait(false)).Text("status");

    /// <summary>The session's audited events, as session_replay shows them, in one string to search.</summary>
    public static async Task<string> EventsAsync(this ServerProcess server, string sessionId) =>
        (await server.CallAsync("session_replay", new { session_id = sessionId, format = "events" }).ConfigureAwait(false)).ToJsonString();

    public static long EventSeq(this JsonNode result) => result["event_seq"]!.GetValue<long>();

    public static string Text(this JsonNode result, string property) => result[property]!.GetValue<string>();
}
