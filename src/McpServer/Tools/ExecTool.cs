using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.McpServer.Tools;

/// <summary>Running commands in a session.</summary>
[McpServerToolType]
internal sealed class ExecTool(SessionRouter router)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    [McpServerTool(Name = "session_exec", Title = "Run a shell command in a session", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("""
        Runs a shell command (POSIX sh syntax; pipes, &&, redirections work) in the session. Like a terminal, `cd` and `export` persist to the next call; plain shell variables and functions do not. stdin is closed unless `stdin` is given, so interactive programs get EOF instead of hanging. On timeout the command's whole process tree is killed, the output so far is returned with timed_out: true, and the session stays usable. Long outputs are cut in the middle in this result (truncated: true); the full output is kept and can be read with session_replay include_output: "full".
        """)]
    public async Task<ExecResult> ExecAsync(
        [Description("The session to run in.")] string session_id,
        [Description("The command line, e.g. \"cd src && make test 2>&1 | tail -50\".")] string command,
        [Description("Kill the command after this many milliseconds (default 120000, max 600000).")] int? timeout_ms = null,
        [Description("Run this one command in another directory (relative to the session's cwd or absolute inside the workspace); the session's cwd changes only if the command itself cd's.")] string? cwd = null,
        [Description("Environment variables for this one command only; they are not persisted.")] Dictionary<string, string>? env = null,
        [Description("Text fed to the command's standard input.")] string? stdin = null,
        [Description("Why you are running this (kept in the audit log).")] string? description = null,
        CancellationToken cancellationToken = default)
    {
        ToolArguments.RequireText(command, "command");
        var options = router.Options;
        ToolArguments.RequireRange(timeout_ms, "timeout_ms", 1, options.MaxTimeoutMs);
        var timeout = TimeSpan.FromMilliseconds(timeout_ms ?? options.DefaultTimeoutMs);
        var stdout = new OutputCapture(options.CaptureBytes);
        var stderr = new OutputCapture(options.CaptureBytes);
        var call = CallAudit.Current;

        var started = Stopwatch.GetTimestamp();
        var running = router.ExecAsync(session_id, new ExecCommand(command, cwd, ToolArguments.Env(env), stdin, timeout, stdout, stderr), cancellationToken);
        if (call?.ProgressToken is not null)
        {
            using var ticks = new PeriodicTimer(ProgressInterval);
            while (!running.IsCompleted && await Task.WhenAny(running, ticks.WaitForNextTickAsync(cancellationToken).AsTask()).ConfigureAwait(false) != running)
            {
                var elapsed = Stopwatch.GetElapsedTime(started);
                var latest = stderr.LatestLine is { } err && stdout.LatestLine is null ? err : stdout.LatestLine;
                await call.ReportProgressAsync(Math.Floor(elapsed.TotalSeconds), $"running {elapsed.TotalSeconds:0}s" + (latest is null ? "" : $": {latest}"), cancellationToken).ConfigureAwait(false);
            }
        }
        var (session, outcome) = await running.ConfigureAwait(false);

        var fullStdout = stdout.GetText();
        var fullStderr = stderr.GetText();
        var inlineStdout = OutputTruncation.Truncate(fullStdout, options.InlineOutputChars);
        var inlineStderr = OutputTruncation.Truncate(fullStderr, options.InlineOutputChars);
        var durationMs = (long)outcome.Duration.TotalMilliseconds;
        var truncated = inlineStdout.Truncated || inlineStderr.Truncated;

        if (call is not null)
        {
            call.Summary = new JsonObject
            {
                ["exit_code"] = outcome.ExitCode,
                ["timed_out"] = outcome.TimedOut,
                ["truncated"] = truncated,
                ["stdout_bytes"] = stdout.TotalBytes,
                ["stderr_bytes"] = stderr.TotalBytes,
                ["cwd"] = session.Cwd,
                ["duration_ms"] = durationMs,
                ["note"] = outcome.Note,
            };
            call.Output = new JsonObject { ["stdout"] = fullStdout, ["stderr"] = fullStderr };
        }
        return new ExecResult(outcome.ExitCode, inlineStdout.Text, inlineStderr.Text, session.Cwd, durationMs, outcome.TimedOut, truncated, outcome.Note, 0);
    }
}

/// <summary>The result of session_exec.</summary>
internal sealed record ExecResult(
    int ExitCode,
    string Stdout,
    string Stderr,
    string Cwd,
    long DurationMs,
    bool TimedOut,
    bool Truncated,
    string? Note,
    long EventSeq);
