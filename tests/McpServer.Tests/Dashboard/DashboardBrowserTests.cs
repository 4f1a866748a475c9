using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using SessionMcp.McpServer.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionMcp.McpServer.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser (Debian's chromium driven by Playwright) against a real daemon: a person logs in with
/// a token and watches what agents do over MCP, live. Screenshots of the main pages go to <c>docs/</c>.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Live = TimeSpan.FromSeconds(1);

    [ChromiumFact]
    public async Task APersonLogsInWithATokenAndASessionCreatedOverMcpAppearsWithinASecond()
    {
        // Given a daemon, an agent and a person logged in with a full token
        await using var daemon = await HttpDaemon.StartAsync(null, ("agent", "full"), ("alice", "admin"));
        var agent = await daemon.ConnectAsync("agent");
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await LogInAsync(browser, daemon, "alice", screenshot: "dashboard-login.png");

        // When the agent makes a session
        var id = await agent.CreateSessionAsync("refactor-parser");
        var created = DateTime.UtcNow;

        // Then its card appears without a reload, within a second
        await page.Locator($"[data-session='{id}']").WaitForAsync(new() { Timeout = 5000 });
        var took = DateTime.UtcNow - created;
        output.WriteLine($"session card shown {took.TotalMilliseconds:0} ms after session_create returned");
        Assert.True(took <= Live, $"the session appeared after {took.TotalMilliseconds:0} ms");
        await Assertions.Expect(page.Locator($"[data-session='{id}']")).ToContainTextAsync("refactor-parser");

        // And commands finishing reach the open dashboard quickly: event time (as audited) to shown in the page
        const int commands = 30;
        long lastSeq = 0;
        for (var i = 0; i < commands; i++)
        {
            lastSeq = (await agent.CallAsync("session_exec", new { session_id = id, command = $"echo step {i}" }))["event_seq"]!.GetValue<long>();
        }
        await page.WaitForFunctionAsync($"() => window.__dashboard.feed.some(e => e.seq === {lastSeq} && e.shown)");
        var latencies = await EventLatenciesAsync(page, "session_exec");
        Assert.Equal(commands, latencies.Count);
        var p50 = Percentile(latencies, 0.5);
        output.WriteLine($"event -> dashboard latency over {latencies.Count} session_exec events: p50 {p50:0.0} ms, p90 {Percentile(latencies, 0.9):0.0} ms, max {latencies.Max():0.0} ms");
        Assert.True(p50 <= 200, $"p50 {p50:0.0} ms");

        // A second session with work in it, for the screenshot
        var other = await agent.CreateSessionAsync("docs-site");
        await agent.CallAsync("session_exec", new { session_id = other, command = "sleep 300", background = true });
        await agent.CallAsync("session_exec", new { session_id = id, command = "exit 3" });
        await page.Locator($"[data-session='{other}']").WaitForAsync();
        await page.Locator($"[data-session='{id}'].flagged").WaitForAsync(new() { Timeout = 5000 });
        await ScreenshotAsync(page, "dashboard-sessions.png");
    }

    [ChromiumFact]
    public async Task ATerminalsOutputAppearsInItsViewAndKeysTypedThereReachItWithAFullToken()
    {
        // Given an agent's session with a terminal, and its owner watching the session's page
        await using var daemon = await HttpDaemon.StartAsync(null, ("alice", "full"));
        var agent = await daemon.ConnectAsync("alice");
        var id = await agent.CreateSessionAsync("terminal-demo");
        var terminal = (await agent.CallAsync("session_terminal_open", new { session_id = id, cols = 100, rows = 24 }))["terminal_id"]!.GetValue<string>();
        await agent.CallAsync("session_exec", new { session_id = id, command = "printf 'print(\"hi\")\\n' > hello.py" });
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await LogInAsync(browser, daemon, "alice");
        await page.GotoAsync($"{daemon.BaseUrl}/dashboard/#/s/{id}");
        await page.Locator($"[data-terminal='{terminal}'] .xterm").WaitForAsync();

        // When the agent types into the terminal, the page shows its output
        await agent.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo from-the-agent-$((6*7))\r" });
        await page.WaitForFunctionAsync("() => TerminalText().includes('from-the-agent-42')".Replace("TerminalText()", TerminalText, StringComparison.Ordinal));

        // And when the person types in the view
        await page.Locator($"[data-terminal='{terminal}'] .xterm").ClickAsync();
        await page.Keyboard.TypeAsync("echo typed-by-$((2+3))-alice");
        await page.Keyboard.PressAsync("Enter");

        // Then the keys reached the terminal: its screen (read over MCP) shows the command's output
        Assert.True(await Poll.UntilAsync(async () =>
            (await agent.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal }))["screen"]!.GetValue<string>().Contains("typed-by-5-alice", StringComparison.Ordinal), TimeSpan.FromSeconds(10)),
            "what was typed in the browser never reached the terminal");
        await page.WaitForFunctionAsync($"() => {TerminalText}.includes('typed-by-5-alice')");
        // And each key went through MCP, audited with the person's principal
        var sends = (await ServerCli.ExportAsync(daemon.DataDir)).Where(e => e["tool"]?.GetValue<string>() == "session_terminal_send" && e["client"]?.GetValue<string>()?.StartsWith("session-mcp-dashboard", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(sends);
        Assert.All(sends, e => Assert.Equal("alice", e["principal"]!.GetValue<string>()));
        Assert.All(sends, e => Assert.Equal("ok", e["outcome"]!.GetValue<string>()));
        await ScreenshotAsync(page, "dashboard-session.png");
    }

    [ChromiumFact]
    public async Task AReadTokenWatchesATerminalButCannotTypeIntoIt()
    {
        // Given alice's session with a terminal, shared read-only with bob, who watches it
        await using var daemon = await HttpDaemon.StartAsync(null, ("alice", "full"), ("bob", "read"));
        var alice = await daemon.ConnectAsync("alice");
        var id = await alice.CreateSessionAsync("shared-readonly");
        var terminal = (await alice.CallAsync("session_terminal_open", new { session_id = id, cols = 100, rows = 24 }))["terminal_id"]!.GetValue<string>();
        await alice.CallAsync("session_share", new { session_id = id, token_name = "bob", scope = "read" });
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await LogInAsync(browser, daemon, "bob");
        await page.GotoAsync($"{daemon.BaseUrl}/dashboard/#/s/{id}");
        await page.Locator($"[data-terminal='{terminal}'] .xterm").WaitForAsync();
        await alice.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo watched-$((1+1))\r" });
        await page.WaitForFunctionAsync($"() => {TerminalText}.includes('watched-2')");

        // When bob types into the view
        await page.Locator($"[data-terminal='{terminal}'] .xterm").ClickAsync();
        await page.Keyboard.TypeAsync("echo bob-was-here");
        await page.Keyboard.PressAsync("Enter");

        // Then the page says it is read-only, nothing reached the terminal, and no send was even attempted
        await Assertions.Expect(page.Locator("#read-only")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#scope")).ToHaveTextAsync("read");
        await alice.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo marker-$((3+4))\r" });
        await page.WaitForFunctionAsync($"() => {TerminalText}.includes('marker-7')");
        var screen = (await alice.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal }))["screen"]!.GetValue<string>();
        Assert.DoesNotContain("bob-was-here", screen, StringComparison.Ordinal);
        var events = await ServerCli.ExportAsync(daemon.DataDir);
        Assert.DoesNotContain(events, e => e["principal"]?.GetValue<string>() == "bob" && e["tool"]?.GetValue<string>() == "session_terminal_send");
    }

    [ChromiumFact]
    public async Task AJobWaitingForInputRaisesAttentionTheWebhookFiresAndLookingClearsIt()
    {
        // Given a daemon that posts attention to a loopback webhook, and a person on the sessions page
        using var webhook = new WebhookReceiver();
        await using var daemon = await HttpDaemon.StartAsync(new Dictionary<string, string> { ["SESSION_MCP_ATTENTION_WEBHOOK"] = webhook.Url }, ("alice", "full"));
        var agent = await daemon.ConnectAsync("alice");
        var id = await agent.CreateSessionAsync("needs-an-answer");
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        // (system notifications allowed, and recorded: a headless browser has no notification centre to look at)
        var page = await LogInAsync(browser, daemon, "alice", initScript: RecordNotifications);
        await page.Locator($"[data-session='{id}']").WaitForAsync();

        // When a job starts waiting for input
        var job = (await agent.CallAsync("session_exec", new { session_id = id, command = "read -p 'Deploy to production? ' answer; echo got $answer", background = true }))["job_id"]!.GetValue<string>();

        // Then the session is flagged on the page and in the tab's title, and the webhook got the flag
        await page.Locator($"[data-session='{id}'].flagged").WaitForAsync(new() { Timeout = 10_000 });
        await Assertions.Expect(page.Locator($"[data-session='{id}'] .flag.waiting_for_input")).ToContainTextAsync(job);
        await Assertions.Expect(page).ToHaveTitleAsync(new System.Text.RegularExpressions.Regex(@"^\(1\) "));
        await page.WaitForFunctionAsync($"() => window.__notified.some(n => n.body.includes('{job}'))");
        var posted = await webhook.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(id, posted["session_id"]!.GetValue<string>());
        Assert.Equal("waiting_for_input", posted["reason"]!.GetValue<string>());
        await ScreenshotAsync(page, "dashboard-attention.png");

        // And when the person opens the session, the flag clears
        await page.Locator($"[data-session='{id}']").ClickAsync();
        await page.Locator("#timeline .step").First.WaitForAsync();
        await page.GotoAsync($"{daemon.BaseUrl}/dashboard/#/");
        await page.Locator($"[data-session='{id}']").WaitForAsync();
        await Assertions.Expect(page.Locator($"[data-session='{id}'].flagged")).ToHaveCountAsync(0);
        await Assertions.Expect(page).ToHaveTitleAsync("session-mcp");
    }

    [ChromiumFact]
    public async Task AFullTokenWatchesAJobsOutputAndKillsItFromTheSessionsPageThroughMcp()
    {
        // Given a session with a background job that prints and then waits, and its owner on the session's page
        await using var daemon = await HttpDaemon.StartAsync(null, ("alice", "full"));
        var agent = await daemon.ConnectAsync("alice");
        var id = await agent.CreateSessionAsync("long-build");
        var job = (await agent.CallAsync("session_exec", new { session_id = id, command = "for i in 1 2 3; do echo tick-$i; done; sleep 300", background = true }))["job_id"]!.GetValue<string>();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await LogInAsync(browser, daemon, "alice");
        await page.GotoAsync($"{daemon.BaseUrl}/dashboard/#/s/{id}");

        // When the person opens its output, then kills it
        await page.Locator($"tr[data-job='{job}'] button", new() { HasText = "output" }).ClickAsync();
        await Assertions.Expect(page.Locator($"pre[data-output='{job}']")).ToContainTextAsync("tick-3");
        await page.Locator($"tr[data-job='{job}'] button.danger").ClickAsync();

        // Then the job is killed, the page shows it, and the kill was an audited MCP call with the person's principal
        await Assertions.Expect(page.Locator($"tr[data-job='{job}']")).ToContainTextAsync("killed");
        var status = await agent.CallAsync("session_jobs", new { session_id = id });
        Assert.Equal("killed", status["jobs"]!.AsArray().Single(j => j!["job_id"]!.GetValue<string>() == job)!["state"]!.GetValue<string>());
        var kill = (await ServerCli.ExportAsync(daemon.DataDir)).Single(e => e["tool"]?.GetValue<string>() == "session_job_kill");
        Assert.Equal("alice", kill["principal"]!.GetValue<string>());
        Assert.StartsWith("session-mcp-dashboard", kill["client"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [ChromiumFact]
    public async Task FromASessionsHistoryAPersonSeesAStepsDiffRestoresItForksItAndDownloadsTheReportAndPatch()
    {
        // Given a session whose file was written, then edited, and its owner on the session's page
        await using var daemon = await HttpDaemon.StartAsync(null, ("alice", "full"));
        var agent = await daemon.ConnectAsync("alice");
        var id = await agent.CreateSessionAsync("history");
        var written = (await agent.CallAsync("session_write_file", new { session_id = id, path = "notes.txt", content = "one\n" }))["event_seq"]!.GetValue<long>();
        var edited = (await agent.CallAsync("session_edit_file", new { session_id = id, path = "notes.txt", old_string = "one", new_string = "two" }))["event_seq"]!.GetValue<long>();
        var (playwright, browser) = await Chromium.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await LogInAsync(browser, daemon, "alice");
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GotoAsync($"{daemon.BaseUrl}/dashboard/#/s/{id}");

        // When the person asks for the edit's diff
        await page.Locator($".step[data-seq='{edited}'] button.diff").ClickAsync();

        // Then it shows the edit
        await Assertions.Expect(page.Locator($".step[data-seq='{edited}'] pre")).ToContainTextAsync("+two");
        await Assertions.Expect(page.Locator($".step[data-seq='{edited}'] pre")).ToContainTextAsync("-one");
        await ScreenshotAsync(page, "dashboard-history.png");

        // When the person downloads the report and the patch
        var report = await page.RunAndWaitForDownloadAsync(() => page.Locator("#download-report").ClickAsync());
        var patch = await page.RunAndWaitForDownloadAsync(() => page.Locator("#download-patch").ClickAsync());

        // Then they are the session's markdown report and its change as a patch
        Assert.Contains(id, await File.ReadAllTextAsync(await report.PathAsync()), StringComparison.Ordinal);
        Assert.Contains("+two", await File.ReadAllTextAsync(await patch.PathAsync()), StringComparison.Ordinal);

        // When the person restores the session to the write (accepting the preview)
        await page.Locator($".step[data-seq='{written}'] button.restore").ClickAsync();

        // Then the file is back as written, and the restore was the person's audited call
        Assert.True(await Poll.UntilAsync(async () =>
            (await agent.CallAsync("session_exec", new { session_id = id, command = "cat notes.txt" }))["stdout"]!.GetValue<string>() == "one\n", TimeSpan.FromSeconds(10)),
            "the restore never happened; the page's errors: " + await page.EvaluateAsync<string>("() => window.__dashboard.errors.join(' | ')"));
        var restores = (await ServerCli.ExportAsync(daemon.DataDir)).Where(e => e["tool"]?.GetValue<string>() == "session_restore").ToList();
        Assert.Equal(2, restores.Count); // the preview (dry run), then the restore
        Assert.All(restores, e => Assert.Equal("alice", e["principal"]!.GetValue<string>()));

        // When the person forks at the edit
        await page.Locator($".step[data-seq='{edited}'] button.fork").ClickAsync();

        // Then the page moves to the new session, whose file is as edited
        await page.WaitForURLAsync(new System.Text.RegularExpressions.Regex($"#/s/(?!{id}$)s-"));
        await page.Locator("#timeline .step").First.WaitForAsync();
        var fork = page.Url[(page.Url.IndexOf("#/s/", StringComparison.Ordinal) + 4)..];
        Assert.NotEqual(id, fork);
        Assert.Equal("two\n", (await agent.CallAsync("session_exec", new { session_id = fork, command = "cat notes.txt" }))["stdout"]!.GetValue<string>());
    }

    // The Notification API, allowed and recording what the page shows.
    private const string RecordNotifications = """
        window.__notified = [];
        window.Notification = class {
            constructor(title, options) { window.__notified.push({ title, body: (options && options.body) || '' }); }
            static get permission() { return 'granted'; }
            static requestPermission() { return Promise.resolve('granted'); }
        };
        """;

    // The rendered text of the open terminal, from xterm.js's buffer.
    private const string TerminalText = "(() => { const b = window.__dashboard.terminal.buffer.active; let t = ''; for (let i = 0; i < b.length; i++) t += b.getLine(i).translateToString(true) + '\\n'; return t; })()";

    private static async Task<IPage> LogInAsync(IBrowser browser, HttpDaemon daemon, string token, string? screenshot = null, string? initScript = null)
    {
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 } });
        if (initScript is not null)
        {
            await context.AddInitScriptAsync(initScript);
        }
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(15_000);
        await page.GotoAsync(daemon.BaseUrl + "/dashboard/");
        await page.FillAsync("#token", daemon.Tokens[token]);
        if (screenshot is not null)
        {
            await ScreenshotAsync(page, screenshot);
        }
        await page.ClickAsync("#login-button");
        await Assertions.Expect(page.Locator("#feed-state")).ToHaveTextAsync("live");
        await Assertions.Expect(page.Locator("#who")).ToContainTextAsync(token);
        return page;
    }

    private static async Task<List<double>> EventLatenciesAsync(IPage page, string tool)
    {
        var json = await page.EvaluateAsync<JsonElement>($"() => window.__dashboard.feed.filter(e => e.tool === '{tool}').map(e => e.shown - Date.parse(e.ts))");
        return [.. json.EnumerateArray().Select(e => e.GetDouble())];
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var docs = Path.Combine(RepositoryRoot(), "docs");
        await page.ScreenshotAsync(new() { Path = Path.Combine(docs, name), FullPage = false });
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mcp.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("the repository root (Mcp.sln) was not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A loopback HTTP endpoint standing in for a person's webhook: it keeps what is POSTed to it.</summary>
    private sealed class WebhookReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly System.Threading.Channels.Channel<JsonNode> _received = System.Threading.Channels.Channel.CreateUnbounded<JsonNode>();

        public WebhookReceiver()
        {
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/hook/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _ = ServeAsync();
        }

        public string Url { get; }

        public async Task<JsonNode> NextAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            return await _received.Reader.ReadAsync(cancel.Token);
        }

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using (var reader = new StreamReader(context.Request.InputStream))
                {
                    _received.Writer.TryWrite(JsonNode.Parse(await reader.ReadToEndAsync())!);
                }
                context.Response.StatusCode = 204;
                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
