using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>Sessions and events outlive the server process: a clean restart, a second server, and SIGKILL.</summary>
public sealed class RestartAndDurabilityTests : IDisposable
{
    private readonly TempDirectory _dataDir = new("data");

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ASessionResumesAfterARestartWithItsWorkingDirectoryVariablesAndFiles(string backend)
    {
        // Given a session that changed directory, exported a variable and wrote a file
        string id;
        await using (var first = await ServerProcess.StartAsync(_dataDir.Path))
        {
            id = await first.CreateSessionAsync(backend, name: "survivor");
            await first.RunAsync(id, "mkdir -p src && cd src && export A=42");
            await first.CallAsync("session_write_file", new { session_id = id, path = "src/kept.txt", content = "kept\n" });
        }

        // When a new server starts on the same data directory
        await using var second = await ServerProcess.StartAsync(_dataDir.Path);

        // Then the session is listed as running and carries on where it was
        var listed = (await second.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!.Text("session_id") == id)!;
        Assert.Equal("running", listed.Text("status"));
        Assert.Equal("survivor", listed.Text("name"));
        Assert.EndsWith("/src", listed.Text("cwd"), StringComparison.Ordinal);
        var lines = (await second.RunAsync(id, "pwd; echo $A; cat kept.txt")).Split('\n');
        Assert.EndsWith("/src", lines[0], StringComparison.Ordinal);
        Assert.Equal("42", lines[1]);
        Assert.Equal("kept", lines[2]);
        var events = await second.CallAsync("session_replay", new { session_id = id });
        Assert.Contains(events["events"]!.AsArray(), e => e!.Text("kind") == "session_resumed");
    }

    [Fact]
    public async Task ACallInterruptedByKillNineIsRecordedAtRestartAndWhatItLeftRunningIsKilled()
    {
        // Given a local session running a command that would write a marker later
        string id;
        string marker;
        await using (var first = await ServerProcess.StartAsync(_dataDir.Path))
        {
            id = await first.CreateSessionAsync(Backends.Local);
            marker = Path.Combine((await first.CallAsync("session_list"))["sessions"]![0]!.Text("workdir"), "marker");
            var running = first.ExecAsync(id, "sleep 4; echo late > marker");
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "4").Count > 0, TimeSpan.FromSeconds(10)), "the sleep never started");

            // When the server is SIGKILLed mid-call and a new one starts on the same data directory
            await first.KillAsync();
            await Assert.ThrowsAnyAsync<Exception>(() => running);
        }
        await using var second = await ServerProcess.StartAsync(_dataDir.Path);
        await second.CallAsync("session_list");

        // Then the orphaned command is gone and never writes its marker
        Assert.Empty(LocalProcesses.Find(id, "sleep", "4"));
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.False(File.Exists(marker), "the orphaned command ran on after the restart");

        // Then the interrupted call is in the log, with its command, as interrupted
        var events = await ServerCli.ExportAsync(_dataDir.Path);
        var interrupted = Assert.Single(events, e => e["outcome"]?.GetValue<string>() == "interrupted");
        Assert.Equal("session_exec", interrupted["tool"]!.GetValue<string>());
        Assert.Equal(id, interrupted["session_id"]!.GetValue<string>());
        Assert.Contains("sleep 4", interrupted["arguments"]!.ToJsonString(), StringComparison.Ordinal);
        var verify = await ServerCli.VerifyAsync(_dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ASecondServerOnTheSameDataDirectoryCanUseASessionByItsId(string backend)
    {
        // Given two servers on one data directory, and a session made through the first
        await using var first = await ServerProcess.StartAsync(_dataDir.Path);
        await using var second = await ServerProcess.StartAsync(_dataDir.Path);
        var id = await first.CreateSessionAsync(backend);
        await first.RunAsync(id, "export SHARED=yes");

        // When the second server runs a command in it
        var output = await second.RunAsync(id, "echo $SHARED");

        // Then it sees the same session state, and both servers' events are in one intact chain
        Assert.Equal("yes\n", output);
        var verify = await ServerCli.VerifyAsync(_dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task KillingTheServerWithSigkillNeverLosesAnEventWhoseResultWasReceived(string backend)
    {
        // Given a session on a server, and a batch of concurrent calls: quick ones and some that are still running later
        const int calls = 40;
        const int killAfter = 15;
        var server = await ServerProcess.StartAsync(_dataDir.Path);
        var received = new List<(int Call, long Seq)>();
        string id;
        try
        {
            id = await server.CreateSessionAsync(backend);
            var completed = 0;
            var enoughCompleted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var inFlight = Enumerable.Range(0, calls).Select(async i =>
            {
                var command = i % 4 == 3 ? $"sleep 30; echo call-{i}" : $"echo call-{i}";
                var result = await server.ExecAsync(id, command);
                lock (received)
                {
                    received.Add((i, result.EventSeq()));
                }
                if (Interlocked.Increment(ref completed) >= killAfter)
                {
                    enoughCompleted.TrySetResult();
                }
            }).ToList();

            // When the server is SIGKILLed while calls are still in flight
            await enoughCompleted.Task.WaitAsync(ServerProcess.CallTimeout);
            await server.KillAsync();
            foreach (var call in inFlight)
            {
                try
                {
                    await call;
                }
                catch (Exception)
                {
                    // A call cut off by the kill: its result never arrived, so no promise was made for it.
                }
            }
            Assert.True(received.Count >= killAfter);
            Assert.True(received.Count < calls, "every call finished before the kill: the test proved nothing about in-flight calls");
        }
        finally
        {
            await server.DisposeAsync();
        }

        // Then after a restart every event whose result was received is in the log, as the call it answered
        await using var restarted = await ServerProcess.StartAsync(_dataDir.Path);
        var replayed = new Dictionary<long, JsonNode>();
        long? from = 0;
        while (from is not null)
        {
            var page = await restarted.CallAsync("session_replay", new { session_id = id, from_seq = from, limit = 500, include_output = "full" });
            foreach (var e in page["events"]!.AsArray())
            {
                replayed[e!["seq"]!.GetValue<long>()] = e;
            }
            from = page["next_seq"]?.GetValue<long>();
        }
        foreach (var (call, seq) in received)
        {
            Assert.True(replayed.TryGetValue(seq, out var stored), $"event {seq} of call {call} was received by the client but is not in the log");
            Assert.Equal("session_exec", stored!.Text("tool"));
            Assert.EndsWith($"echo call-{call}", stored["arguments"]!.Text("command"), StringComparison.Ordinal);
            Assert.Equal($"call-{call}\n", stored["output"]!.Text("stdout"));
        }
        var exported = await ServerCli.ExportAsync(_dataDir.Path);
        Assert.All(received, r => Assert.Contains(exported, e => e["seq"]!.GetValue<long>() == r.Seq && e.Text("tool") == "session_exec"));
        var verify = await ServerCli.VerifyAsync(_dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var listed = (await restarted.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!.Text("session_id") == id)!;
        Assert.Equal("running", listed.Text("status"));
    }

    public void Dispose() => _dataDir.Dispose();
}
