using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.Dashboard;

/// <summary>The dashboard's HTTP surface without a browser: who may read what, the live feed's filtering, and /metrics.</summary>
public sealed class DashboardHttpTests
{
    [Fact]
    public async Task ThePageIsPublicButItsDataAndTheMetricsNeedAToken()
    {
        // Given a daemon
        await using var daemon = await HttpDaemon.StartAsync(null, ("viewer", "read"));

        // When the page, a script, the API and the metrics are asked for, with and without a token
        var page = await daemon.GetAsync("/dashboard/", null);
        var bare = await daemon.GetAsync("/dashboard", null);
        var script = await daemon.GetAsync("/dashboard/app.js", null);
        var sessions = await daemon.GetAsync("/dashboard/api/sessions", null);
        var feed = await daemon.GetAsync("/dashboard/api/me", null);
        var metrics = await daemon.GetAsync("/metrics", null);
        var me = await daemon.GetAsync("/dashboard/api/me", "viewer");
        var metricsWithToken = await daemon.GetAsync("/metrics", "viewer");

        // Then the page is served (with a policy that loads nothing from elsewhere), the data is not without a token
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<script src=\"app.js\">", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal(daemon.BaseUrl + "/dashboard/", bare.RequestMessage!.RequestUri!.ToString()); // redirected: the page's links are relative
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, sessions.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, feed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);
        var who = JsonNode.Parse(await me.Content.ReadAsStringAsync())!;
        Assert.Equal("viewer", who["principal"]!.GetValue<string>());
        Assert.Equal("read", who["scope"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, metricsWithToken.StatusCode);
    }

    [Fact]
    public async Task XtermJsFromNpmIsBuiltIntoTheDaemon()
    {
        // Given a daemon built on a machine with npm (the test machines have it)
        await using var daemon = await HttpDaemon.StartAsync(null, ("viewer", "read"));

        // When its terminal assets are asked for
        var xterm = await daemon.GetAsync("/dashboard/xterm.js", null);
        var css = await daemon.GetAsync("/dashboard/xterm.css", null);
        var me = JsonNode.Parse(await (await daemon.GetAsync("/dashboard/api/me", "viewer")).Content.ReadAsStringAsync())!;
        var missing = await daemon.GetAsync("/dashboard/nothing.js", null);

        // Then they are the npm package's files, served by the daemon itself
        Assert.Equal(HttpStatusCode.OK, xterm.StatusCode);
        Assert.Contains("Terminal", await xterm.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.True(me["terminal_view"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task AReadTokenSeesOnlyTheSessionsSharedWithItInTheListAndTheFeed()
    {
        // Given alice's two sessions, one shared read-only with bob, and bob's feed open
        await using var daemon = await HttpDaemon.StartAsync(null, ("alice", "full"), ("bob", "read"));
        var alice = await daemon.ConnectAsync("alice");
        var hidden = await alice.CreateSessionAsync("private");
        var shared = await alice.CreateSessionAsync("shared");
        await alice.CallAsync("session_share", new { session_id = shared, token_name = "bob", scope = "read" });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, daemon.BaseUrl + "/dashboard/api/feed");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", daemon.Tokens["bob"]);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var feed = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("event: hello", await feed.ReadLineAsync());

        // When alice works in both, the hidden one first
        await alice.CallAsync("session_exec", new { session_id = hidden, command = "echo secret" });
        var seq = (await alice.CallAsync("session_exec", new { session_id = shared, command = "echo visible" }))["event_seq"]!.GetValue<long>();

        // Then bob's feed carries the shared session's event and nothing of the other
        var seen = new List<string>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await feed.ReadLineAsync(deadline.Token) is { } line)
        {
            seen.Add(line);
            if (line.StartsWith("data: ", StringComparison.Ordinal) && JsonNode.Parse(line[6..])?["seq"]?.GetValue<long>() == seq)
            {
                break;
            }
        }
        Assert.Contains(seen, l => l.Contains(shared, StringComparison.Ordinal) && l.Contains("echo visible", StringComparison.Ordinal));
        Assert.DoesNotContain(seen, l => l.Contains(hidden, StringComparison.Ordinal));
        // And the list shows bob the shared session only
        var list = JsonNode.Parse(await (await daemon.GetAsync("/dashboard/api/sessions", "bob")).Content.ReadAsStringAsync())!["sessions"]!.AsArray();
        Assert.Equal([shared], list.Select(s => s!["session_id"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.NotFound, (await daemon.GetAsync($"/dashboard/api/sessions/{hidden}/events", "bob")).StatusCode);
    }

    [Fact]
    public async Task MetricsCountToolCallsByToolAndOutcomeAndSessionsJobsAndTerminalsByState()
    {
        // Given a daemon where an agent ran commands, a job and a terminal, and a read token was refused a command
        await using var daemon = await HttpDaemon.StartAsync(null, ("agent", "full"), ("viewer", "read"));
        var agent = await daemon.ConnectAsync("agent");
        var viewer = await daemon.ConnectAsync("viewer");
        var id = await agent.CreateSessionAsync("measured");
        await agent.CallAsync("session_exec", new { session_id = id, command = "true" });
        await agent.CallAsync("session_exec", new { session_id = id, command = "false" });
        await agent.CallAsync("session_exec", new { session_id = id, command = "sleep 60", background = true });
        await agent.CallAsync("session_terminal_open", new { session_id = id });
        await viewer.CallErrorAsync("session_exec", new { session_id = id, command = "true" });

        // When /metrics is scraped
        var text = await (await daemon.GetAsync("/metrics", "viewer")).Content.ReadAsStringAsync();

        // Then the counts are there, in Prometheus' text format
        Assert.Contains("session_mcp_tool_calls_total{tool=\"session_exec\",outcome=\"ok\"} 3", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_tool_calls_total{tool=\"session_exec\",outcome=\"rejected\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_tool_call_duration_seconds_count{tool=\"session_exec\"} 4", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_tool_call_duration_seconds_bucket{tool=\"session_exec\",le=\"+Inf\"} 4", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_sessions{state=\"running\",backend=\"local\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_jobs{state=\"running\"} 2", text, StringComparison.Ordinal);
        Assert.Contains("session_mcp_terminals{state=\"running\"} 1", text, StringComparison.Ordinal);
        Assert.Matches("session_mcp_audit_events_total\\{kind=\"tool_call\"\\} \\d+", text);
    }
}
