using System.Globalization;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Background jobs through the real server: output kept in a journal and read by cursor, waits that end on the server,
/// input and keys, hand-over at a timeout, and nothing left running or lost across a destroy or a restart.
/// </summary>
public sealed class JobTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AJobThatExitsAtOnceLosesNothingOfEitherStream(string backend)
    {
        // Given
        var id = await Server.CreateSessionAsync(backend);

        // When a job writes to both streams and exits within a millisecond
        var job = await StartAsync(id, "printf 'out-1\\n'; printf 'err-1\\n' >&2; printf 'out-2\\n'; exit 7");
        var output = await OutputAsync(id, job, new { wait_ms = 10_000 });

        // Then every byte is there, each stream in its order (two pipes: across them, the order they were read in),
        // with its exit code
        Assert.Equal("exited", output.Text("state"));
        Assert.Equal(7, output["exit_code"]!.GetValue<int>());
        var text = output.Text("output");
        Assert.Equal(18, text.Length);
        Assert.Contains("err-1\n", text);
        Assert.Equal("out-1\nout-2\n", text.Replace("err-1\n", "", StringComparison.Ordinal));
        Assert.Equal("exited", output.Text("wait_ended_by"));
        Assert.False(output["has_more"]!.GetValue<bool>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task EachWaitConditionEndsTheWaitOnTheServer(string backend)
    {
        // Given a job that prints a line every 200 ms, then says it is ready, then goes quiet
        var id = await Server.CreateSessionAsync(backend);
        var job = await StartAsync(id, "for i in 1 2 3; do echo tick $i; sleep 0.2; done; echo listening on 8080; sleep 30");

        // When / Then: a regex matches new output
        var matched = await OutputAsync(id, job, new { wait_ms = 10_000, until = "listening on \\d+" });
        Assert.Equal("matched", matched.Text("wait_ended_by"));
        Assert.Equal("listening on 8080", matched.Text("matched"));
        Assert.Contains("tick 3\nlistening on 8080\n", matched.Text("output"));
        var cursor = matched["next_cursor"]!.GetValue<long>();

        // no new output for quiet_ms
        var quiet = await OutputAsync(id, job, new { cursor, wait_ms = 10_000, quiet_ms = 300 });
        Assert.Equal("quiet", quiet.Text("wait_ended_by"));
        Assert.Equal("", quiet.Text("output"));

        // the cap
        var capped = await OutputAsync(id, job, new { cursor, wait_ms = 300 });
        Assert.Equal("timeout", capped.Text("wait_ended_by"));
        Assert.Equal("running", capped.Text("state"));

        // min_bytes, on another job
        var chatty = await StartAsync(id, "echo 12345; sleep 0.3; echo 67890; sleep 30");
        var bytes = await OutputAsync(id, chatty, new { wait_ms = 10_000, min_bytes = 12 });
        Assert.Equal("bytes", bytes.Text("wait_ended_by"));
        Assert.Equal("12345\n67890\n", bytes.Text("output"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task InputAnswersAReadAndKeysInterruptOrEndAJob(string backend)
    {
        // Given a job waiting on `read`
        var id = await Server.CreateSessionAsync(backend);
        var reader = await StartAsync(id, "read answer; echo got $answer");
        Assert.True(await Poll.UntilAsync(async () => (await OutputAsync(id, reader, new { }))["waiting_for_input"]?.GetValue<bool>() == true, TimeSpan.FromSeconds(5)), "the job was never reported as waiting for input");

        // When it is answered
        await Server.CallAsync("session_job_input", new { session_id = id, job_id = reader, text = "forty-two", keys = new[] { "Enter" } });

        // Then
        var answered = await OutputAsync(id, reader, new { wait_ms = 10_000 });
        Assert.Equal("got forty-two\n", answered.Text("output"));
        Assert.Equal(0, answered["exit_code"]!.GetValue<int>());

        // And Ctrl-C stops a sleep, Ctrl-D ends a cat
        var seconds = UniqueSeconds();
        var sleeper = await StartAsync(id, $"sleep {seconds}");
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", seconds).Count == 1, TimeSpan.FromSeconds(10)), "the sleep never started");
        await Server.CallAsync("session_job_input", new { session_id = id, job_id = sleeper, keys = new[] { "Ctrl-C" } });
        var interrupted = await OutputAsync(id, sleeper, new { wait_ms = 10_000 });
        Assert.Equal("exited", interrupted.Text("state"));
        Assert.Equal(2, interrupted["signal"]!.GetValue<int>());
        var cat = await StartAsync(id, "cat");
        await Server.CallAsync("session_job_input", new { session_id = id, job_id = cat, text = "echo me\n", keys = new[] { "Ctrl-D" } });
        var ended = await OutputAsync(id, cat, new { wait_ms = 10_000 });
        Assert.Equal("echo me\n", ended.Text("output"));
        Assert.Equal(0, ended["exit_code"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ACommandOutlivingItsTimeoutIsHandedOverAndKeepsRunningWithItsWholeOutput(string backend)
    {
        // Given
        var id = await Server.CreateSessionAsync(backend);

        // When a command runs past its timeout with on_timeout: background
        var result = await Server.CallAsync("session_exec", new { session_id = id, command = "echo first; sleep 1.5; echo second", timeout_ms = 500, on_timeout = "background" });

        // Then the call returned the output so far and a job that finishes the work
        Assert.True(result["timed_out"]!.GetValue<bool>());
        Assert.Null(result["exit_code"]);
        Assert.Equal("first\n", result.Text("stdout"));
        var job = result.Text("job_id");
        var finished = await OutputAsync(id, job, new { wait_ms = 10_000 });
        Assert.Equal("first\nsecond\n", finished.Text("output"));
        Assert.Equal(0, finished["exit_code"]!.GetValue<int>());

        // And a command that finishes in time is an ordinary call, its cd and export kept
        var quick = await Server.CallAsync("session_exec", new { session_id = id, command = "mkdir -p sub && cd sub && export HANDED=no; echo quick", timeout_ms = 10_000, on_timeout = "background" });
        Assert.Equal(0, quick["exit_code"]!.GetValue<int>());
        Assert.Null(quick["job_id"]);
        Assert.EndsWith("/sub\nno\n", await Server.RunAsync(id, "pwd; echo $HANDED"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task KillAndDestroyLeaveNoProcessOfAJobBehind(string backend)
    {
        // Given two jobs with children that leave their process session
        var id = await Server.CreateSessionAsync(backend);
        var first = UniqueSeconds();
        var second = UniqueSeconds();
        var killed = await StartAsync(id, $"setsid sleep {first} & sleep {first}");
        await StartAsync(id, $"sh -c 'sleep {second} &'; sleep {second}");
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", second).Count >= 2 && LocalProcesses.FindByCommandLine("sleep", first).Count >= 2, TimeSpan.FromSeconds(5)), "the jobs never started");

        // When one is killed and the session destroyed
        var status = await Server.CallAsync("session_job_kill", new { session_id = id, job_id = killed });
        Assert.Equal("killed", status.Text("state"));
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", first).Count == 0, TimeSpan.FromSeconds(5)), "the killed job's processes survived");
        await Server.CallAsync("session_destroy", new { session_id = id });

        // Then nothing of either is left
        Assert.True(await Poll.UntilAsync(() => LocalProcesses.FindByCommandLine("sleep", second).Count == 0, TimeSpan.FromSeconds(5)), "a job's processes survived the destroy");
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AJobsOutputIsReadableAfterARestartAndItIsReportedLost(string backend)
    {
        // Given a server running a job that has written some output
        using var dataDir = new TempDirectory("jobs-restart");
        string id;
        string job;
        await using (var first = await ServerProcess.StartAsync(dataDir.Path))
        {
            id = await first.CreateSessionAsync(backend);
            var started = await first.CallAsync("session_exec", new { session_id = id, command = "echo before; sleep 100", background = true });
            job = started.Text("job_id");
            var seen = await first.CallAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 10_000, until = "before" });
            Assert.Equal("before\n", seen.Text("output"));

            // When the server is killed and another starts on the same data
            await first.KillAsync();
        }
        await using var second = await ServerProcess.StartAsync(dataDir.Path);

        // Then the output is still there, the job is lost (and audited), and the session has no leftovers
        var output = await second.CallAsync("session_job_output", new { session_id = id, job_id = job });
        Assert.Equal("before\n", output.Text("output"));
        Assert.Equal("lost", output.Text("state"));
        var listed = await second.CallAsync("session_jobs", new { session_id = id });
        Assert.Equal("lost", listed["jobs"]![0]!.Text("state"));
        var events = await ServerCli.ExportAsync(dataDir.Path);
        Assert.Single(events, e => e["kind"]?.GetValue<string>() == "job_lost");
    }

    [Fact]
    public async Task BadJobArgumentsGetSpecificErrors()
    {
        var id = await Server.CreateSessionAsync(Backends.Local);
        var job = await StartAsync(id, "sleep 30");

        Assert.Contains("has no job j-nope", await Server.CallErrorAsync("session_job_output", new { session_id = id, job_id = "j-nope" }));
        Assert.Contains("past the end", await Server.CallErrorAsync("session_job_output", new { session_id = id, job_id = job, cursor = 99 }));
        Assert.Contains("give wait_ms too", await Server.CallErrorAsync("session_job_output", new { session_id = id, job_id = job, until = "x" }));
        Assert.Contains("not a usable regular expression", await Server.CallErrorAsync("session_job_output", new { session_id = id, job_id = job, wait_ms = 10, until = "(" }));
        Assert.Contains("unknown key 'Hyper-X'", await Server.CallErrorAsync("session_job_input", new { session_id = id, job_id = job, keys = new[] { "Hyper-X" } }));
        await Server.CallAsync("session_job_kill", new { session_id = id, job_id = job });
        Assert.Contains("reads no more input", await Server.CallErrorAsync("session_job_input", new { session_id = id, job_id = job, text = "x" }));
    }

    private async Task<string> StartAsync(string sessionId, string command)
    {
        var started = await Server.CallAsync("session_exec", new { session_id = sessionId, command, background = true });
        Assert.Null(started["exit_code"]);
        return started.Text("job_id");
    }

    private async Task<JsonNode> OutputAsync(string sessionId, string jobId, object conditions)
    {
        var arguments = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(conditions))!.AsObject();
        arguments["session_id"] = sessionId;
        arguments["job_id"] = jobId;
        return await Server.CallAsync("session_job_output", arguments);
    }

    // A sleep no other test (or earlier run) uses, so /proc can be searched by command line alone.
    private static string UniqueSeconds() => (100_000 + Random.Shared.Next(800_000)).ToString(CultureInfo.InvariantCulture);
}
