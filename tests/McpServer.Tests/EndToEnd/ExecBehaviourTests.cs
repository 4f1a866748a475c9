using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>session_exec: timeouts, big outputs, stdin, progress and concurrency against the real server.</summary>
public sealed class ExecBehaviourTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int OneMegabyte = 1_000_000;

    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ATimeoutKillsTheWholeProcessTreeAndTheSessionStaysUsable(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(id, "mkdir -p work && cd work");

        // When a command that waits on a background sleep runs into a short timeout
        var clock = Stopwatch.StartNew();
        var running = Server.ExecAsync(id, "echo started; sleep 1000 & echo $! > sleeper.pid; wait", timeoutMs: 1500);
        if (backend == Backends.Local)
        {
            // The check below must be able to see the sleep, or its absence would prove nothing.
            Assert.True(await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "1000").Count > 0, TimeSpan.FromSeconds(5)), "the sleep never showed up in /proc");
        }
        var result = await running;
        clock.Stop();

        // Then it returns about when the timeout expires, flagged, with the output so far
        Assert.True(result["timed_out"]!.GetValue<bool>(), result.ToJsonString());
        Assert.Equal("started\n", result.Text("stdout"));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(1400), TimeSpan.FromSeconds(8));

        // Then the session still works, and keeps the cwd it had before the timed-out command
        var after = await Server.ExecAsync(id, "echo alive; pwd");
        Assert.Equal(0, after["exit_code"]!.GetValue<int>());
        Assert.StartsWith("alive\n", after.Text("stdout"), StringComparison.Ordinal);
        Assert.EndsWith("/work", after.Text("cwd"), StringComparison.Ordinal);

        // Then the background sleep is gone
        if (backend == Backends.Local)
        {
            var gone = await Poll.UntilAsync(() => LocalProcesses.Find(id, "sleep", "1000").Count == 0, TimeSpan.FromSeconds(5));
            Assert.True(gone, $"'sleep 1000' of session {id} survived the timeout: pids {string.Join(", ", LocalProcesses.Find(id, "sleep", "1000"))}");
        }
        else
        {
            var gone = await Poll.UntilAsync(
                async () => (await Server.ExecAsync(id, "ps | grep '[s]leep 1000' || echo none")).Text("stdout").Contains("none", StringComparison.Ordinal),
                TimeSpan.FromSeconds(5));
            Assert.True(gone, $"'sleep 1000' of session {id} survived the timeout");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AOneMegabyteOutputIsTruncatedInlineAndCompleteInTheAuditLog(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);
        var expected = string.Concat(Enumerable.Repeat("abcdefghi\n", OneMegabyte / 10));

        // When a command prints 1,000,000 bytes
        var result = await Server.ExecAsync(id, $"yes abcdefghi | head -c {OneMegabyte}");

        // Then the inline result is cut, keeping head and tail
        Assert.Equal(0, result["exit_code"]!.GetValue<int>());
        Assert.True(result["truncated"]!.GetValue<bool>());
        var inline = result.Text("stdout");
        Assert.True(inline.Length < 40_000, $"inline stdout is {inline.Length} chars");
        Assert.StartsWith("abcdefghi\nabcdefghi\n", inline, StringComparison.Ordinal);
        Assert.EndsWith("abcdefghi\nabcdefghi\n", inline, StringComparison.Ordinal);

        // When the call is replayed with full output
        var replay = await Server.CallAsync("session_replay", new { session_id = id, from_seq = result.EventSeq(), limit = 1, include_output = "full" });

        // Then the replay shows as much of it as the result budget allows (the contract check bounds the size), head and tail
        var stored = replay["events"]!.AsArray().Single()!;
        Assert.Equal(result.EventSeq(), stored["seq"]!.GetValue<long>());
        var replayed = stored["output"]!.Text("stdout");
        Assert.True(replayed.Length > 10_000, $"the full replay shows only {replayed.Length} chars");
        Assert.StartsWith("abcdefghi\nabcdefghi\n", replayed, StringComparison.Ordinal);
        Assert.EndsWith("abcdefghi\nabcdefghi\n", replayed, StringComparison.Ordinal);

        // Then the audit log holds the output complete, byte for byte
        var exported = (await ServerCli.ExportAsync(Server.DataDir)).Single(e => e["seq"]!.GetValue<long>() == result.EventSeq());
        Assert.True(expected == exported["output"]!.Text("stdout"), "the stored output differs from what the command printed");

        // Then the default replay stays small
        var truncatedReplay = await Server.CallAsync("session_replay", new { session_id = id, from_seq = result.EventSeq(), limit = 1 });
        Assert.True(truncatedReplay["events"]!.AsArray().Single()!["output"]!.Text("stdout").Length < 40_000);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task StdinIsClosedUnlessGiven(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When programs that read stdin run without stdin
        var cat = await Server.ExecAsync(id, "cat", timeoutMs: 20_000);
        var read = await Server.ExecAsync(id, "read line; echo \"got[$line] rc=$?\"", timeoutMs: 20_000);

        // Then they see end of input at once instead of hanging
        Assert.False(cat["timed_out"]!.GetValue<bool>());
        Assert.Equal(0, cat["exit_code"]!.GetValue<int>());
        Assert.Equal("", cat.Text("stdout"));
        Assert.False(read["timed_out"]!.GetValue<bool>());
        Assert.StartsWith("got[]", read.Text("stdout"), StringComparison.Ordinal);

        // When stdin is given
        var fed = await Server.CallAsync("session_exec", new { session_id = id, command = "cat", stdin = "hello\nworld\n", timeout_ms = 20_000 });
        var counted = await Server.CallAsync("session_exec", new { session_id = id, command = "wc -l", stdin = "a\nb\nc\n", timeout_ms = 20_000 });

        // Then the command reads exactly that
        Assert.Equal("hello\nworld\n", fed.Text("stdout"));
        Assert.Equal("3", counted.Text("stdout").Trim());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ALongCommandReportsProgressWhenTheClientAsksForIt(string backend)
    {
        // Given a session and a progress handler
        var id = await Server.CreateSessionAsync(backend);
        var progress = new CollectingProgress();

        // When a four-second command runs (ticks at 1, 2 and 3 s: one may be lost to a loaded machine's stall, not two)
        var result = await Server.CallRawAsync("session_exec", new { session_id = id, command = "echo begun; sleep 4; echo done" }, progress);

        // Then it succeeds and at least two progress notifications arrived
        Assert.NotEqual(true, result.IsError);
        Assert.Contains("done", ServerProcess.TextOf(result), StringComparison.Ordinal);
        var enough = await Poll.UntilAsync(() => progress.Values.Count >= 2, TimeSpan.FromSeconds(5));
        Assert.True(enough, $"{progress.Values.Count} progress notifications");
        Assert.Contains(progress.Values, p => p.Message is { } m && m.Contains("begun", StringComparison.Ordinal));

        // Then the values strictly increase, as the specification requires, and each message states its value
        var values = progress.Values.ToList();
        Assert.All(values.Zip(values.Skip(1)), pair => Assert.True(pair.Second.Progress > pair.First.Progress, $"progress went from {pair.First.Progress} to {pair.Second.Progress}"));
        Assert.All(values, p => Assert.StartsWith(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"running {p.Progress:0.0}s"), p.Message, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ANoisyCommandFitsTheResultBudgetWithBothStreamsHeadAndTail(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When a command floods both streams
        var raw = await Server.CallRawAsync("session_exec", new { session_id = id, command = "seq 1 200000; seq 1 100000 >&2" }, null);

        // Then the whole result (text block and structured content) stays within the budget, both streams show their
        // first and last lines, and the text block is a rendering, not the JSON again
        var text = ServerProcess.TextOf(raw);
        var size = ResultContract.SizeOf(raw);
        Assert.InRange(size, 30_000, ResultContract.DefaultBudgetChars);
        var result = JsonNode.Parse(raw.StructuredContent!.Value.GetRawText())!;
        Assert.True(result["truncated"]!.GetValue<bool>());
        Assert.StartsWith("1\n2\n3\n", result.Text("stdout"), StringComparison.Ordinal);
        Assert.EndsWith("199999\n200000\n", result.Text("stdout"), StringComparison.Ordinal);
        Assert.StartsWith("1\n2\n3\n", result.Text("stderr"), StringComparison.Ordinal);
        Assert.EndsWith("99999\n100000\n", result.Text("stderr"), StringComparison.Ordinal);
        Assert.StartsWith("exit 0, ", text, StringComparison.Ordinal);
        Assert.Contains("[stderr]\n1\n2\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\"stdout\"", text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task TenConcurrentCallsOnOneSessionEachGetTheirOwnOutput(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When ten commands run on it at once
        var calls = Enumerable.Range(0, 10)
            .Select(i => Server.ExecAsync(id, $"i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; echo call-{i}; echo err-{i} >&2"))
            .ToList();
        var results = await Task.WhenAll(calls);

        // Then each result carries exactly its own command's output and its own event
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(0, results[i]["exit_code"]!.GetValue<int>());
            Assert.Equal($"call-{i}\n", results[i].Text("stdout"));
            Assert.Equal($"err-{i}\n", results[i].Text("stderr"));
        }
        Assert.Equal(10, results.Select(r => r.EventSeq()).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ConcurrentCallsOnFiveSessionsStayInTheirOwnSessions(string backend)
    {
        // Given five sessions, each with its own marker file and variable
        var ids = await Task.WhenAll(Enumerable.Range(0, 5).Select(n => Server.CreateSessionAsync(backend, env: new() { ["WHO"] = $"session-{n}" })));
        await Task.WhenAll(ids.Select((id, n) => Server.CallAsync("session_write_file", new { session_id = id, path = "marker.txt", content = $"marker-{n}\n" })));

        // When each runs four commands, all at once
        var calls = ids.SelectMany((id, n) => Enumerable.Range(0, 4).Select(async k =>
            (Session: n, Call: k, Result: await Server.ExecAsync(id, $"cat marker.txt; echo $WHO; echo call-{k}")))).ToList();
        var results = await Task.WhenAll(calls);

        // Then every output comes from the right session and call
        foreach (var (n, k, result) in results)
        {
            Assert.Equal($"marker-{n}\nsession-{n}\ncall-{k}\n", result.Text("stdout"));
        }
    }
}
