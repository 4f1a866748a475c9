using System.Buffers;
using System.Diagnostics;
using System.Text;
using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Local;

/// <summary>What to run: <paramref name="File"/> with <paramref name="Arguments"/> (argv[1..]; argv[0] is
/// <paramref name="File"/>), exactly <paramref name="Environment"/>, in <paramref name="WorkingDirectory"/>.
/// <paramref name="Stdin"/> null means stdin is /dev/null. <paramref name="Timeout"/> may be
/// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>. <paramref name="Processes"/>, when given, is told the pid and
/// kills all the command's processes on timeout or cancel, besides its process session.</summary>
internal sealed record ProcessRunSpec(
    string File,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory,
    string? Stdin,
    TimeSpan Timeout,
    CommandProcesses? Processes = null);

/// <summary>Where a pump puts what it read from a pipe (a capture, a job's journal).</summary>
internal delegate void OutputSink(ReadOnlySpan<byte> bytes);

/// <summary>How a run ended. <paramref name="ExitCode"/> is 128 + N when killed by signal N (137 after a timeout).</summary>
internal sealed record ProcessRunResult(int ExitCode, bool TimedOut, TimeSpan Duration);

/// <summary>
/// Runs a local command in its own process session and captures its output. A run costs no thread of its own: the pipes
/// are read and written asynchronously and the exit arrives with SIGCHLD (see <see cref="SpawnedProcess"/>).
/// </summary>
internal static class LocalProcessRunner
{
    private const int ReadBufferBytes = 64 * 1024;

    // After the main process exits, the pipes normally reach end of file within microseconds. When they have not after
    // this long, a background process holds them open; its later output is not waited for.
    private static readonly TimeSpan DrainAfterExit = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Runs <paramref name="spec"/>, streaming stdout and stderr into the captures, and returns when the main
    /// process has exited. On timeout the whole process session is killed with SIGKILL and the run returns with
    /// TimedOut = true. When <paramref name="cancellationToken"/> fires the session is killed the same way and
    /// <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    /// <remarks>
    /// Background processes started by the command (<c>sleep 100 &amp;</c>) are left running when the main process
    /// exits normally, as a terminal would leave them; their pipes are drained into the void (asynchronously) until
    /// they close so they never get SIGPIPE. Managing them as jobs is a separate feature.
    /// </remarks>
    /// <exception cref="ProcessSpawnException">The process could not be started.</exception>
    public static async Task<ProcessRunResult> RunAsync(
        ProcessRunSpec spec,
        OutputCapture stdout,
        OutputCapture stderr,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (spec.Timeout <= TimeSpan.Zero && spec.Timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Timeout, "Timeout must be positive or infinite.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var stopwatch = Stopwatch.StartNew();
        var argv = new string[spec.Arguments.Count + 1];
        argv[0] = spec.File;
        for (var i = 0; i < spec.Arguments.Count; i++)
        {
            argv[i + 1] = spec.Arguments[i];
        }

        var process = SpawnedProcess.Start(spec.File, argv, spec.Environment, spec.WorkingDirectory, withStdin: spec.Stdin is not null);
        spec.Processes?.Started(process.Pid);
        var stdoutPump = new OutputPump(process.Stdout, stdout.Append);
        var stderrPump = new OutputPump(process.Stderr, stderr.Append);
        if (process.Stdin is { } stdin)
        {
            // Not awaited: a child that reads slowly (or never) must not stall the run before its timeout is armed;
            // the write ends when all is written, or with EPIPE when the readers are gone (exited or killed).
            _ = WriteAndCloseAsync(stdin, Encoding.UTF8.GetBytes(spec.Stdin!), CancellationToken.None);
        }

        var exit = process.WaitForExitAsync(CancellationToken.None);
        var timedOut = false;
        int exitCode;
        try
        {
            exitCode = await exit.WaitAsync(spec.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            timedOut = true;
            await KillAllAsync(spec, process).ConfigureAwait(false);
            exitCode = await exit.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await KillAllAsync(spec, process).ConfigureAwait(false);
            await exit.ConfigureAwait(false);
            await DrainAsync(stdoutPump, stderrPump).ConfigureAwait(false);
            throw;
        }

        await DrainAsync(stdoutPump, stderrPump).ConfigureAwait(false);
        return new ProcessRunResult(exitCode, timedOut, stopwatch.Elapsed);
    }

    /// <summary>
    /// The command's processes first (a cgroup, or the sweep that needs the shell alive to read its tree), then its
    /// process session, which also reaches a shell that had not yet entered its cgroup.
    /// </summary>
    private static async Task KillAllAsync(ProcessRunSpec spec, SpawnedProcess process)
    {
        if (spec.Processes is { } processes)
        {
            await processes.KillAllAsync(CancellationToken.None).ConfigureAwait(false);
        }
        process.KillSession();
    }

    internal static async Task DrainAsync(OutputPump stdoutPump, OutputPump stderrPump)
    {
        try
        {
            await Task.WhenAll(stdoutPump.Completion, stderrPump.Completion).WaitAsync(DrainAfterExit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Something still holds a pipe open (a background process): take what is in the pipes now, which includes
            // everything the main process wrote, then keep draining into the void.
            await Task.WhenAll(stdoutPump.CatchUpAndDetachAsync(), stderrPump.CatchUpAndDetachAsync()).ConfigureAwait(false);
        }
    }

    private static async Task WriteAndCloseAsync(PipeEnd stdin, byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            await stdin.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // EPIPE: the child exited or closed stdin without reading it all, which is its right.
        }
        finally
        {
            stdin.Dispose();
        }
    }

    /// <summary>
    /// Copies one pipe into a capture, reading asynchronously until end of file, or until asked to catch up: then it
    /// captures what the pipe holds at that moment and discards whatever comes later.
    /// </summary>
    /// <remarks>
    /// Catching up does not rely on timing: the reads run on the thread pool, and when the pool is busy a read's
    /// completion can lag the exit by more than any grace period. The pending read is cancelled instead (a cancelled
    /// read has consumed nothing) and the pipe's content read directly.
    /// </remarks>
    internal sealed class OutputPump
    {
        private readonly PipeEnd _pipe;
        private readonly OutputSink _capture;
        private readonly Func<int, ValueTask>? _pace;
        private readonly CancellationTokenSource _catchUp = new(); // no timer: needs no disposal, and may be cancelled late
        private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <param name="pace">Awaited after each read: a job's output intake is paced (a foreground capture is not).</param>
        public OutputPump(PipeEnd pipe, OutputSink capture, Func<int, ValueTask>? pace = null)
        {
            _pipe = pipe;
            _capture = capture;
            _pace = pace;
            Completion = PumpAsync(_catchUp.Token);
        }

        /// <summary>Completes at end of file.</summary>
        public Task Completion { get; }

        /// <summary>Captures what the pipe holds now, then discards the rest; completes when that is captured.</summary>
        public Task CatchUpAndDetachAsync()
        {
            _catchUp.Cancel();
            return _caughtUp.Task;
        }

        /// <param name="catchUp">Signalled to stop waiting for end of file; draining goes on afterwards.</param>
        private async Task PumpAsync(CancellationToken catchUp)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
            try
            {
                if (!await CaptureUntilEndOrCatchUpAsync(buffer, catchUp).ConfigureAwait(false) || !CaptureWhatIsThere(buffer))
                {
                    return; // end of file
                }

                _caughtUp.TrySetResult();
                while (await _pipe.ReadAsync(buffer.AsMemory(0, ReadBufferBytes), CancellationToken.None).ConfigureAwait(false) > 0)
                {
                    // Discarded: a background process's output after the run, drained so that it never gets SIGPIPE.
                }
            }
            catch (IOException)
            {
                // A read error ends this stream's capture; the exit status still tells what happened.
            }
            finally
            {
                _caughtUp.TrySetResult();
                _pipe.Dispose();
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        /// <summary>False at end of file, true when asked to catch up.</summary>
        private async Task<bool> CaptureUntilEndOrCatchUpAsync(byte[] buffer, CancellationToken catchUp)
        {
            try
            {
                int read;
                while ((read = await _pipe.ReadAsync(buffer.AsMemory(0, ReadBufferBytes), catchUp).ConfigureAwait(false)) > 0)
                {
                    _capture(buffer.AsSpan(0, read));
                    if (_pace is not null)
                    {
                        await _pace(read).ConfigureAwait(false);
                    }
                }

                return false;
            }
            catch (OperationCanceledException) when (catchUp.IsCancellationRequested)
            {
                return true;
            }
        }

        /// <summary>Captures what the pipe holds without waiting; false at end of file.</summary>
        private bool CaptureWhatIsThere(byte[] buffer)
        {
            while (_pipe.TryRead(buffer.AsSpan(0, ReadBufferBytes), out var read))
            {
                if (read == 0)
                {
                    return false;
                }

                _capture(buffer.AsSpan(0, read));
            }

            return true;
        }
    }
}
