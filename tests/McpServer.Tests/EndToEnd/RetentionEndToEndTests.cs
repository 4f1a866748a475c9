using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// <c>session-mcp audit prune</c> against a log a real server writes (and keeps writing): outputs and events go under
/// checkpoints, <c>audit verify</c> still checks the whole chain, the server's start-up head check stays quiet, and
/// <c>session_replay</c> says which outputs were pruned.
/// </summary>
public sealed class RetentionEndToEndTests
{
    [Fact]
    public async Task PruningOutputsThenEventsWhileTheServerRunsKeepsTheLogVerifying()
    {
        // Given a running server with two sessions that ran commands
        using var dataDir = new TempDirectory("data");
        string pruned, kept;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            pruned = await server.CreateSessionAsync(Backends.Local);
            kept = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(pruned, "echo first-output");
            await server.RunAsync(kept, "echo kept-output");
            await server.RunAsync(pruned, "echo second-output");

            // When one session's outputs are pruned while the server runs
            var dryRun = await ServerCli.RunAsync(dataDir.Path, ["audit", "prune", "--session", pruned, "--older-than", "0s", "--outputs-only", "--dry-run"]);
            var outputs = await ServerCli.RunAsync(dataDir.Path, ["audit", "prune", "--session", pruned, "--older-than", "0s", "--outputs-only"]);

            // Then the dry run changed nothing, the pruning left a checkpoint, and replay says which outputs went
            Assert.True(dryRun.ExitCode == 0, dryRun.ToString());
            Assert.Contains("would prune the outputs of 2 events", dryRun.Stdout, StringComparison.Ordinal);
            Assert.True(outputs.ExitCode == 0, outputs.ToString());
            Assert.Contains("pruned the outputs of 2 events", outputs.Stdout, StringComparison.Ordinal);
            var replay = await server.CallAsync("session_replay", new { session_id = pruned, tools = new[] { "session_exec" } });
            var events = replay["events"]!.AsArray();
            Assert.Equal(2, events.Count);
            Assert.All(events, e => Assert.True(e!["output_pruned"]!.GetValue<bool>()));
            Assert.All(events, e => Assert.Null(e!["output"]));
            var transcript = await server.CallAsync("session_replay", new { session_id = pruned, format = "transcript" });
            Assert.Contains("output pruned by retention", transcript["transcript"]!.GetValue<string>(), StringComparison.Ordinal);
            var other = await server.CallAsync("session_replay", new { session_id = kept, tools = new[] { "session_exec" } });
            Assert.Contains("kept-output", other["events"]![0]!["output"]!.ToJsonString(), StringComparison.Ordinal);
            Assert.Null(other["events"]![0]!["output_pruned"]);
            await server.RunAsync(kept, "echo after-pruning");
        }

        // When the session's events are pruned too, and the server starts again
        var events2 = await ServerCli.RunAsync(dataDir.Path, ["audit", "prune", "--session", pruned, "--max-session-bytes", "0"]);
        Assert.True(events2.ExitCode == 0, events2.ToString());
        Assert.Contains("under checkpoint 2", events2.Stdout, StringComparison.Ordinal);
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            await server.RunAsync(kept, "echo after-restart");
        }

        // Then verify crosses both checkpoints and passes, the other session keeps every event, and no head alarm was raised
        var verify = await ServerCli.VerifyAsync(dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Matches(@"pruned events crossed through \d+ checkpoints, 0 outputs pruned, 2 checkpoints checked", verify.Stdout);
        var exported = await ServerCli.ExportAsync(dataDir.Path);
        Assert.DoesNotContain(exported, e => e["kind"]!.GetValue<string>() is "audit_tail_missing" or "audit_head_mismatch");
        var ofPruned = exported.Where(e => e["session_id"]?.GetValue<string>() == pruned).Select(e => e["kind"]!.GetValue<string>()).ToList();
        Assert.Equal(["audit_pruned", "audit_pruned", "session_resumed"], ofPruned); // the second start resumed it after the pruning
        Assert.Equal(3, exported.Count(e => e["session_id"]?.GetValue<string>() == kept && e["tool"]?.GetValue<string>() == "session_exec"));
    }

    [Fact]
    public async Task AnEventDeletedOutsidePruningFailsVerifyAfterAPruning()
    {
        // Given a pruned log
        using var dataDir = new TempDirectory("data");
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            var id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo one");
            await server.RunAsync(id, "echo two");
        }
        var prune = await ServerCli.RunAsync(dataDir.Path, ["audit", "prune", "--older-than", "0s"]);
        Assert.True(prune.ExitCode == 0, prune.ToString());
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            var id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo three");
        }
        var last = (await ServerCli.ExportAsync(dataDir.Path))[^1]["seq"]!.GetValue<long>();

        // When an event is deleted behind the server's back
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDir.Path, "session-mcp.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"DROP TRIGGER events_are_append_only_delete; DELETE FROM events WHERE seq = {last - 1}";
            command.ExecuteNonQuery();
        }
        var verify = await ServerCli.VerifyAsync(dataDir.Path);

        // Then verify fails and says no checkpoint explains it
        Assert.True(verify.ExitCode == 1, verify.ToString());
        Assert.Contains("no checkpoint explains them", verify.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServerConfiguredWithRetentionPrunesAtStartAndTheLogVerifies()
    {
        // Given a log with outputs, written by a server without retention
        using var dataDir = new TempDirectory("data");
        string id;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo old-output");
        }

        // When a server starts that keeps outputs for no time at all
        await using (var server = await ServerProcess.StartAsync(dataDir.Path, ["--retain-outputs", "0s"]))
        {
            Assert.True(await Poll.UntilAsync(async () => (await ServerCli.ExportAsync(dataDir.Path)).Any(e => e["kind"]!.GetValue<string>() == "audit_pruned"), TimeSpan.FromSeconds(30)), "the server never pruned");

            // Then it pruned on its own (no principal), replay says so, and the log verifies
            var replay = await server.CallAsync("session_replay", new { session_id = id, tools = new[] { "session_exec" } });
            Assert.True(replay["events"]![0]!["output_pruned"]!.GetValue<bool>());
        }
        var pruning = (await ServerCli.ExportAsync(dataDir.Path)).Single(e => e["kind"]!.GetValue<string>() == "audit_pruned");
        Assert.Null(pruning["principal"]);
        Assert.True(pruning["arguments"]!["outputs_only"]!.GetValue<bool>());
        var verify = await ServerCli.VerifyAsync(dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }
}
