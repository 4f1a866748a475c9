using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The log against someone with write access to its file: a deleted tail is reported at start and by verify,
/// numbers are never reused, and corrupt rows are shown and reported instead of crashing the readers.</summary>
public sealed class AuditIntegrityTests
{
    [Fact]
    public async Task ADeletedTailIsReportedAtStartAndByVerifyAndItsNumbersAreNeverReused()
    {
        // Given a log of a few calls by a server that has stopped, and the head it printed
        using var dataDir = new TempDirectory("data");
        long lastSeq;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            var id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo one");
            await server.RunAsync(id, "echo two");
            lastSeq = (await server.ExecAsync(id, "echo three")).EventSeq();
        }
        var head = (await ServerCli.ExportAsync(dataDir.Path)).Single(e => e["seq"]!.GetValue<long>() == lastSeq)["hash"]!.GetValue<string>();
        var intact = await ServerCli.RunAsync(dataDir.Path, ["audit", "verify", "--expect-seq", $"{lastSeq}", "--expect-head", head]);
        Assert.True(intact.ExitCode == 0, intact.ToString());

        // When its newest two events are deleted behind the server's back, and the server starts again
        using (var connection = Open(dataDir.Path))
        {
            Execute(connection, "DROP TRIGGER events_are_append_only_delete");
            Execute(connection, $"DELETE FROM events WHERE seq >= {lastSeq - 1}");
        }
        var truncated = await ServerCli.RunAsync(dataDir.Path, ["audit", "verify", "--expect-seq", $"{lastSeq}", "--expect-head", head]);
        await using var restarted = await ServerProcess.StartAsync(dataDir.Path);
        var next = await restarted.CallAsync("session_list");

        // Then verify names the missing events, the server logs the loss and records it as an event, and the next
        // event gets a number above every one ever issued
        Assert.True(truncated.ExitCode == 1, truncated.ToString());
        Assert.Contains($"events {lastSeq - 1}..{lastSeq} are missing", truncated.Stderr, StringComparison.Ordinal);
        Assert.True(await Poll.UntilAsync(() => restarted.StandardError.Contains("does not match the head recorded", StringComparison.Ordinal), TimeSpan.FromSeconds(10)), restarted.StandardError);
        var events = await ServerCli.ExportAsync(dataDir.Path);
        var report = Assert.Single(events, e => e["kind"]!.GetValue<string>() == "audit_tail_missing");
        Assert.Equal(lastSeq, report["summary"]!["expected_seq"]!.GetValue<long>());
        Assert.Equal(head, report["summary"]!["expected_hash"]!.GetValue<string>());
        Assert.Equal(lastSeq - 2, report["summary"]!["found_seq"]!.GetValue<long>());
        Assert.True(report["seq"]!.GetValue<long>() > lastSeq);
        Assert.True(next.EventSeq() > report["seq"]!.GetValue<long>());
        var after = await ServerCli.RunAsync(dataDir.Path, ["audit", "verify", "--expect-seq", $"{lastSeq}"]);
        Assert.True(after.ExitCode == 1, after.ToString());
        Assert.Contains($"has no event {lastSeq}", after.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptFieldsAreShownAndReportedButCrashNoReader()
    {
        // Given a log whose exec event has a bad timestamp and another event's arguments are not JSON
        using var dataDir = new TempDirectory("data");
        string id;
        long exec;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            id = await server.CreateSessionAsync(Backends.Local);
            exec = (await server.ExecAsync(id, "echo one")).EventSeq();
            await server.RunAsync(id, "echo two");
        }
        using (var connection = Open(dataDir.Path))
        {
            Execute(connection, "DROP TRIGGER events_are_append_only_update");
            Execute(connection, $"UPDATE events SET ts = 'garbage', hash = 'not-a-hash' WHERE seq = {exec}");
            Execute(connection, $"UPDATE events SET arguments = '{{not json' WHERE seq = {exec + 1}");
        }

        // When every reader goes over it
        var verify = await ServerCli.VerifyAsync(dataDir.Path);
        var export = await ServerCli.RunAsync(dataDir.Path, ["audit", "export"]);
        var tail = await ServerCli.RunAsync(dataDir.Path, ["audit", "tail"]);
        await using var server2 = await ServerProcess.StartAsync(dataDir.Path);
        var replay = await server2.CallAsync("session_replay", new { session_id = id, format = "events" });
        var transcript = await server2.CallAsync("session_replay", new { session_id = id, format = "transcript" });

        // Then verify reports a break at the corrupt event, and the readers show the rows with their raw values
        Assert.True(verify.ExitCode == 1, verify.ToString());
        Assert.Contains($"event {exec} is corrupt: ts is not a timestamp ('garbage')", verify.Stderr, StringComparison.Ordinal);
        Assert.True(export.ExitCode == 0, export.ToString());
        var corrupt = export.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).Single(e => e["seq"]!.GetValue<long>() == exec);
        Assert.Contains("hash is not a SHA-256 hex digest ('not-a-hash')", corrupt["corruption"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("{not json", export.Stdout, StringComparison.Ordinal);
        Assert.True(tail.ExitCode == 0, tail.ToString());
        Assert.Contains($"#{exec} ", tail.Stdout, StringComparison.Ordinal);
        Assert.Contains(replay["events"]!.AsArray(), e => e!["seq"]!.GetValue<long>() == exec);
        Assert.Contains("{not json", transcript["transcript"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static SqliteConnection Open(string dataDir)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDir, "session-mcp.db"), Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
