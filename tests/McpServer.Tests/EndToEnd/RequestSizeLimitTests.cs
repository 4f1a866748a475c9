using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>Arguments over the tools' size limits are refused before anything changes, with a specific error, and recorded as rejected.</summary>
public sealed partial class RequestSizeLimitTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int SixteenMiB = 16 * 1024 * 1024;

    private ServerProcess Server => fixture.Server;

    [Fact]
    public async Task AFileOverTheLimitIsRefusedAndNothingIsWritten()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);

        // When a write brings one byte more than the file tools' limit
        var error = await Server.CallErrorAsync("session_write_file", new { session_id = id, path = "big.txt", content = new string('x', SixteenMiB + 1) });

        // Then it is refused by name and size, no file appears, and the event is a rejected call without the payload
        Assert.Contains("content is 16,777,217 bytes, over the limit of 16,777,216 bytes", error, StringComparison.Ordinal);
        Assert.Equal("absent\n", await Server.RunAsync(id, "test -e big.txt && echo present || echo absent"));
        var recorded = await RejectedEventAsync(error, "session_write_file");
        Assert.InRange(recorded["arguments"]!.Text("content").Length, 1, 5_000);
        Assert.Contains("only the start and end are stored", recorded["arguments"]!.Text("content"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnEditStringOverTheLimitIsRefusedAndTheFileIsUnchanged()
    {
        // Given a file
        var id = await Server.CreateSessionAsync(Backends.Local);
        await Server.CallAsync("session_write_file", new { session_id = id, path = "a.txt", content = "hello\n" });

        // When an edit's new text is over the limit, directly or in edits
        var direct = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "a.txt", old_string = "hello", new_string = new string('y', SixteenMiB + 1) });
        var listed = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "a.txt", edits = new[] { new { old_string = "hello", new_string = new string('y', SixteenMiB + 1) } } });

        // Then both are refused, recorded as rejected, and the file is as it was
        Assert.Contains("new_string is 16,777,217 bytes, over the limit", direct, StringComparison.Ordinal);
        Assert.Contains("edits[0].new_string is 16,777,217 bytes", listed, StringComparison.Ordinal);
        await RejectedEventAsync(direct, "session_edit_file");
        await RejectedEventAsync(listed, "session_edit_file");
        Assert.Equal("hello\n", await Server.RunAsync(id, "cat a.txt"));
    }

    [Fact]
    public async Task ACommandStdinOrEnvOverTheLimitIsRefusedAndNothingRuns()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);

        // When a command is longer than Linux passes as one argument, or its stdin or env is over the limits
        var longCommand = await Server.CallErrorAsync("session_exec", new { session_id = id, command = "touch ran1 #" + new string('c', 128 * 1024) });
        var bigStdin = await Server.CallErrorAsync("session_exec", new { session_id = id, command = "touch ran2; cat >/dev/null", stdin = new string('s', SixteenMiB + 1) });
        var bigEnv = await Server.CallErrorAsync("session_exec", new { session_id = id, command = "touch ran3", env = new Dictionary<string, string> { ["BIG"] = new string('e', 128 * 1024) } });

        // Then each is refused with what to do instead, recorded as rejected, and none of them ran
        Assert.Contains("command is 131,084 bytes, over the limit of 131,071 bytes", longCommand, StringComparison.Ordinal);
        Assert.Contains("stdin is 16,777,217 bytes, over the limit", bigStdin, StringComparison.Ordinal);
        Assert.Contains("env.BIG is 131,076 bytes as NAME=value, over the limit", bigEnv, StringComparison.Ordinal);
        await RejectedEventAsync(longCommand, "session_exec");
        await RejectedEventAsync(bigStdin, "session_exec");
        await RejectedEventAsync(bigEnv, "session_exec");
        Assert.Equal("none\n", await Server.RunAsync(id, "ls ran* 2>/dev/null || echo none"));
    }

    [Fact]
    public async Task ACommandJustUnderTheLimitRuns()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);

        // When the command is exactly at the limit (a comment pads it)
        var command = "echo ok #";
        command += new string('c', 128 * 1024 - 1 - command.Length);

        // Then it runs
        Assert.Equal("ok\n", await Server.RunAsync(id, command));
    }

    [Fact]
    public async Task ALargeWriteIsDoneWholeAndAuditedByItsStartEndSizeAndHash()
    {
        // Given a session
        var id = await Server.CreateSessionAsync(Backends.Local);
        var content = "BEGIN-" + new string('m', 1_000_000) + "-END";

        // When a 1 MB file is written
        var written = await Server.CallAsync("session_write_file", new { session_id = id, path = "large.txt", content });

        // Then the file is whole, and its event keeps the content's start, end, size and hash rather than all of it
        Assert.Equal($"{content.Length}\n", await Server.RunAsync(id, "wc -c < large.txt | tr -d ' '"));
        var recorded = (await ServerCli.ExportAsync(fixture.DataDir)).Single(e => e["seq"]!.GetValue<long>() == written.EventSeq());
        var stored = recorded["arguments"]!.Text("content");
        Assert.InRange(stored.Length, 4_000, 5_000);
        Assert.StartsWith("BEGIN-mmm", stored, StringComparison.Ordinal);
        Assert.EndsWith("mmm-END", stored, StringComparison.Ordinal);
        Assert.Contains($"sha256 {written.Text("sha256")}", stored, StringComparison.Ordinal);
    }

    private async Task<JsonNode> RejectedEventAsync(string error, string tool)
    {
        var match = EventSeqPattern().Match(error);
        Assert.True(match.Success, $"the error does not name its event: {error}");
        var seq = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var recorded = (await ServerCli.ExportAsync(fixture.DataDir)).Single(e => e["seq"]!.GetValue<long>() == seq);
        Assert.Equal(tool, recorded.Text("tool"));
        Assert.Equal("rejected", recorded.Text("outcome"));
        Assert.Contains("over the limit", recorded.Text("error"), StringComparison.Ordinal);
        return recorded;
    }

    [GeneratedRegex(@"event_seq (\d+)\)")]
    private static partial Regex EventSeqPattern();
}
