using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Terminals through the real server, on both backends: a real TTY, its size, the rendered screen of a program that
/// draws with cursor addressing, keys, a password kept out of every record, a recording that replays to the same
/// screen, and nothing left running when it closes.
/// </summary>
public sealed class TerminalTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ATerminalIsARealTtyWhoseSizeFollowsResize(string backend)
    {
        // Given
        var id = await Server.CreateSessionAsync(backend);
        var terminal = await OpenAsync(id, cols: 70, rows: 15);

        // When
        var before = await SendLineAsync(id, terminal, "tty; stty size");
        await Server.CallAsync("session_terminal_resize", new { session_id = id, terminal_id = terminal, cols = 90, rows = 30 });
        var after = await SendLineAsync(id, terminal, "stty size");

        // Then
        Assert.Matches(@"/dev/pts/\d+", before.Text("screen"));
        Assert.Contains("15 70", before.Text("screen"));
        Assert.Contains("30 90", after.Text("screen"));
        Assert.Equal(90, after["cols"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AScreenDrawnWithCursorAddressingReadsBackAsRenderedText(string backend)
    {
        // Given a full-screen drawing: clear, boxes placed by absolute position, a line overwritten in place
        var id = await Server.CreateSessionAsync(backend);
        var terminal = await OpenAsync(id, cols: 40, rows: 10);

        // When
        var drawn = await SendLineAsync(id, terminal, @"clear; printf '\033[3;5H+--+\033[4;5H|ok|\033[5;5H+--+\033[8;1Hold text\r\033[Knew\033[1;1H'; sleep 1");

        // Then the screen is what a person would see: no escape sequences, text where the cursor put it
        var lines = drawn.Text("screen").Split('\n');
        Assert.Equal("    +--+", lines[2]);
        Assert.Equal("    |ok|", lines[3]);
        Assert.Equal("    +--+", lines[4]);
        Assert.Equal("new", lines[7]);
        Assert.DoesNotContain("\u001b", drawn.Text("screen"));
        var changes = await Server.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal, mode = "changes" });
        Assert.NotNull(changes["changed"]);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task APasswordTypedAtAPromptThatDoesNotEchoIsRecordedNowhere(string backend)
    {
        // Given a prompt that turns echo off, like a password prompt
        using var dataDir = new TempDirectory("terminal-secret");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var id = await server.CreateSessionAsync(backend);
        var terminal = (await server.CallAsync("session_terminal_open", new { session_id = id, cols = 60, rows = 10 })).Text("terminal_id");
        await server.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "stty -echo; read pw; stty echo; echo length ${#pw}", keys = new[] { "Enter" } });
        Assert.True(await Poll.UntilAsync(async () => (await server.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal }))["waiting_for_input"]?.GetValue<bool>() == true, TimeSpan.FromSeconds(5)), "the prompt was never seen waiting for input");

        // When the password is typed
        var answered = await server.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "hunter2-Sw0rdfish", keys = new[] { "Enter" } });

        // Then the program got it, and neither the audit log nor the recording holds it
        Assert.True(answered["input_hidden"]!.GetValue<bool>());
        var screen = (await SendLineAsync(server, id, terminal, "true")).Text("screen");
        Assert.True(screen.Contains("length 17", StringComparison.Ordinal), screen);
        var recording = await ServerCli.RunAsync(dataDir.Path, ["terminal", "export", id, terminal]);
        Assert.Equal(0, recording.ExitCode);
        Assert.DoesNotContain("Sw0rdfish", recording.Stdout);
        Assert.Contains("input not recorded", recording.Stdout);
        Assert.DoesNotContain("Sw0rdfish", await ServerCli.ExportTextAsync(dataDir.Path));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task TheRecordingReplaysToTheSameFinalScreen(string backend)
    {
        // Given a terminal session with output, a resize and a redraw
        using var dataDir = new TempDirectory("terminal-cast");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var id = await server.CreateSessionAsync(backend);
        var terminal = (await server.CallAsync("session_terminal_open", new { session_id = id, cols = 50, rows = 12 })).Text("terminal_id");
        await SendLineAsync(server, id, terminal, "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do echo line $i; done");
        await server.CallAsync("session_terminal_resize", new { session_id = id, terminal_id = terminal, cols = 60, rows = 14 });
        var last = await SendLineAsync(server, id, terminal, @"printf '\033[2;3Hmark'");

        // When its recording is played back into a fresh screen
        var cast = (await ServerCli.RunAsync(dataDir.Path, ["terminal", "export", id, terminal])).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = JsonNode.Parse(cast[0])!;
        Assert.Equal(3, header["version"]!.GetValue<int>());
        var screen = new TerminalScreen(header["term"]!["cols"]!.GetValue<int>(), header["term"]!["rows"]!.GetValue<int>());
        foreach (var line in cast.Skip(1))
        {
            var e = JsonNode.Parse(line)!.AsArray();
            var (code, data) = (e[1]!.GetValue<string>(), e[2]!.GetValue<string>());
            if (code == "o")
            {
                screen.Feed(Encoding.UTF8.GetBytes(data));
            }
            else if (code == "r")
            {
                var size = data.Split('x');
                screen.Resize(int.Parse(size[0], CultureInfo.InvariantCulture), int.Parse(size[1], CultureInfo.InvariantCulture));
            }
        }

        // Then it shows what the server showed, and it is kept after the session is gone, like its events
        Assert.Equal(last.Text("screen"), screen.Render().Text);
        await server.CallAsync("session_destroy", new { session_id = id });
        Assert.Equal(0, (await ServerCli.RunAsync(dataDir.Path, ["terminal", "export", id, terminal])).ExitCode);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task CtrlCInterruptsTheForegroundProgramAndCloseLeavesNothingRunning(string backend)
    {
        // Given a terminal running a long sleep in the foreground, and one in the background
        var id = await Server.CreateSessionAsync(backend);
        var terminal = await OpenAsync(id, cols: 60, rows: 10);
        var seconds = (100_000 + Random.Shared.Next(800_000)).ToString(CultureInfo.InvariantCulture);
        await SendLineAsync(id, terminal, $"sleep {seconds} & sleep {seconds}1");
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds + "1").Count == 1, TimeSpan.FromSeconds(5)), "the foreground sleep never started");

        // When Ctrl-C is typed, then the terminal closed
        await Server.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, keys = new[] { "Ctrl-C" } });
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds + "1").Count == 0, TimeSpan.FromSeconds(5)), "Ctrl-C did not stop the foreground sleep");
        Assert.Single(LocalProcesses.FindByCommandLine("sleep", seconds));
        var closed = await Server.CallAsync("session_terminal_close", new { session_id = id, terminal_id = terminal });

        // Then the terminal is killed with everything it started
        Assert.Equal("killed", closed.Text("state"));
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds).Count == 0, TimeSpan.FromSeconds(5)), "the background sleep survived the close");
        var jobs = await Server.CallAsync("session_jobs", new { session_id = id });
        Assert.Equal("terminal", jobs["jobs"]![0]!.Text("kind"));
    }

    [Fact]
    public async Task ATerminalsLastScreenIsReadableAfterARestartAndItIsReportedLost()
    {
        // Given a terminal showing something when its server is killed
        using var dataDir = new TempDirectory("terminal-restart");
        string id;
        string terminal;
        await using (var first = await ServerProcess.StartAsync(dataDir.Path))
        {
            id = await first.CreateSessionAsync(Backends.Local);
            terminal = (await first.CallAsync("session_terminal_open", new { session_id = id, cols = 50, rows = 8 })).Text("terminal_id");
            Assert.Contains("before the crash", (await SendLineAsync(first, id, terminal, "echo before the crash")).Text("screen"));
            await first.KillAsync();
        }

        // When another server starts on the same data
        await using var second = await ServerProcess.StartAsync(dataDir.Path);
        var screen = await second.CallAsync("session_terminal_read", new { session_id = id, terminal_id = terminal });

        // Then the terminal is lost, its screen rebuilt from its journal
        Assert.Equal("lost", screen.Text("state"));
        Assert.Contains("before the crash", screen.Text("screen"));
        Assert.Contains("has ended", await second.CallErrorAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "x" }));
    }

    private async Task<string> OpenAsync(string sessionId, int cols, int rows) =>
        (await Server.CallAsync("session_terminal_open", new { session_id = sessionId, cols, rows })).Text("terminal_id");

    private Task<JsonNode> SendLineAsync(string sessionId, string terminal, string line) => SendLineAsync(Server, sessionId, terminal, line);

    /// <summary>Types a line and waits until the screen has settled after its output.</summary>
    private static async Task<JsonNode> SendLineAsync(ServerProcess server, string sessionId, string terminal, string line)
    {
        await server.CallAsync("session_terminal_send", new { session_id = sessionId, terminal_id = terminal, text = line, keys = new[] { "Enter" }, wait_ms = 0 });
        return await server.CallAsync("session_terminal_read", new { session_id = sessionId, terminal_id = terminal, wait_ms = 5000, quiet_ms = 300 });
    }
}
