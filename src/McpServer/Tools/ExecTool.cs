using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.McpServer.Tools;

/// <summary>Running commands in a session.</summary>
[McpServerToolType]
internal sealed class ExecTool(SessionRouter router, ResultBudget budget)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    [McpServerTool(Name = "session_exec", Title = "Run a shell command in a session", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("""
        Runs a shell command (POSIX sh syntax; pipes, &&, redirections work) in the session. Like a terminal, `cd` and `export` persist to the next call; plain shell variables and functions do not. stdin is closed unless `stdin` is given, so interactive programs get EOF instead of hanging. On timeout the command's whole process tree is killed, the output so far is returned with timed_out: true, and the session stays usable. background: true starts it as a job and returns its job_id at once (servers, watchers, long builds): output kept for session_job_output, stdin open for session_job_input; on_timeout: "background" hands it over to a job at the timeout instead of killing it. Long outputs are cut in the middle (truncated: true; all of it stays in the audit log); to read one whole, redirect it to a file and page with session_read_file.
        """)]
    public async Task<ExecResult> ExecAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to run in.")] string session_id,
        [Description("The command line, e.g. \"cd src && make test 2>&1 | tail -50\".")] string command,
        [Description("Kill the command after this many milliseconds (default 120000, max 600000).")] long? timeout_ms = null,
        [Description("Run this one command in another directory (relative to the session's cwd or absolute inside the workspace); the session's cwd changes only if the command itself cd's.")] string? cwd = null,
        [Description("Environment variables for this one command only; they are not persisted.")] Dictionary<string, string>? env = null,
        [Description("Text fed to the command's standard input.")] string? stdin = null,
        [Description("Why you are running this (kept in the audit log).")] string? description = null,
        [Description("Run as a job and return its job_id at once; its cd/export do not change the session.")] bool? background = null,
        [Description("At timeout_ms: \"kill\" (default), or \"background\": keep it running as a job, return the output so far and its job_id.")]
        [AllowedValues("kill", "background")] string? on_timeout = null,
        CancellationToken cancellationToken = default)
    {
        ToolArguments.RequireText(command, "command");
        var options = router.Options;
        ToolArguments.RequireRange(timeout_ms, "timeout_ms", 1, options.MaxTimeoutMs);
        var timeout = TimeSpan.FromMilliseconds(timeout_ms ?? options.DefaultTimeoutMs);
        if (background == true || on_timeout == "background")
        {
            return await RunAsJobAsync(request, session_id, command, cwd, ToolArguments.Env(env), stdin, background == true ? null : timeout, cancellationToken).ConfigureAwait(false);
        }
        var stdout = new OutputCapture(options.CaptureBytes);
        var stderr = new OutputCapture(options.CaptureBytes);
        var call = CallAudit.Of(request);

        var started = Stopwatch.GetTimestamp();
        var running = router.ExecAsync(call.Caller, session_id, new ExecCommand(command, cwd, ToolArguments.Env(env), stdin, timeout, stdout, stderr), cancellationToken);
        if (call.WantsProgress)
        {
            using var ticks = new PeriodicTimer(ProgressInterval);
            while (!running.IsCompleted && await Task.WhenAny(running, ticks.WaitForNextTickAsync(cancellationToken).AsTask()).ConfigureAwait(false) != running)
            {
                var latest = stderr.LatestLine is { } err && stdout.LatestLine is null ? err : stdout.LatestLine;
                await call.ReportProgressAsync(
                    Stopwatch.GetElapsedTime(started).TotalSeconds,
                    seconds => $"running {seconds:0.0}s" + (latest is null ? "" : $": {latest}"),
                    cancellationToken).ConfigureAwait(false);
            }
        }
        var (session, outcome) = await running.ConfigureAwait(false);

        var fullStdout = stdout.GetText();
        var fullStderr = stderr.GetText();
        var durationMs = (long)outcome.Duration.TotalMilliseconds;
        var result = budget.Fit(
            Math.Min(fullStdout.Length + fullStderr.Length, budget.MaxChars),
            allowance => ExecResult.Create(outcome.ExitCode, fullStdout, fullStderr, allowance, session.Cwd, durationMs, outcome.TimedOut, outcome.Note));

        call.Summary = new JsonObject
        {
            ["exit_code"] = outcome.ExitCode,
            ["timed_out"] = outcome.TimedOut,
            ["truncated"] = result.Truncated,
            ["stdout_bytes"] = stdout.TotalBytes,
            ["stderr_bytes"] = stderr.TotalBytes,
            ["cwd"] = session.Cwd,
            ["duration_ms"] = durationMs,
            ["note"] = outcome.Note,
        };
        call.Output = new JsonObject { ["stdout"] = fullStdout, ["stderr"] = fullStderr };
        return call.Complete(result);
    }

    /// <summary>
    /// A command run as a job: returned at once (<paramref name="waitFor"/> null), or waited for like a foreground
    /// command and handed over as a job when it outlives the wait. Its output is in its journal either way.
    /// </summary>
    private async Task<ExecResult> RunAsJobAsync(
        RequestContext<CallToolRequestParams> request, string sessionId, string command, string? cwd, IReadOnlyDictionary<string, string> env, string? stdin, TimeSpan? waitFor, CancellationToken cancellationToken)
    {
        var call = CallAudit.Of(request);
        var started = Stopwatch.GetTimestamp();
        var (job, startCwd) = await router.StartJobAsync(call.Caller, sessionId, command, cwd, env, keepsState: waitFor is not null, cancellationToken).ConfigureAwait(false);
        if (stdin is not null)
        {
            await job.Running!.WriteInputAsync(System.Text.Encoding.UTF8.GetBytes(stdin), cancellationToken).ConfigureAwait(false);
        }
        if (waitFor is not null)
        {
            // A foreground command's stdin ends with the text given; a background job's stays open for session_job_input.
            await job.Running!.CloseInputAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await JobWait.WaitAsync(job.Journal, job.Journal.TotalBytes, new JobWaitConditions(waitFor.Value), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await router.Jobs.KillAsync(job, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            if (job.Journal.Ended is not null)
            {
                await job.Finished.ConfigureAwait(false);
            }
        }

        var session = router.Get(call.Caller, sessionId);
        var read = job.Journal.Read(0, router.Options.CaptureBytes);
        var (stdout, stderr) = JobText.Separate(read);
        var durationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        int? exitCode = null;
        string? note = null;
        string? jobId = job.Info.JobId;
        if (waitFor is not null && job.Exit is { } exit)
        {
            // Finished within the wait: a command like any other, its cd/export applied to the session.
            exitCode = exit.Outcome.ExitCode ?? (exit.Outcome.Signal is { } signal ? 128 + signal : null);
            var outcome = new ExecOutcome(exitCode ?? -1, false, TimeSpan.FromMilliseconds(durationMs), exit.State?.Cwd, exit.State?.Env, exit.Note);
            (session, outcome) = router.ApplyOutcome(session, startCwd, env, outcome);
            note = outcome.Note;
            jobId = null;
        }
        else if (waitFor is not null)
        {
            note = $"still running after {waitFor.Value.TotalMilliseconds:0} ms: handed over to job {job.Info.JobId}, whose output is kept; read it with session_job_output (wait_ms to wait for it), stop it with session_job_kill";
        }
        var result = budget.Fit(
            Math.Min(stdout.Length + stderr.Length, budget.MaxChars),
            allowance => ExecResult.Create(exitCode, stdout, stderr, allowance, session.Cwd, durationMs, timedOut: waitFor is not null && jobId is not null, note, jobId));
        call.Summary = new JsonObject
        {
            ["job_id"] = job.Info.JobId,
            ["background"] = waitFor is null,
            ["exit_code"] = exitCode,
            ["handed_over"] = waitFor is not null && jobId is not null,
            ["cwd"] = session.Cwd,
            ["duration_ms"] = durationMs,
        };
        call.Output = new JsonObject { ["stdout"] = stdout, ["stderr"] = stderr };
        return call.Complete(result);
    }
}

/// <summary>The result of session_exec. <see cref="ExitCode"/> is absent while the command runs on as a job (<see cref="JobId"/>).</summary>
internal sealed record ExecResult(
    string Stdout,
    string Stderr,
    string Cwd,
    long DurationMs,
    bool TimedOut,
    bool Truncated,
    long EventSeq,
    int? ExitCode = null,
    string? Note = null,
    string? JobId = null) : IToolResult
{
    /// <summary>
    /// The result with at most <paramref name="allowance"/> characters of output in all, each stream cut in the middle
    /// (head and tail kept); a stream that needs less than half leaves the rest to the other.
    /// </summary>
    public static ExecResult Create(int? exitCode, string stdout, string stderr, int allowance, string cwd, long durationMs, bool timedOut, string? note, string? jobId = null)
    {
        var (stdoutChars, stderrChars) = Share(allowance, stdout.Length, stderr.Length);
        var shownStdout = OutputTruncation.Truncate(stdout, stdoutChars);
        var shownStderr = OutputTruncation.Truncate(stderr, stderrChars);
        return new ExecResult(shownStdout.Text, shownStderr.Text, cwd, durationMs, timedOut, shownStdout.Truncated || shownStderr.Truncated, 0, exitCode, note, jobId);
    }

    /// <summary>Splits <paramref name="allowance"/> between two streams: whatever one does not need, the other may use.</summary>
    public static (int First, int Second) Share(int allowance, int first, int second)
    {
        if (first + second <= allowance)
        {
            return (first, second);
        }
        var half = allowance / 2;
        if (second <= half)
        {
            return (allowance - second, second);
        }
        return first <= half ? (first, allowance - first) : (allowance - half, half);
    }

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = new StringBuilder();
        text.Append(JobId is not null && ExitCode is null
                ? $"running as job {JobId} after {DurationMs} ms (read it with session_job_output)"
                : TimedOut ? $"timed out after {DurationMs} ms, process tree killed" : $"exit {ExitCode}, {DurationMs} ms")
            .Append($", cwd {Cwd}, event_seq {EventSeq}\n");
        if (Note is not null)
        {
            text.Append("note: ").Append(Note).Append('\n');
        }
        if (Stderr.Length == 0)
        {
            text.Append(Stdout.Length == 0 ? "(no output)\n" : Stdout);
        }
        else
        {
            if (Stdout.Length > 0)
            {
                text.Append("[stdout]\n").Append(Stdout).Append(Stdout.EndsWith('\n') ? "" : "\n");
            }
            text.Append("[stderr]\n").Append(Stderr);
        }
        return text.ToString();
    }
}
