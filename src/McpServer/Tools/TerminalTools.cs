using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.McpServer.Tools;

/// <summary>Interactive programs on a real terminal: open, type, read the rendered screen, resize, close.</summary>
[McpServerToolType]
internal sealed class TerminalTools(SessionRouter router, ResultBudget budget)
{
    private const int DefaultColumns = 120;
    private const int DefaultRows = 40;

    [McpServerTool(Name = "session_terminal_open", Title = "Open a terminal", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Runs a program on a real terminal (PTY): REPLs, editors, prompts, TUIs; an interactive shell by default. Type with session_terminal_send, read the screen with session_terminal_read.")]
    public async Task<TerminalResult> OpenAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("What to run, e.g. \"python3\" or \"vi notes.txt\" (default: an interactive shell).")] string? command = null,
        [Description("Columns (default 120).")] int? cols = null,
        [Description("Rows (default 40).")] int? rows = null,
        [Description("Environment variables for this terminal only.")] Dictionary<string, string>? env = null,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var size = Size(cols, rows);
        var (job, _) = await router.StartJobAsync(call.Caller, session_id, command ?? "exec sh -i", cwd: null, ToolArguments.Env(env), keepsState: false, cancellationToken, size).ConfigureAwait(false);
        // A shell draws its prompt within milliseconds: return with it rather than with an empty screen.
        await SettleAsync(job, 0, TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
        var result = Screen(job, "screen");
        call.Summary = new JsonObject { ["terminal_id"] = job.Info.JobId, ["cols"] = size.Columns, ["rows"] = size.Rows };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_terminal_send", Title = "Type into a terminal", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Types `text`, then `keys` (Enter, Tab, Esc, Backspace, arrows, Home, End, PageUp, PageDown, Delete, F1-F12, Ctrl-A … Ctrl-Z), then returns the screen. Input at a prompt that does not echo (a password) is recorded nowhere.")]
    public async Task<TerminalResult> SendAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The terminal.")] string terminal_id,
        [Description("Text to type (\"\\r\" or keys: [\"Enter\"] submits a line).")] string? text = null,
        [Description("Keys by name, typed after the text.")] List<string>? keys = null,
        [Description("\"screen\" (default), \"changes\" or \"stream\", as in session_terminal_read.")][AllowedValues("screen", "changes", "stream")] string? mode = null,
        [Description("Most ms to wait for the screen to settle (100 ms without output) before reading; default 300.")] long? wait_ms = null,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        if (text is null && keys is null)
        {
            throw new SessionException("nothing to send: give text or keys");
        }
        var actions = JobKeys.Encode(keys ?? [], terminal: true);
        ToolArguments.RequireRange(wait_ms, "wait_ms", 0, router.Options.MaxTimeoutMs);
        var job = Terminal(call.Caller, session_id, terminal_id);
        if (job.Running is not { } running || job.Journal.Ended is not null)
        {
            throw new SessionException($"terminal {terminal_id} has ended ({router.Jobs.StatusOf(job).State}); read its last screen with session_terminal_read, or open another");
        }
        var typed = new StringBuilder(text ?? "");
        foreach (var action in actions)
        {
            typed.Append(Encoding.UTF8.GetString(action.Bytes ?? []));
        }
        // A terminal that is not echoing is asking for a password: what is typed is kept out of the recording and the log.
        var hidden = running.IsAskingForSecret() == true;
        if (hidden)
        {
            call.HiddenArguments.Add("text");
        }
        job.Terminal!.Recorder?.Input(typed.ToString(), hidden);
        var cursor = job.Journal.TotalBytes;
        await running.WriteInputAsync(Encoding.UTF8.GetBytes(typed.ToString()), cancellationToken).ConfigureAwait(false);
        await SettleAsync(job, cursor, TimeSpan.FromMilliseconds(wait_ms ?? 300), cancellationToken).ConfigureAwait(false);
        var result = Screen(job, mode ?? "screen", cursor) with { InputHidden = hidden ? true : null };
        call.Summary = new JsonObject { ["terminal_id"] = terminal_id, ["typed_chars"] = typed.Length, ["input_hidden"] = hidden };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_terminal_read", Title = "Read a terminal", Destructive = false, Idempotent = true, OpenWorld = false, ReadOnly = true, UseStructuredContent = true)]
    [Description("""
        mode "screen" (default): the rendered screen as text, with the cursor; "changes": the lines changed since the last read; "stream": output since `cursor` without escape sequences. Waits like session_job_output. Says whether the program waits for input.
        """)]
    public async Task<TerminalResult> ReadAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The terminal.")] string terminal_id,
        [Description("\"screen\", \"changes\" or \"stream\".")][AllowedValues("screen", "changes", "stream")] string? mode = null,
        [Description("For \"stream\": where to read from (next_cursor of the previous read; default 0).")] long? cursor = null,
        [Description("Wait up to this many ms for the program's exit or a condition below before reading.")] long? wait_ms = null,
        [Description("With wait_ms: stop when new output matches this regex.")] string? until = null,
        [Description("With wait_ms: stop once no output came for this many ms.")] long? quiet_ms = null,
        [Description("With wait_ms: stop once this many new bytes arrived.")] long? min_bytes = null,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var conditions = ToolArguments.Wait(wait_ms, until, quiet_ms, min_bytes, router.Options.MaxTimeoutMs);
        var job = Terminal(call.Caller, session_id, terminal_id);
        var from = cursor ?? 0;
        if (from < 0 || from > job.Journal.TotalBytes)
        {
            throw new SessionException($"cursor {from} is outside terminal {terminal_id}'s output (0-{job.Journal.TotalBytes}); pass the next_cursor of a previous read, or 0");
        }
        if (conditions is not null)
        {
            // Output the previous read did not show counts as new: an echo that came before this call ends the wait at once.
            await JobWait.WaitAsync(job.Journal, mode == "stream" ? from : job.Terminal!.SeenBytes, conditions, cancellationToken).ConfigureAwait(false);
        }
        var result = Screen(job, mode ?? "screen", from);
        call.Summary = new JsonObject { ["terminal_id"] = terminal_id, ["mode"] = mode ?? "screen", ["state"] = result.State };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_terminal_resize", Title = "Resize a terminal", Destructive = false, Idempotent = true, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Changes a terminal's size; the program is told (SIGWINCH) and redraws. Returns the screen.")]
    public async Task<TerminalResult> ResizeAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The terminal.")] string terminal_id,
        [Description("Columns.")] int cols,
        [Description("Rows.")] int rows,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var size = Size(cols, rows);
        var job = Terminal(call.Caller, session_id, terminal_id);
        if (job.Running is not { } running || job.Journal.Ended is not null)
        {
            throw new SessionException($"terminal {terminal_id} has ended; there is nothing to resize");
        }
        var cursor = job.Journal.TotalBytes;
        job.Terminal!.Resize(size.Columns, size.Rows);
        await running.ResizeAsync(size, cancellationToken).ConfigureAwait(false);
        await SettleAsync(job, cursor, TimeSpan.FromMilliseconds(300), cancellationToken).ConfigureAwait(false);
        var result = Screen(job, "screen");
        call.Summary = new JsonObject { ["terminal_id"] = terminal_id, ["cols"] = size.Columns, ["rows"] = size.Rows };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_terminal_close", Title = "Close a terminal", Destructive = true, Idempotent = true, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Ends a terminal: kills its program and everything it started. Returns the last screen; the recording stays (session-mcp terminal export).")]
    public async Task<TerminalResult> CloseAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("The terminal.")] string terminal_id,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var job = Terminal(call.Caller, session_id, terminal_id);
        await router.Jobs.KillAsync(job, cancellationToken).ConfigureAwait(false);
        var result = Screen(job, "screen");
        call.Summary = new JsonObject { ["terminal_id"] = terminal_id, ["state"] = result.State };
        return call.Complete(result);
    }

    private JobManager.Job Terminal(CallContext caller, string sessionId, string terminalId)
    {
        router.Get(caller, sessionId);
        var job = router.Jobs.Get(sessionId, terminalId);
        return job.Terminal is null
            ? throw new SessionException($"{terminalId} is a job, not a terminal; read it with session_job_output")
            : job;
    }

    /// <summary>Waits, at most <paramref name="most"/>, for the program to answer: output after <paramref name="cursor"/>, then 100 ms of quiet.</summary>
    private static Task SettleAsync(JobManager.Job job, long cursor, TimeSpan most, CancellationToken cancellationToken) =>
        JobWait.WaitAsync(job.Journal, cursor, new JobWaitConditions(most, Quiet: TimeSpan.FromMilliseconds(100)), cancellationToken);

    private static TerminalGeometry Size(int? cols, int? rows)
    {
        ToolArguments.RequireRange(cols, "cols", 10, TerminalScreen.MaxColumns);
        ToolArguments.RequireRange(rows, "rows", 2, TerminalScreen.MaxRows);
        return new TerminalGeometry(cols ?? DefaultColumns, rows ?? DefaultRows);
    }

    private TerminalResult Screen(JobManager.Job job, string mode, long cursor = 0)
    {
        // Taken before rendering: the screen shows at least this much of the output.
        job.Terminal!.SeenBytes = job.Journal.TotalBytes;
        var status = router.Jobs.StatusOf(job);
        return budget.Fit(budget.MaxChars, allowance =>
        {
            var result = TerminalResult.Of(status);
            switch (mode)
            {
                case "changes":
                    var changes = job.Terminal!.Changes();
                    return result with
                    {
                        Changed = changes.Lines.Select(l => new TerminalLine(l.Row, Cut(l.Text, allowance / Math.Max(1, changes.Lines.Count)))).ToList(),
                        CursorRow = changes.CursorRow,
                        CursorCol = changes.CursorColumn,
                        Title = changes.Title.Length == 0 ? null : changes.Title,
                    };
                case "stream":
                    var read = job.Journal.Read(cursor, allowance);
                    var stripper = new EscapeStripper();
                    var (raw, next) = JobText.Interleaved(read);
                    var text = stripper.Feed(Encoding.UTF8.GetBytes(raw)) + stripper.Flush();
                    return result with { Output = text, Cursor = cursor, NextCursor = next, HasMore = next < read.TotalBytes };
                default:
                    var screen = job.Terminal!.Render();
                    return result with
                    {
                        Screen = Cut(screen.Text, allowance),
                        CursorRow = screen.CursorRow,
                        CursorCol = screen.CursorColumn,
                        Title = screen.Title.Length == 0 ? null : screen.Title,
                        Cols = screen.Columns,
                        Rows = screen.Rows,
                    };
            }
        }, minimum: 200);
    }

    private static string Cut(string text, int chars) => text.Length <= chars ? text : text[..Math.Max(0, chars)];
}

/// <summary>One changed row of a terminal's screen.</summary>
internal sealed record TerminalLine(int Row, string Text);

/// <summary>A terminal's state and, by mode, its screen, its changed lines or its output stream.</summary>
internal sealed record TerminalResult(
    string TerminalId,
    string State,
    long EventSeq,
    string? Screen = null,
    List<TerminalLine>? Changed = null,
    string? Output = null,
    long? Cursor = null,
    long? NextCursor = null,
    bool? HasMore = null,
    int? CursorRow = null,
    int? CursorCol = null,
    int? Cols = null,
    int? Rows = null,
    string? Title = null,
    bool? WaitingForInput = null,
    int? ExitCode = null,
    bool? InputHidden = null) : IToolResult
{
    public static TerminalResult Of(JobStatus status) =>
        new(status.Info.JobId, status.State, 0, WaitingForInput: status.WaitingForInput, ExitCode: status.Ended?.Outcome.ExitCode);

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = new StringBuilder($"terminal {TerminalId} {JobResult.Describe(State, ExitCode, null, WaitingForInput)}");
        if (CursorRow is { } row)
        {
            text.Append(CultureInfo.InvariantCulture, $", cursor row {row} col {CursorCol}");
        }
        if (InputHidden == true)
        {
            text.Append(", input not recorded (echo was off)");
        }
        text.Append(CultureInfo.InvariantCulture, $", event_seq {EventSeq}\n");
        if (Screen is not null)
        {
            text.Append(Screen).Append('\n');
        }
        foreach (var line in Changed ?? [])
        {
            text.Append(CultureInfo.InvariantCulture, $"{line.Row,3}| {line.Text}\n");
        }
        if (Output is not null)
        {
            text.Append(Output);
        }
        return text.ToString();
    }
}
