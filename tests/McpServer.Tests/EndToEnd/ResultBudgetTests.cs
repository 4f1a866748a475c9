using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>What a model reads stays within the result budget, and paging moves on instead of overflowing.</summary>
public sealed class ResultBudgetTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Fact]
    public async Task AReplayOfManyNoisyCommandsEndsEarlyWithNextSeqAndPagingReachesEveryEvent()
    {
        // Given a session with 41 noisy commands (each ~60,000 characters of output)
        var id = await Server.CreateSessionAsync(Backends.Local);
        for (var i = 0; i < 41; i++)
        {
            await Server.ExecAsync(id, $"seq {i} 10000");
        }

        // When it is replayed page by page, in both formats
        foreach (var format in new[] { "events", "transcript" })
        {
            var pages = 0;
            var seen = 0;
            long? from = 0;
            while (from is { } start)
            {
                // (the contract check on every result asserts each page fits the budget)
                var page = await Server.CallAsync("session_replay", new { session_id = id, from_seq = start, format, limit = 500 });
                var count = format == "events"
                    ? page["events"]!.AsArray().Count(e => e!["tool"]?.GetValue<string>() == "session_exec")
                    : page.Text("transcript").Split('\n').Count(l => l.Contains(" exec $ seq ", StringComparison.Ordinal));
                Assert.True(count > 0 || page["next_seq"] is null || pages == 0, $"page {pages} of {format} made no progress");
                seen += count;
                pages++;
                from = page["next_seq"]?.GetValue<long>();
            }

            // Then the first page ended early, and the pages together hold every command
            Assert.True(pages > 1, $"{format}: one page held 41 noisy commands");
            Assert.Equal(41, seen);
        }
    }

    [Fact]
    public async Task AnEventTooLargeForAPageOnItsOwnIsShownCutAndPagingMovesOn()
    {
        // Given a command whose stored output alone is larger than the budget
        var id = await Server.CreateSessionAsync(Backends.Local);
        var big = await Server.ExecAsync(id, "yes 0123456789 | head -c 500000");
        await Server.ExecAsync(id, "echo after");

        // When exactly that event is replayed with full output
        var page = await Server.CallAsync("session_replay", new { session_id = id, from_seq = big.EventSeq(), include_output = "full" });

        // Then it comes cut (head and tail), and next_seq points past it
        var stdout = page["events"]![0]!["output"]!.Text("stdout");
        Assert.InRange(stdout.Length, 5_000, ResultContract.DefaultBudgetChars / 2);
        Assert.StartsWith("0123456789\n", stdout, StringComparison.Ordinal);
        Assert.Contains("omitted by session-mcp", stdout, StringComparison.Ordinal);
        Assert.Equal(big.EventSeq() + 1, page["next_seq"]!.GetValue<long>());
    }

    [Fact]
    public async Task ATrivialCommandCostsLittle()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);

        // When it runs echo hi
        var raw = await Server.CallRawAsync("session_exec", new { session_id = id, command = "echo hi" }, null);

        // Then the result (text and structured content) is small, and the text reads like a terminal
        var text = ServerProcess.TextOf(raw);
        var size = ResultContract.SizeOf(raw);
        Assert.True(size < 429, $"echo hi costs {size} characters");
        Assert.EndsWith("\nhi\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DiffsNameTheWorkspaceRelativePathSoGitApplyTakesThem()
    {
        // Given a file in a subdirectory
        var id = await Server.CreateSessionAsync(Backends.Local);
        await Server.CallAsync("session_write_file", new { session_id = id, path = "src/app.py", content = "x = 1\n", create_dirs = true });

        // When it is edited by an absolute path inside the workspace
        var workdir = (await Server.CallAsync("session_list"))["sessions"]!.AsArray().First(s => s!["session_id"]!.GetValue<string>() == id)!.Text("workdir");
        var edit = await Server.CallAsync("session_edit_file", new { session_id = id, path = $"{workdir}/src/app.py", old_string = "x = 1", new_string = "x = 2" });

        // Then the result and the diff name it relative to the workspace, never by the server's data directory
        Assert.Equal("src/app.py", edit.Text("path"));
        Assert.StartsWith("--- a/src/app.py\n+++ b/src/app.py\n", edit.Text("diff"), StringComparison.Ordinal);
        Assert.DoesNotContain(Server.DataDir, edit.ToJsonString(), StringComparison.Ordinal);
        var missing = await Server.CallErrorAsync("session_read_file", new { session_id = id, path = "src/nope.py" });
        Assert.DoesNotContain(Server.DataDir, missing, StringComparison.Ordinal);
        Assert.Contains("src/nope.py does not exist", missing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConfiguredBudgetBoundsEveryKindOfLargeResult()
    {
        // Given a server with a small budget and a session holding a large file and a noisy history
        const int budget = 6_000;
        using var data = new TempDirectory("budget");
        await using var server = await ServerProcess.StartAsync(data.Path, ["--result-budget", budget.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var id = await server.CreateSessionAsync(Backends.Local);
        await server.ExecAsync(id, "seq 1 3000 > big.txt; seq 1 5000");
        await server.CallAsync("session_write_file", new { session_id = id, path = "one.txt", content = string.Concat(Enumerable.Repeat("line\n", 2000)) });
        for (var i = 0; i < 30; i++)
        {
            await server.CreateSessionAsync(Backends.Local, name: $"session number {i} with a long enough name to matter");
        }

        // When every kind of large result is asked for
        var results = new List<(string Tool, ModelContextProtocol.Protocol.CallToolResult Result)>();
        async Task Call(string tool, object arguments) => results.Add((tool, await server.CallRawAsync(tool, arguments, null)));
        await Call("session_exec", new { session_id = id, command = "seq 1 100000" });
        await Call("session_read_file", new { session_id = id, path = "big.txt" });
        await Call("session_edit_file", new { session_id = id, path = "one.txt", old_string = "line", new_string = "LINE", replace_all = true, dry_run = true });
        await Call("session_replay", new { session_id = id, include_output = "full" });
        await Call("session_replay", new { session_id = id, format = "transcript", include_output = "full" });
        await Call("session_list", new { });

        // Then each fits the configured budget and says how to get the rest
        foreach (var (tool, result) in results)
        {
            var size = ResultContract.SizeOf(result);
            Assert.True(result.IsError != true, $"{tool}: {ServerProcess.TextOf(result)}");
            Assert.True(size <= budget, $"{tool} costs {size:N0} characters, over {budget:N0}");
        }
        var read = JsonNode.Parse(results[1].Result.StructuredContent!.Value.GetRawText())!;
        Assert.True(read["has_more"]!.GetValue<bool>() && read["last_line"]!.GetValue<int>() > 100, read.ToJsonString());
        var edit = JsonNode.Parse(results[2].Result.StructuredContent!.Value.GetRawText())!;
        Assert.True(edit["diff_truncated"]!.GetValue<bool>());
        var list = JsonNode.Parse(results[5].Result.StructuredContent!.Value.GetRawText())!;
        Assert.Equal(31, list["total"]!.GetValue<int>());
        Assert.InRange(list["sessions"]!.AsArray().Count, 1, 30);
    }
}
