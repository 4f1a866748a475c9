using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The life of a session over the real server: create, exec, write, edit, read, replay, destroy.</summary>
public sealed class SessionWorkflowTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ASessionGoesFromCreateThroughExecWriteEditReadAndReplayToDestroy(string backend)
    {
        // Given a new session
        var created = await Server.CallAsync("session_create", new { backend, name = "workflow" });
        var id = created.Text("session_id");
        Assert.Matches("^s-[0-9a-z]{8}$", id);
        Assert.Equal("running", created.Text("status"));
        Assert.Equal(backend, created.Text("backend"));
        Assert.False(string.IsNullOrEmpty(created.Text("workdir")));
        var seqs = new List<long> { created.EventSeq() };

        // When it runs commands that change directory and export a variable
        var cd = await Server.ExecAsync(id, "mkdir -p src && cd src");
        var pwd = await Server.ExecAsync(id, "pwd");
        var export = await Server.ExecAsync(id, "export A=1");
        var echo = await Server.ExecAsync(id, "echo $A");
        seqs.AddRange([cd.EventSeq(), pwd.EventSeq(), export.EventSeq(), echo.EventSeq()]);

        // Then both persist like in a terminal
        Assert.EndsWith("/src", cd.Text("cwd"), StringComparison.Ordinal);
        Assert.EndsWith("/src", pwd.Text("stdout").TrimEnd('\n'), StringComparison.Ordinal);
        Assert.Equal(0, pwd["exit_code"]!.GetValue<int>());
        Assert.Equal("1\n", echo.Text("stdout"));

        // When it writes, edits and reads a file
        const string original = "alpha\nbeta\ngamma\n";
        var write = await Server.CallAsync("session_write_file", new { session_id = id, path = "notes.txt", content = original });
        var edit = await Server.CallAsync("session_edit_file", new { session_id = id, path = "notes.txt", old_string = "beta", new_string = "BETA" });
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = "notes.txt" });
        seqs.AddRange([write.EventSeq(), edit.EventSeq(), read.EventSeq()]);

        // Then the write, the edit and the read agree on bytes and hashes
        Assert.Equal(Encoding.UTF8.GetByteCount(original), write["bytes"]!.GetValue<int>());
        Assert.Equal(Sha256(original), write.Text("sha256"));
        Assert.Equal(1, edit["replacements"]!.GetValue<int>());
        Assert.Equal(write.Text("sha256"), edit.Text("sha256_before"));
        Assert.Equal(Sha256("alpha\nBETA\ngamma\n"), edit.Text("sha256_after"));
        Assert.Contains("-beta", edit.Text("diff"), StringComparison.Ordinal);
        Assert.Contains("+BETA", edit.Text("diff"), StringComparison.Ordinal);
        Assert.Equal(3, read["total_lines"]!.GetValue<int>());
        Assert.Equal(edit.Text("sha256_after"), read.Text("sha256"));
        Assert.Equal("alpha\nBETA\ngamma", read.Text("content"));

        // Then the replay lists every call in order, under the event_seq each result carried
        var events = await Server.CallAsync("session_replay", new { session_id = id, format = "events" });
        var calls = events["events"]!.AsArray().Where(e => e!.Text("kind") == "tool_call").ToList();
        Assert.Equal(seqs, calls.Select(e => e!["seq"]!.GetValue<long>()));
        Assert.Equal(
            ["session_create", "session_exec", "session_exec", "session_exec", "session_exec", "session_write_file", "session_edit_file", "session_read_file"],
            calls.Select(e => e!.Text("tool")));
        Assert.Equal("echo $A", calls[4]!["arguments"]!.Text("command"));
        Assert.Contains(events["events"]!.AsArray(), e => e!.Text("kind") == "session_created");

        // Then the transcript shows each command with its exit code and the edit's diff
        var transcript = (await Server.CallAsync("session_replay", new { session_id = id, format = "transcript" })).Text("transcript");
        Assert.Contains("echo $A", transcript, StringComparison.Ordinal);
        Assert.Contains("exit 0", transcript, StringComparison.Ordinal);
        Assert.Contains("-beta", transcript, StringComparison.Ordinal);
        Assert.Contains("+BETA", transcript, StringComparison.Ordinal);

        // When the session is destroyed
        var destroyed = await Server.CallAsync("session_destroy", new { session_id = id });

        // Then it is stopped, later commands name it in their error, and its history stays readable
        Assert.Equal("stopped", destroyed.Text("status"));
        var error = await Server.CallErrorAsync("session_exec", new { session_id = id, command = "echo hi" });
        Assert.Contains(id, error, StringComparison.Ordinal);
        var listed = (await Server.CallAsync("session_list")).AsObject()["sessions"]!.AsArray().Single(s => s!.Text("session_id") == id);
        Assert.Equal("stopped", listed!.Text("status"));
        var after = await Server.CallAsync("session_replay", new { session_id = id, format = "events" });
        Assert.Contains(after["events"]!.AsArray(), e => e!.Text("kind") == "session_destroyed");
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task EnvironmentGivenToOneCallIsNotPersisted(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When one call gets its own env
        var withEnv = await Server.CallAsync("session_exec", new { session_id = id, command = "echo \"[$B]\"", env = new Dictionary<string, string> { ["B"] = "2" } });
        var later = await Server.ExecAsync(id, "echo \"[$B]\"");

        // Then only that call sees it
        Assert.Equal("[2]\n", withEnv.Text("stdout"));
        Assert.Equal("[]\n", later.Text("stdout"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task EnvironmentGivenAtCreationIsExportedInEveryCall(string backend)
    {
        // Given a session created with env
        var id = await Server.CreateSessionAsync(backend, env: new() { ["GREETING"] = "hello" });

        // When / Then
        Assert.Equal("hello\n", await Server.RunAsync(id, "echo $GREETING"));
        Assert.Equal("hello\n", await Server.RunAsync(id, "sh -c 'echo $GREETING'"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnEditWhoseOldStringMatchesSeveralPlacesListsTheirLinesAndChangesNothing(string backend)
    {
        // Given a file with the same line twice
        var id = await Server.CreateSessionAsync(backend);
        var write = await Server.CallAsync("session_write_file", new { session_id = id, path = "dup.txt", content = "x = 1\ny = 2\nx = 1\nz = 3\n" });

        // When an edit targets that line without replace_all
        var error = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "dup.txt", old_string = "x = 1", new_string = "x = 9" });

        // Then the error names both line numbers and the file is untouched
        Assert.Contains("2 places", error, StringComparison.Ordinal);
        Assert.Contains("lines 1, 3", error, StringComparison.Ordinal);
        Assert.Contains("replace_all", error, StringComparison.Ordinal);
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = "dup.txt" });
        Assert.Equal(write.Text("sha256"), read.Text("sha256"));

        // When replace_all is set
        var all = await Server.CallAsync("session_edit_file", new { session_id = id, path = "dup.txt", old_string = "x = 1", new_string = "x = 9", replace_all = true });

        // Then both are replaced
        Assert.Equal(2, all["replacements"]!.GetValue<int>());
        Assert.Equal("x = 9\ny = 2\nx = 9\nz = 3\n", await Server.RunAsync(id, "cat dup.txt"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnEditThatMatchesNothingShowsTheClosestRegionAndChangesNothing(string backend)
    {
        // Given a file
        var id = await Server.CreateSessionAsync(backend);
        var write = await Server.CallAsync("session_write_file", new { session_id = id, path = "f.txt", content = "one\ntwo\nthree\nfour\n" });

        // When old_string is almost, but not exactly, in it
        var error = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "f.txt", old_string = "thre\nfour", new_string = "x" });

        // Then the error points at the region with line numbers and nothing changes
        Assert.Contains("3", error, StringComparison.Ordinal);
        Assert.Contains("three", error, StringComparison.Ordinal);
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = "f.txt" });
        Assert.Equal(write.Text("sha256"), read.Text("sha256"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnEditOfACrlfFileKeepsItsCrlfLineEndings(string backend)
    {
        // Given a file with CRLF line endings
        var id = await Server.CreateSessionAsync(backend);
        await Server.CallAsync("session_write_file", new { session_id = id, path = "win.txt", content = "one\r\ntwo\r\nthree\r\n" });

        // When the model edits it with LF-only strings spanning a line break
        var edit = await Server.CallAsync("session_edit_file", new { session_id = id, path = "win.txt", old_string = "two\nthree", new_string = "TWO\nTHREE\nFOUR" });

        // Then every line of the file still ends in CRLF, byte for byte
        const string expected = "one\r\nTWO\r\nTHREE\r\nFOUR\r\n";
        Assert.Equal("crlf", edit.Text("eol"));
        Assert.Equal(Sha256(expected), edit.Text("sha256_after"));
        Assert.Equal($"{expected.Length}", (await Server.RunAsync(id, "wc -c < win.txt")).Trim());
        var hex = string.Concat((await Server.RunAsync(id, "od -An -tx1 win.txt")).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(Convert.ToHexStringLower(Encoding.ASCII.GetBytes(expected)), hex);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnEditWithAStaleExpectedHashIsRejectedAndTheFileIsUnchanged(string backend)
    {
        // Given a file the model read, which a command then changed
        var id = await Server.CreateSessionAsync(backend);
        await Server.CallAsync("session_write_file", new { session_id = id, path = "s.txt", content = "v1\n" });
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = "s.txt" });
        await Server.RunAsync(id, "echo changed >> s.txt");

        // When the model edits with the hash of its read
        var error = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "s.txt", old_string = "v1", new_string = "v2", expected_sha256 = read.Text("sha256") });

        // Then the edit is refused as stale and the file keeps the command's content
        Assert.Contains("changed since you read it", error, StringComparison.Ordinal);
        Assert.Equal("v1\nchanged\n", await Server.RunAsync(id, "cat s.txt"));

        // When the hash is current
        var current = await Server.CallAsync("session_read_file", new { session_id = id, path = "s.txt" });
        var edit = await Server.CallAsync("session_edit_file", new { session_id = id, path = "s.txt", old_string = "v1", new_string = "v2", expected_sha256 = current.Text("sha256") });

        // Then it applies
        Assert.Equal(current.Text("sha256"), edit.Text("sha256_before"));
        Assert.Equal("v2\nchanged\n", await Server.RunAsync(id, "cat s.txt"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ADryRunEditReturnsTheDiffAndChangesNothing(string backend)
    {
        // Given a file
        var id = await Server.CreateSessionAsync(backend);
        var write = await Server.CallAsync("session_write_file", new { session_id = id, path = "d.txt", content = "keep\nme\n" });

        // When an edit is a dry run
        var dry = await Server.CallAsync("session_edit_file", new { session_id = id, path = "d.txt", old_string = "me", new_string = "you", dry_run = true });

        // Then the diff is there, the hash it would have is reported, and the file is unchanged
        Assert.True(dry["dry_run"]!.GetValue<bool>());
        Assert.Contains("+you", dry.Text("diff"), StringComparison.Ordinal);
        Assert.Equal(Sha256("keep\nyou\n"), dry.Text("sha256_after"));
        Assert.Equal("keep\nme\n", await Server.RunAsync(id, "cat d.txt"));
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = "d.txt" });
        Assert.Equal(write.Text("sha256"), read.Text("sha256"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task SeveralEditsApplyInOrderOrNotAtAll(string backend)
    {
        // Given a file
        var id = await Server.CreateSessionAsync(backend);
        await Server.CallAsync("session_write_file", new { session_id = id, path = "m.txt", content = "a\nb\nc\n" });

        // When the second of two edits cannot apply
        var error = await Server.CallErrorAsync("session_edit_file", new
        {
            session_id = id,
            path = "m.txt",
            edits = new object[] { new { old_string = "a", new_string = "A" }, new { old_string = "zzz", new_string = "Z" } },
        });

        // Then neither is applied
        Assert.Contains("No edit was applied", error, StringComparison.Ordinal);
        Assert.Equal("a\nb\nc\n", await Server.RunAsync(id, "cat m.txt"));

        // When both apply, the second sees the first's result
        var edit = await Server.CallAsync("session_edit_file", new
        {
            session_id = id,
            path = "m.txt",
            edits = new object[] { new { old_string = "a", new_string = "A" }, new { old_string = "A\nb", new_string = "AB" } },
        });
        Assert.Equal("AB\nc\n", await Server.RunAsync(id, "cat m.txt"));
        Assert.Equal(2, edit["replacements"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ReadingAPageReturnsNumberedLinesTheTotalAndTheWholeFilesHash(string backend)
    {
        // Given a five-line file written by a command
        var id = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(id, "mkdir -p dir && printf 'l1\\nl2\\nl3\\nl4\\nl5\\n' > dir/five.txt");

        // When lines 2-3 are read
        var raw = await Server.CallRawAsync("session_read_file", new { session_id = id, path = "dir/five.txt", offset = 2, limit = 2 }, null);
        var page = JsonNode.Parse(raw.StructuredContent!.Value.GetRawText())!;

        // Then only those come back, as they are in the structured content and numbered in the text the model reads,
        // with the whole file's line count and hash
        Assert.Equal("l2\nl3", page.Text("content"));
        Assert.Equal((2, 3, true), (page["first_line"]!.GetValue<int>(), page["last_line"]!.GetValue<int>(), page["has_more"]!.GetValue<bool>()));
        var text = ServerProcess.TextOf(raw);
        Assert.Contains("     2\tl2\n     3\tl3", text, StringComparison.Ordinal);
        Assert.DoesNotContain("l1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("l4", text, StringComparison.Ordinal);
        Assert.Contains("more from offset 4", text, StringComparison.Ordinal);
        Assert.Equal(5, page["total_lines"]!.GetValue<int>());
        Assert.Equal(Sha256("l1\nl2\nl3\nl4\nl5\n"), page.Text("sha256"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ReadingABinaryFileIsRefusedWithAClearMessage(string backend)
    {
        // Given a binary file
        var id = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(id, "printf 'a\\000b\\001\\002' > blob.bin");

        // When / Then
        var error = await Server.CallErrorAsync("session_read_file", new { session_id = id, path = "blob.bin" });
        Assert.Contains("binary", error, StringComparison.OrdinalIgnoreCase);
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
