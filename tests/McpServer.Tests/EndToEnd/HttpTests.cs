using System.Net;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// <c>daemon --http</c>: a real daemon on a free loopback port, driven by the SDK's Streamable HTTP client with bearer
/// tokens, and by plain HTTP requests for what must never reach MCP. Every test stops its daemon
/// (<see cref="DaemonTests.DaemonDirectory"/>).
/// </summary>
public sealed class HttpTests
{
    private const string Initialize = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}""";

    [Theory]
    [InlineData(null)]
    [InlineData("2025-11-25")]
    public async Task EveryToolWorksOverHttpForAFullToken(string? protocolVersion)
    {
        // Given a daemon serving HTTP and a full token
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"));
        await using var client = await daemon.ConnectAsync("full", protocolVersion);

        // When a session is made and used with every kind of call
        var id = (await client.CallAsync("session_create", new { backend = Backends.Local }))["session_id"]!.GetValue<string>();
        var exec = await client.CallAsync("session_exec", new { session_id = id, command = "cd /tmp && echo hello" });
        var pwd = await client.CallAsync("session_exec", new { session_id = id, command = "pwd" });
        await client.CallAsync("session_write_file", new { session_id = id, path = "notes.txt", content = "alpha\nbeta\n" });
        await client.CallAsync("session_edit_file", new { session_id = id, path = "notes.txt", old_string = "beta", new_string = "BETA" });
        var read = await client.CallAsync("session_read_file", new { session_id = id, path = "notes.txt" });
        var job = (await client.CallAsync("session_exec", new { session_id = id, command = "echo from-the-job", background = true }))["job_id"]!.GetValue<string>();
        var output = await client.CallAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 10_000, until = "from-the-job" });
        var list = await client.CallAsync("session_list");
        var replay = await client.CallAsync("session_replay", new { session_id = id });
        await client.CallAsync("session_destroy", new { session_id = id });

        // Then each did its work, and the audit log names the token as the principal
        Assert.Contains("hello", exec["stdout"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("/tmp", pwd["stdout"]!.GetValue<string>().Trim());
        Assert.Contains("BETA", read.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("from-the-job", output.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains(id, list.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("session_write_file", replay.ToJsonString(), StringComparison.Ordinal);
        var events = (await ServerCli.ExportAsync(daemon.DataDir)).Where(e => e["session_id"]?.GetValue<string>() == id).ToList();
        Assert.NotEmpty(events);
        Assert.All(events.Where(e => e["tool"] is not null), e => Assert.Equal("full", e["principal"]!.GetValue<string>()));
        Assert.Equal(0, (await ServerCli.VerifyAsync(daemon.DataDir)).ExitCode);
    }

    [NodeFact]
    public async Task TheOfficialConformanceScenariosThatApplyPassOverHttp()
    {
        // Given a daemon serving HTTP, with a token, and the suite installed (Node 22 from the npm registry)
        await NodeScripts.EnsureInstalledAsync();
        await using var daemon = await HttpDaemon.StartAsync(("conformance", "full"));

        // When @modelcontextprotocol/conformance runs its server scenarios that apply (through a proxy adding the token)
        var result = await NodeScripts.RunScriptAsync("conformance.mjs", [daemon.BaseUrl, daemon.Tokens["conformance"]], TimeSpan.FromMinutes(3));

        // Then every one passes
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(5, result.Stdout.Split('\n').Count(l => l.StartsWith("PASS ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AWriteWhoseRequestExceedsKestrelsDefaultBodyLimitGoesThrough()
    {
        // Given a daemon and 6 MiB of a control character: 36 MiB of JSON (\u0001), above Kestrel's 30 MB default
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"));
        await using var client = await daemon.ConnectAsync("full");
        var id = (await client.CallAsync("session_create", new { backend = Backends.Local }))["session_id"]!.GetValue<string>();
        var content = new string('\u0001', 6 * 1024 * 1024);

        // When it is written and its size asked
        await client.CallAsync("session_write_file", new { session_id = id, path = "big.bin", content });
        var size = await client.CallAsync("session_exec", new { session_id = id, command = "wc -c < big.bin" });

        // Then it all arrived
        Assert.Equal((6 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), size["stdout"]!.GetValue<string>().Trim());
    }

    [Fact]
    public async Task RequestsWithoutAValidTokenGet401AndNeverReachMcp()
    {
        // Given a daemon with one live and one revoked token
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"), ("old", "full"));
        var revoke = await ServerCli.RunAsync(daemon.DataDir, ["token", "revoke", "old"]);
        Assert.True(revoke.ExitCode == 0, revoke.ToString());

        // When initialize is posted without a token, with a wrong one, with a revoked one, and with the live one
        var none = await daemon.PostAsync(Initialize, token: null);
        var wrong = await daemon.PostAsync(Initialize, token: "smcp_" + new string('A', 43));
        var revoked = await daemon.PostAsync(Initialize, token: daemon.Tokens["old"]);
        var live = await daemon.PostAsync(Initialize, token: daemon.Tokens["full"]);

        // Then the first three are 401 with a Bearer challenge; the live token gets an MCP answer
        foreach (var refused in new[] { none, wrong, revoked })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Bearer", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        Assert.Contains("invalid_token", wrong.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Contains("\"protocolVersion\"", await live.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATokenThatExpiredGets401AndTheListSaysItExpired()
    {
        // Given a daemon and a token made to live three seconds
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"));
        var created = await ServerCli.RunAsync(daemon.DataDir, ["token", "create", "--name", "brief", "--expires-in", "3s"]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var token = created.Stdout.Trim();
        Assert.Contains("valid until", created.Stderr, StringComparison.Ordinal);

        // When it is used while it lives, and again once it has expired
        var before = await daemon.PostAsync(Initialize, token: token);
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        var after = await daemon.PostAsync(Initialize, token: token);
        var list = await ServerCli.RunAsync(daemon.DataDir, ["token", "list"]);

        // Then it worked, then it is refused like a revoked one, and the list says why
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Contains("(expired)", list.Stdout.Split('\n').Single(l => l.StartsWith("brief", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthAnswersWithoutATokenAndForeignHostsAndOriginsAreRefusedFirst()
    {
        // Given a daemon
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"));

        // When
        using var http = new HttpClient();
        var health = await http.GetAsync(daemon.BaseUrl + "/healthz");
        var badHost = await daemon.PostAsync(Initialize, daemon.Tokens["full"], request => request.Headers.Host = "attacker.example:" + daemon.Port);
        var badOrigin = await daemon.PostAsync(Initialize, daemon.Tokens["full"], request => request.Headers.Add("Origin", "http://attacker.example"));
        var badOriginNoToken = await daemon.PostAsync(Initialize, null, request => request.Headers.Add("Origin", "http://attacker.example"));
        var sameOrigin = await daemon.PostAsync(Initialize, daemon.Tokens["full"], request => request.Headers.Add("Origin", daemon.BaseUrl));
        var tunnelled = await daemon.PostAsync(Initialize, daemon.Tokens["full"], request => request.Headers.Host = "localhost:9000");

        // Then health is 200 with no token; a foreign Host or Origin is 403 even before the token is looked at
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, badHost.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, badOrigin.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, badOriginNoToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, sameOrigin.StatusCode);
        // A loopback bind answers to any loopback name and port (an SSH tunnel's local port)
        Assert.Equal(HttpStatusCode.OK, tunnelled.StatusCode);
    }

    [Fact]
    public async Task AReadTokenListsButCannotExecAndAnotherTokenSeesASessionOnlyOnceShared()
    {
        // Given a daemon with a full token that owns a session, another full token and a read token
        await using var daemon = await HttpDaemon.StartAsync(("alice", "full"), ("bob", "full"), ("reader", "read"));
        await using var alice = await daemon.ConnectAsync("alice");
        await using var bob = await daemon.ConnectAsync("bob");
        await using var reader = await daemon.ConnectAsync("reader");
        var id = (await alice.CallAsync("session_create", new { backend = Backends.Local }))["session_id"]!.GetValue<string>();

        // When the read token lists and tries to run a command, and bob looks before and after alice shares
        var readerList = await reader.CallAsync("session_list");
        var readerExec = await reader.CallErrorAsync("session_exec", new { session_id = id, command = "echo no" });
        var bobListBefore = await bob.CallAsync("session_list");
        var bobExecBefore = await bob.CallErrorAsync("session_exec", new { session_id = id, command = "echo no" });
        await alice.CallAsync("session_share", new { session_id = id, token_name = "bob", scope = "full" });
        var bobListAfter = await bob.CallAsync("session_list");
        var bobExecAfter = await bob.CallAsync("session_exec", new { session_id = id, command = "echo shared" });

        // Then the read token was refused the exec (audited as rejected, by it) but could list, and is offered only
        // the tools it may call
        var readerTools = (await reader.Client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("session_list", readerTools);
        Assert.DoesNotContain("session_exec", readerTools);
        Assert.Contains("session_exec", (await alice.Client.ListToolsAsync()).Select(t => t.Name));
        Assert.NotNull(readerList["sessions"]);
        Assert.NotEmpty(readerExec);
        var events = await ServerCli.ExportAsync(daemon.DataDir);
        Assert.Contains(events, e => e["principal"]?.GetValue<string>() == "reader" && e["tool"]?.GetValue<string>() == "session_exec" && e["outcome"]?.GetValue<string>() == "rejected");
        // And bob saw nothing of alice's session until it was shared, then could use it
        Assert.DoesNotContain(id, bobListBefore.ToJsonString(), StringComparison.Ordinal);
        Assert.NotEmpty(bobExecBefore);
        Assert.Contains(id, bobListAfter.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("shared", bobExecAfter["stdout"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("2025-11-25")]
    public async Task CancellingACallOverHttpStopsTheCommandAndALongCallReportsProgress(string? protocolVersion)
    {
        // Given a daemon, a client and a session
        await using var daemon = await HttpDaemon.StartAsync(("full", "full"));
        await using var client = await daemon.ConnectAsync("full", protocolVersion);
        var id = (await client.CallAsync("session_create", new { backend = Backends.Local }))["session_id"]!.GetValue<string>();

        // When a long command is cancelled by the client
        using var cancel = new CancellationTokenSource();
        var call = client.Client.CallToolAsync("session_exec", new Dictionary<string, object?> { ["session_id"] = id, ["command"] = "sleep 1002" }, cancellationToken: cancel.Token).AsTask();
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "1002").Count == 1, TimeSpan.FromSeconds(20)), "the command never started");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        // Then the command is gone
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "1002").Count == 0, TimeSpan.FromSeconds(10)), "the command survived the cancellation");
        Assert.True(await Poll.UntilAsync(async () =>
            (await ServerCli.ExportAsync(daemon.DataDir)).Any(e => e["tool"]?.GetValue<string>() == "session_exec" && e["outcome"]?.GetValue<string>() == "cancelled"),
            TimeSpan.FromSeconds(10)), "no cancelled event was recorded");

        // When a command runs for a while with a progress handler
        var progress = new CollectingProgress();
        var result = await client.Client.CallToolAsync("session_exec", new Dictionary<string, object?> { ["session_id"] = id, ["command"] = "echo begun; sleep 3; echo done" }, progress);

        // Then progress arrived over HTTP
        Assert.True(result.IsError != true, ServerProcessText(result));
        Assert.True(await Poll.UntilAsync(() => progress.Values.Count >= 2, TimeSpan.FromSeconds(5)), $"{progress.Values.Count} progress notifications");
        Assert.Contains(progress.Values, p => p.Message is { } m && m.Contains("begun", StringComparison.Ordinal));
    }

    private static string ServerProcessText(CallToolResult result) => ServerProcess.TextOf(result);
}
