using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SessionMcp.Containers.Local.Native;
using SessionMcp.McpServer.Daemon;
using SessionMcp.McpServer.Hosting;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// <c>session-mcp attach SESSION [TERMINAL]</c>: a person's terminal attached to a session's terminal through the
/// daemon, as a second MCP client of it: the current screen first, then the terminal's raw output as it comes
/// (session_job_output waits on the server), keys forwarded only with <c>--write</c> (raw mode, resize followed), Ctrl-]
/// detaches. Several people can attach at once; the agent keeps working meanwhile.
/// </summary>
internal static class AttachCommand
{
    /// <summary>Ctrl-]: what telnet and docker attach use; never sent to the terminal.</summary>
    public const byte DetachKey = 0x1d;

    public static async Task<int> RunAsync(ServerSettings settings, IReadOnlyList<string> arguments, bool write, TextWriter stderr, CancellationToken cancellationToken)
    {
        await using var connection = await DaemonClient.ConnectAsync(settings, "attach", stderr, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            return 1;
        }
        var client = connection.Client;

        var sessionId = arguments[0];
        var terminalId = arguments.Count > 1 ? arguments[1] : await OnlyTerminalAsync(client, sessionId, cancellationToken).ConfigureAwait(false);
        if (terminalId is null)
        {
            await stderr.WriteLineAsync($"session-mcp: session {sessionId} has no running terminal to attach to; name one: session-mcp attach {sessionId} TERMINAL (see session_jobs)").ConfigureAwait(false);
            return 1;
        }

        using var stdout = Console.OpenStandardOutput();
        var screen = await CallAsync(client, "session_terminal_read", new() { ["session_id"] = sessionId, ["terminal_id"] = terminalId }, cancellationToken).ConfigureAwait(false);
        var cursor = (await CallAsync(client, "session_job_output", new() { ["session_id"] = sessionId, ["job_id"] = terminalId, ["max_chars"] = 1 }, cancellationToken).ConfigureAwait(false)).GetProperty("total_bytes").GetInt64();
        await WriteAsync(stdout, $"\u001b[2J\u001b[H{screen.GetProperty("screen").GetString()!.Replace("\n", "\r\n", StringComparison.Ordinal)}\u001b[{screen.GetProperty("cursor_row").GetInt32() + 1};{screen.GetProperty("cursor_col").GetInt32() + 1}H", cancellationToken).ConfigureAwait(false);
        await stderr.WriteLineAsync(write ? "[attached: typing goes to the terminal; Ctrl-] detaches]" : "[attached read-only (--write to type); Ctrl-] detaches]").ConfigureAwait(false);

        using var detached = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var raw = write ? RawMode.Enter() : null;
        using var resize = write && raw is not null
            ? PosixSignalRegistration.Create(PosixSignal.SIGWINCH, signal => { _ = ResizeAsync(client, sessionId, terminalId, detached.Token); })
            : null;
        var input = PumpInputAsync(client, sessionId, terminalId, write, detached, stderr);
        try
        {
            while (!detached.IsCancellationRequested)
            {
                var output = await CallAsync(client, "session_job_output", new()
                {
                    ["session_id"] = sessionId, ["job_id"] = terminalId, ["cursor"] = cursor, ["wait_ms"] = 30_000, ["min_bytes"] = 1,
                }, detached.Token).ConfigureAwait(false);
                await WriteAsync(stdout, output.GetProperty("output").GetString()!, detached.Token).ConfigureAwait(false);
                cursor = output.GetProperty("next_cursor").GetInt64();
                if (output.GetProperty("state").GetString() != "running" && !output.GetProperty("has_more").GetBoolean())
                {
                    await stderr.WriteLineAsync($"\r\n[terminal {terminalId} {output.GetProperty("state").GetString()}]").ConfigureAwait(false);
                    return 0;
                }
            }
        }
        catch (OperationCanceledException) when (detached.IsCancellationRequested)
        {
        }
        await input.ConfigureAwait(false);
        await stderr.WriteLineAsync("\r\n[detached]").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Reads the person's keys; forwards them with --write; Ctrl-] (or the end of input) detaches.</summary>
    private static async Task PumpInputAsync(McpClient client, string sessionId, string terminalId, bool write, CancellationTokenSource detached, TextWriter stderr)
    {
        await Task.Yield();
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[4096];
        var warned = false;
        try
        {
            while (!detached.IsCancellationRequested)
            {
                var read = await stdin.ReadAsync(buffer, detached.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                var detachAt = Array.IndexOf(buffer, DetachKey, 0, read);
                var keys = detachAt < 0 ? read : detachAt;
                if (keys > 0 && write)
                {
                    await CallAsync(client, "session_terminal_send", new()
                    {
                        ["session_id"] = sessionId, ["terminal_id"] = terminalId, ["text"] = Encoding.UTF8.GetString(buffer, 0, keys), ["wait_ms"] = 0,
                    }, detached.Token).ConfigureAwait(false);
                }
                else if (keys > 0 && !warned)
                {
                    warned = true;
                    await stderr.WriteLineAsync("\r\n[read-only: keys are not sent; attach with --write to type]").ConfigureAwait(false);
                }
                if (detachAt >= 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        await detached.CancelAsync().ConfigureAwait(false);
    }

    private static async Task ResizeAsync(McpClient client, string sessionId, string terminalId, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(client, "session_terminal_resize", new()
            {
                ["session_id"] = sessionId, ["terminal_id"] = terminalId, ["cols"] = Console.WindowWidth, ["rows"] = Console.WindowHeight,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // A resize that does not arrive leaves the old size: nothing to repair.
        }
    }

    /// <summary>The session's one running terminal, when it has exactly one.</summary>
    private static async Task<string?> OnlyTerminalAsync(McpClient client, string sessionId, CancellationToken cancellationToken)
    {
        var jobs = await CallAsync(client, "session_jobs", new() { ["session_id"] = sessionId }, cancellationToken).ConfigureAwait(false);
        var terminals = jobs.GetProperty("jobs").EnumerateArray()
            .Where(j => j.GetProperty("kind").GetString() == "terminal" && j.GetProperty("state").GetString() == "running")
            .Select(j => j.GetProperty("job_id").GetString()!)
            .ToList();
        return terminals.Count == 1 ? terminals[0] : null;
    }

    private static Task<JsonElement> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments, CancellationToken cancellationToken) =>
        DaemonClient.CallAsync(client, tool, arguments, cancellationToken);

    private static async Task WriteAsync(Stream stdout, string text, CancellationToken cancellationToken)
    {
        await stdout.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The person's terminal in raw mode (keys as typed, no local echo) while attached; restored on dispose.</summary>
    private sealed class RawMode : IDisposable
    {
        private readonly Termios _saved;

        private RawMode(Termios saved) => _saved = saved;

        /// <summary>Null when stdin is not a terminal (a pipe in a test or a script): nothing to switch.</summary>
        public static unsafe RawMode? Enter()
        {
            Termios saved;
            if (LibC.tcgetattr(0, &saved) != 0)
            {
                return null;
            }
            var raw = saved;
            LibC.cfmakeraw(&raw);
            LibC.tcsetattr(0, 0, &raw);
            return new RawMode(saved);
        }

        public unsafe void Dispose()
        {
            var saved = _saved;
            LibC.tcsetattr(0, 0, &saved);
        }
    }
}
