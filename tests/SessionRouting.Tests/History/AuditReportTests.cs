using System.Text.Json;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Tests.History;

public sealed class AuditReportTests
{
    private const string Id = "s-abcdefgh";
    private static readonly DateTimeOffset Start = new(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void GivenASessionRecord_WhenReported_ThenTheHeaderNamesIdNameBackendOwnerCreatedAndStatus()
    {
        var record = new SessionRecord(Id, "fix the build", "docker", SessionStatus.Stopped, "/host/ws", "/workspace", "/workspace",
            new Dictionary<string, string>(), Start, Start, null, null) { Owner = "ci" };

        var report = AuditReport.Render(Id, record, [Created(1)]);

        Assert.StartsWith("# Session s-abcdefgh — fix the build\n", report);
        Assert.Contains("| Backend | docker |\n", report);
        Assert.Contains("| Owner | ci |\n", report);
        Assert.Contains("| Created | 2026-11-29 10:00:00Z |\n", report);
        Assert.Contains("| Status | stopped |\n", report);
    }

    [Fact]
    public void GivenASessionNoLongerInTheRegistry_WhenReported_ThenTheHeaderComesFromItsCreationEvent()
    {
        var report = AuditReport.Render(Id, null, [Created(1)]);

        Assert.Contains("| Backend | local |\n", report);
        Assert.Contains("| Owner | local |\n", report);
        Assert.Contains("| Status | not in the registry |\n", report);
    }

    [Fact]
    public void GivenCommands_WhenReported_ThenEachHasItsExitCodeAndOutputsAndTheTallyCountsFailures()
    {
        var report = AuditReport.Render(Id, null, [Created(1), Exec(2, "make test", 2, "compiling\n", "error: missing ;\n")]);

        Assert.Contains("### #2 10:00:02 `$ make test` → exit 2\n", report);
        Assert.Contains("**stdout**\n```text\ncompiling\n```\n", report);
        Assert.Contains("**stderr**\n```text\nerror: missing ;\n```\n", report);
        Assert.Contains("**1 command (1 exited non-zero), 0 edits", report);
    }

    [Fact]
    public void GivenALongOutput_WhenReported_ThenItsMiddleIsCutAndTheReportSaysHowMuch()
    {
        var lines = string.Concat(Enumerable.Range(1, 2000).Select(i => $"line {i}\n"));

        var report = AuditReport.Render(Id, null, [Exec(2, "seq", 0, lines, "")], options: new AuditReportOptions(MaxOutputChars: 1000));

        Assert.Contains($"**stdout** ({lines.Length:N0} characters; the first", report);
        Assert.Contains("line 1\n", report);
        Assert.Contains("line 2000\n", report);
        Assert.DoesNotContain("line 1000\n", report);
        Assert.Contains("cut here …]", report);
    }

    [Fact]
    public void GivenOutputWithAMarkdownFence_WhenReported_ThenALongerFenceKeepsItInside()
    {
        var report = AuditReport.Render(Id, null, [Exec(2, "cat README.md", 0, "```sh\nmake\n```\n", "")]);

        Assert.Contains("````text\n```sh\nmake\n```\n````\n", report);
    }

    [Fact]
    public void GivenAnEditAndAStepThatChangedFiles_WhenReported_ThenTheEditsDiffAndTheStepsChangesAreShown()
    {
        var edit = Event(3, "session_edit_file", new { session_id = Id, path = "src/a.c", old_string = "x", new_string = "y" },
            new { path = "src/a.c", replacements = 1, lines_added = 1, lines_removed = 1, dry_run = false }, new { diff = "--- a/src/a.c\n+++ b/src/a.c\n@@ -1 +1 @@\n-x\n+y\n" });
        var exec = Exec(4, "sed -i s/y/z/ src/a.c", 0, "", "");
        string? Diff(long seq) => seq == 4 ? "diff --git a/src/a.c b/src/a.c\n-y\n+z\n" : null;

        var report = AuditReport.Render(Id, null, [edit, exec], Diff);

        Assert.Contains("### #3 10:00:03 edit `src/a.c` (+1 −1, 1 replacement(s))\n\n**Edit**\n```diff\n--- a/src/a.c\n", report);
        Assert.Contains("**Workspace changes**\n```diff\ndiff --git a/src/a.c b/src/a.c\n-y\n+z\n```\n", report);
    }

    [Fact]
    public void GivenReadsAndAFailure_WhenReported_ThenReadsAreOneLineAndTheFailureSaysWhy()
    {
        var read = Event(2, "session_read_file", new { session_id = Id, path = "notes.md" }, new { path = "notes.md", lines = 12 });
        var failed = Event(3, "session_edit_file", new { session_id = Id, path = "missing.txt" }, null) with { };
        failed = failed with { Entry = failed.Entry with { Outcome = AuditOutcomes.Error, Error = "missing.txt does not exist" } };

        var report = AuditReport.Render(Id, null, [read, failed]);

        Assert.Contains("- #2 10:00:02 read `notes.md` (12 lines)\n", report);
        Assert.Contains("### #3 10:00:03 edit `missing.txt`\n\n**error:** missing.txt does not exist\n", report);
        Assert.Contains(", 1 error.**", report);
    }

    [Fact]
    public void GivenAJobThatEnded_WhenReported_ThenItsCommandExitAndOutputSizeAreShown()
    {
        var started = Event(2, "session_exec", new { session_id = Id, command = "sleep 1; echo done", background = true }, new { job_id = "j-1", background = true });
        var ended = new AuditEvent(3, new AuditEntry(Start.AddSeconds(3), Id, "job_ended", null, null, null, AuditOutcomes.Ok, null,
            JsonSerializer.Serialize(new { job_id = "j-1", command = "sleep 1; echo done", exit_code = 0, signal = (int?)null, killed = false, lost = false, output_bytes = 5 }), 1000, null), "", "");

        var report = AuditReport.Render(Id, null, [started, ended]);

        Assert.Contains("`$ sleep 1; echo done` → started job `j-1`", report);
        Assert.Contains("### #3 10:00:03 job `j-1` ended: exit 0, 5 bytes of output\n\n```sh\nsleep 1; echo done\n```\n", report);
        Assert.Contains("1 job end", report);
    }

    [Fact]
    public void GivenEventsOfTwoSessionsAndTheServer_WhenAllAreReported_ThenEachSessionHasItsReportAndServerEventsFollow()
    {
        var other = Created(2) with { Entry = Created(2).Entry with { SessionId = "s-22222222" } };
        var token = new AuditEvent(3, new AuditEntry(Start.AddSeconds(3), null, AuditKinds.TokenCreated, null, null, null, AuditOutcomes.Ok, null, """{"name":"ci"}""", 0, null), "", "");

        var report = AuditReport.RenderAll([Created(1), other, token], _ => null);

        Assert.True(report.IndexOf("# Session s-abcdefgh", StringComparison.Ordinal) < report.IndexOf("# Session s-22222222", StringComparison.Ordinal));
        Assert.Contains("# Server events\n\n- #3 10:00:03 token created `{\"name\":\"ci\"}`\n", report);
    }

    private static AuditEvent Created(long seq) => new(seq, new AuditEntry(Start.AddSeconds(seq), Id, AuditKinds.SessionCreated, null, null, null, AuditOutcomes.Ok, null,
        JsonSerializer.Serialize(new { backend = "local", workdir = "/ws", name = (string?)null }), 0, null, "local"), "", "");

    private static AuditEvent Exec(long seq, string command, int exitCode, string stdout, string stderr) =>
        Event(seq, "session_exec", new { session_id = Id, command }, new { exit_code = exitCode, timed_out = false, truncated = false, cwd = "/ws", duration_ms = 12 }, new { stdout, stderr });

    private static AuditEvent Event(long seq, string tool, object arguments, object? summary, object? output = null) =>
        new(seq, new AuditEntry(Start.AddSeconds(seq), Id, AuditKinds.ToolCall, tool, "test", JsonSerializer.Serialize(arguments), AuditOutcomes.Ok, null,
            summary is null ? null : JsonSerializer.Serialize(summary), 12, output is null ? null : JsonSerializer.Serialize(output), "local"), "", "");
}
