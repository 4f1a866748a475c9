using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary><c>session-mcp audit export --format markdown</c> on the events a real server recorded.</summary>
public sealed class MarkdownAuditExportTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ASessionsReportShowsItsCommandsEditsJobsTerminalsAndErrors(string backend)
    {
        // Given a session that ran a failing command, wrote and edited a file, ran a job, used a terminal and hit an error
        var id = await Server.CreateSessionAsync(backend, name: "report me");
        var exec = await Server.ExecAsync(id, "echo hello; echo oops >&2; exit 3");
        await Server.CallAsync("session_write_file", new { session_id = id, path = "notes.txt", content = "one\ntwo\n" });
        var edit = await Server.CallAsync("session_edit_file", new { session_id = id, path = "notes.txt", old_string = "two", new_string = "TWO" });
        await Server.CallAsync("session_read_file", new { session_id = id, path = "notes.txt" });
        var job = (await Server.CallAsync("session_exec", new { session_id = id, command = "echo from-the-job", background = true })).Text("job_id");
        await Server.CallAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 10_000 });
        var terminal = (await Server.CallAsync("session_terminal_open", new { session_id = id })).Text("terminal_id");
        await Server.CallAsync("session_terminal_send", new { session_id = id, terminal_id = terminal, text = "echo typed-in-terminal", keys = new[] { "Enter" }, wait_ms = 300 });
        await Server.CallAsync("session_terminal_close", new { session_id = id, terminal_id = terminal });
        await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "missing.txt", old_string = "a", new_string = "b" });
        Assert.True(await Poll.UntilAsync(async () => (await ServerCli.ExportAsync(fixture.DataDir)).Any(e => e.Text("kind") == "job_ended" && e["summary"]!.Text("job_id") == job), TimeSpan.FromSeconds(10)),
            "the job's end was not recorded");

        // When the report is exported
        var result = await ServerCli.RunAsync(fixture.DataDir, ["audit", "export", "--format", "markdown", "--session", id]);

        // Then it reads as a review of everything the session did
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = result.Stdout;
        Assert.StartsWith($"# Session {id} — report me\n", report);
        Assert.Contains($"| Backend | {backend} |", report);
        Assert.Contains("| Status | running |", report);
        Assert.Contains($"### #{exec.EventSeq()} ", report);
        Assert.Contains("`$ echo hello; echo oops >&2; exit 3` → exit 3", report);
        Assert.Contains("**stdout**\n```text\nhello\n```", report);
        Assert.Contains("**stderr**\n```text\noops\n```", report);
        Assert.Contains("write `notes.txt` (new file, 8 bytes)", report);
        Assert.Contains($"### #{edit.EventSeq()} ", report);
        Assert.Contains("-two\n+TWO\n", report);
        Assert.Contains("read `notes.txt` (2 lines)", report);
        Assert.Contains($"→ started job `{job}`", report);
        Assert.Contains($"job `{job}` ended: exit 0", report);
        Assert.Contains($"open terminal `{terminal}`", report);
        Assert.Contains("echo typed-in-terminal", report);
        Assert.Contains($"close terminal `{terminal}`", report);
        Assert.Contains("**error:** ", report);
        Assert.Contains("missing.txt", report);
        Assert.Contains("**2 commands (1 exited non-zero), 2 edits, 1 file write, 1 job end, 1 terminal, 1 error.**", report);
    }

    [Fact]
    public async Task AnUnknownSessionIsAClearErrorAndWithoutASessionEverySessionIsReported()
    {
        // Given two sessions
        var first = await Server.CreateSessionAsync(Backends.Local);
        var second = await Server.CreateSessionAsync(Backends.Local);

        // When
        var unknown = await ServerCli.RunAsync(fixture.DataDir, ["audit", "export", "--format", "markdown", "--session", "s-zzzzzzzz"]);
        var all = await ServerCli.RunAsync(fixture.DataDir, ["audit", "export", "--format", "markdown"]);

        // Then
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no session s-zzzzzzzz", unknown.Stderr);
        Assert.Equal(0, all.ExitCode);
        Assert.Contains($"# Session {first}\n", all.Stdout);
        Assert.Contains($"# Session {second}\n", all.Stdout);
    }
}
