using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.McpServer.Tools;

/// <summary>Background jobs: their output (waited for on the server), their stdin, their end.</summary>
[McpServerToolType]
internal sealed class JobTools(SessionRouter router, ResultBudget budget)
{
    private const int DefaultMaxChars = 20_000;

    [McpServerTool(Name = "session_job_output", Title = "Read a job's output", Destructive = false, Idempotent = true, OpenWorld = false, ReadOnly = true, UseStructuredContent = true)]
    [Description("""
        A job's output (stdout and stderr interleaved) from `cursor` on, and next_cursor. With wait_ms the server first waits, at most wait_ms, until the job exits, `until` (a regex) matches new output, no output came for quiet_ms, or min_bytes arrived: no polling loop needed. Readable after the job ended and after a restart; says whether the job waits for input.
        """)]
    public async Task<JobOutputResult> OutputAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The job, from session_exec {background: true} or a hand-over.")] string job_id,
        [Description("Where to read from: 0 (default) for the start, else the next_cursor of the previous read.")] long? cursor = null,
        [Description("Wait up to this many milliseconds for one of the conditions below (or the job's exit) before reading (max 600000).")] long? wait_ms = null,
        [Description("With wait_ms: stop waiting when new output matches this regular expression, e.g. \"listening on|error\".")] string? until = null,
        [Description("With wait_ms: stop waiting once no new output came for this many milliseconds.")] long? quiet_ms = null,
        [Description("With wait_ms: stop waiting once this many new bytes arrived.")] long? min_bytes = null,
        [Description("Most characters of output to return (default 20000); next_cursor continues from there.")] int? max_chars = null,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var conditions = ToolArguments.Wait(wait_ms, until, quiet_ms, min_bytes, router.Options.MaxTimeoutMs);
        ToolArguments.RequireRange(max_chars, "max_chars", 1, budget.MaxChars);
        ToolArguments.RequireRange(cursor, "cursor", 0, long.MaxValue);
        router.Get(call.Caller, session_id);
        var job = router.Jobs.Get(session_id, job_id);
        var from = cursor ?? 0;
        if (from > job.Journal.TotalBytes)
        {
            throw new SessionException($"cursor {from} is past the end of job {job_id}'s output ({job.Journal.TotalBytes} bytes so far); pass the next_cursor of a previous read, or 0");
        }

        var waited = conditions is null ? null : await JobWait.WaitAsync(job.Journal, from, conditions, cancellationToken).ConfigureAwait(false);

        var status = router.Jobs.StatusOf(job);
        var maxChars = max_chars ?? DefaultMaxChars;
        var result = budget.Fit(maxChars, allowance =>
        {
            var read = job.Journal.Read(from, allowance);
            var (text, next) = JobText.Interleaved(read);
            return JobOutputResult.Create(status, text, from, next, read.TotalBytes, waited, read.Gap);
        }, minimum: 256);
        call.Summary = new JsonObject
        {
            ["job_id"] = job_id,
            ["state"] = status.State,
            ["cursor"] = from,
            ["next_cursor"] = result.NextCursor,
            ["wait_ended_by"] = result.WaitEndedBy,
        };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_job_input", Title = "Type into a job", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("""
        Writes `text` to a job's stdin, then `keys`. Its stdin is a pipe, not a terminal: Ctrl-C sends SIGINT, Ctrl-\ SIGQUIT, Ctrl-Z SIGTSTP, Ctrl-D (or close_stdin) ends its input. Read the answer with session_job_output (wait_ms).
        """)]
    public async Task<JobResult> InputAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The job.")] string job_id,
        [Description("Text to write to the job's stdin, e.g. \"yes\\n\".")] string? text = null,
        [Description("Keys by name, after the text: Enter, Tab, Esc, Backspace, Up/Down/Left/Right, Home, End, PageUp, PageDown, Delete, F1-F12, Ctrl-A … Ctrl-Z.")] List<string>? keys = null,
        [Description("Close the job's stdin after the text and keys (end of input).")] bool? close_stdin = null,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        if (text is null && keys is null && close_stdin != true)
        {
            throw new SessionException("nothing to send: give text, keys or close_stdin");
        }
        var actions = JobKeys.Encode(keys ?? [], terminal: false); // an unknown key fails here, before anything is sent
        router.Get(call.Caller, session_id);
        var job = router.Jobs.Get(session_id, job_id);
        if (job.Running is not { } running || job.Journal.Ended is not null)
        {
            throw new SessionException($"job {job_id} is {router.Jobs.StatusOf(job).State}; it reads no more input");
        }
        long written = 0;
        var open = true;
        if (text is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            open = await running.WriteInputAsync(bytes, cancellationToken).ConfigureAwait(false);
            written += open ? bytes.Length : 0;
        }
        foreach (var action in actions)
        {
            if (action.Signal is { } signal)
            {
                await running.SignalAsync(signal, cancellationToken).ConfigureAwait(false);
            }
            else if (action.EndOfInput)
            {
                await running.CloseInputAsync(cancellationToken).ConfigureAwait(false);
                open = false;
            }
            else if (open && action.Bytes is { } bytes)
            {
                open = await running.WriteInputAsync(bytes, cancellationToken).ConfigureAwait(false);
                written += open ? bytes.Length : 0;
            }
        }
        if (close_stdin == true)
        {
            await running.CloseInputAsync(cancellationToken).ConfigureAwait(false);
            open = false;
        }
        var result = JobResult.Of(router.Jobs.StatusOf(job)) with
        {
            BytesWritten = written,
            StdinOpen = open,
            Note = open || close_stdin == true || actions.Any(a => a.EndOfInput) ? null : "the job's stdin is closed (it exited or closed it): nothing more was written",
        };
        call.Summary = new JsonObject { ["job_id"] = job_id, ["bytes_written"] = written, ["stdin_open"] = open };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_job_kill", Title = "Stop a job", Destructive = true, Idempotent = true, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Kills a job and every process it started, however they tried to leave; its output stays readable. A job that already ended is left as it is.")]
    public async Task<JobResult> KillAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The job.")] string job_id,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        router.Get(call.Caller, session_id);
        var status = await router.Jobs.KillAsync(router.Jobs.Get(session_id, job_id), cancellationToken).ConfigureAwait(false);
        var result = JobResult.Of(status);
        call.Summary = new JsonObject { ["job_id"] = job_id, ["state"] = result.State, ["exit_code"] = result.ExitCode };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_jobs", Title = "List a session's jobs", Destructive = false, Idempotent = true, OpenWorld = false, ReadOnly = true, UseStructuredContent = true)]
    [Description("Lists the session's jobs, running and ended (oldest first), with their state, exit code, output size and whether one waits for input.")]
    public JobList List(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id)
    {
        var call = CallAudit.Of(request);
        router.Get(call.Caller, session_id);
        var jobs = router.Jobs.List(session_id).Select(j => JobResult.Of(router.Jobs.StatusOf(j))).ToList();
        var result = budget.Fit(jobs.Count, count => new JobList(jobs.TakeLast(count).ToList(), jobs.Count, 0), minimum: 0);
        call.Summary = new JsonObject { ["jobs"] = jobs.Count, ["running"] = jobs.Count(j => j.State == "running") };
        return call.Complete(result);
    }
}

/// <summary>A job's state: running, exited (exit_code, signal), killed or lost (its server stopped while it ran).</summary>
internal sealed record JobResult(
    string JobId,
    [property: Description("\"job\" (pipes) or \"terminal\".")] string Kind,
    string Command,
    string State,
    string StartedAt,
    long OutputBytes,
    long EventSeq,
    int? ExitCode = null,
    int? Signal = null,
    bool? WaitingForInput = null,
    long? BytesWritten = null,
    bool? StdinOpen = null,
    string? Note = null) : IToolResult
{
    public static JobResult Of(JobStatus status) => new(
        status.Info.JobId,
        status.Info.Terminal is null ? "job" : "terminal",
        status.Info.Command,
        status.State,
        status.Info.StartedAt.ToString("O", CultureInfo.InvariantCulture),
        status.TotalBytes,
        0,
        status.Ended?.Outcome.ExitCode,
        status.Ended?.Outcome.Signal,
        status.WaitingForInput);

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        $"{Kind} {JobId} {Describe(State, ExitCode, Signal, WaitingForInput)}, {OutputBytes:N0} bytes of output, event_seq {EventSeq}\n" +
        (BytesWritten is { } written ? $"wrote {written:N0} bytes; stdin {(StdinOpen == true ? "open" : "closed")}\n" : "") +
        (Note is null ? "" : $"note: {Note}\n") +
        $"$ {Command}\n";

    internal static string Describe(string state, int? exitCode, int? signal, bool? waitingForInput) => state switch
    {
        "running" => waitingForInput == true ? "running, waiting for input" : "running",
        "exited" => exitCode is { } code ? $"exited {code}" : $"ended by signal {signal}",
        _ => state,
    };
}

/// <summary>A session's jobs, the most recent ones that fit.</summary>
internal sealed record JobList(List<JobResult> Jobs, int Total, long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = new StringBuilder($"{Total} job(s), event_seq {EventSeq}\n");
        foreach (var job in Jobs)
        {
            text.Append(CultureInfo.InvariantCulture, $"{job.JobId}  {JobResult.Describe(job.State, job.ExitCode, job.Signal, job.WaitingForInput)}  {job.OutputBytes:N0} B  $ {OutputTruncation.Truncate(job.Command, 200).Text}\n");
        }
        return text.ToString();
    }
}

/// <summary>Output of a job from a cursor: the text, where to read next, and why a wait ended.</summary>
internal sealed record JobOutputResult(
    string JobId,
    string State,
    string Output,
    long Cursor,
    long NextCursor,
    long TotalBytes,
    bool HasMore,
    long EventSeq,
    int? ExitCode = null,
    int? Signal = null,
    bool? WaitingForInput = null,
    string? WaitEndedBy = null,
    string? Matched = null,
    string? Dropped = null) : IToolResult
{
    public static JobOutputResult Create(JobStatus status, string output, long cursor, long next, long total, JobWaitResult? waited, JournalGap? gap) => new(
        status.Info.JobId,
        status.State,
        output,
        cursor,
        next,
        total,
        next < total,
        0,
        status.Ended?.Outcome.ExitCode,
        status.Ended?.Outcome.Signal,
        status.WaitingForInput,
        waited?.Reason.ToString().ToLowerInvariant(),
        waited?.Match?.Text,
        gap is null ? null : string.Create(CultureInfo.InvariantCulture, $"bytes {gap.From}-{gap.To} were not kept (the job's output exceeded what is kept per job: its start and end are)"));

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        $"job {JobId} {JobResult.Describe(State, ExitCode, Signal, WaitingForInput)}; bytes {Cursor:N0}-{NextCursor:N0} of {TotalBytes:N0}{(HasMore ? " (more: read again from next_cursor)" : "")}" +
        (WaitEndedBy is null ? "" : $"; wait ended: {WaitEndedBy}{(Matched is null ? "" : $" \"{Matched}\"")}") + $", event_seq {EventSeq}\n" +
        (Output.Length == 0 ? "(no new output)\n" : Output);
}
