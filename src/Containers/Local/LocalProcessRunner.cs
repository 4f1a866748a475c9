using System.Buffers;
using System.Diagnostics;
using System.Text;
using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Local;

/// <summary>What to run: <paramref name="File"/> with <paramref name="Arguments"/> (argv[1..]; argv[0] is
/// <paramref name="File"/>), exactly <paramref name="Environment"/>, in <paramref name="WorkingDirectory"/>.
/// <paramref name="Stdin"/> null means stdin is /dev/null. <paramref name="Timeout"/> may be
/// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>.</summary>
internal sealed record ProcessRunSpec(
    string File,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Environment,
    string WorkingDirectory,
    string? Stdin,
    TimeSpan Timeout);

/// <summary>How a run ended. <paramref name="ExitCode"/> is 128 + N when killed by signal N (137 after a timeout).</summary>
internal sealed record ProcessRunResult(int ExitCode, bool TimedOut, TimeSpan Duration);

/// <summary>
/// Runs a local command in its own process session and captures its output.
/// </summary>
internal static class LocalProcessRunner
{
    private const int ReadBufferBytes = 64 * 1024;
    private const int GuaranteedPipeCapacity = 4096;

    // After the main process exits, output still in the pipes is read within microseconds; waiting longer only
    // helps when a background process keeps writing, which we do not wait for.
    private static readonly TimeSpan DrainAfterExit = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Runs <paramref name="spec"/>, streaming stdout and stderr into the captures, and returns when the main
    /// process has exited. On timeout the whole process session is killed with SIGKILL and the run returns with
    /// TimedOut = true. When <paramref name="cancellationToken"/> fires the session is killed the same way and
    /// <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    /// <remarks>
    /// Background processes started by the command (<c>sleep 100 &amp;</c>) are left running when the main process
    /// exits normally, as a terminal would leave them; their pipes are drained into the void until they close so
    /// they never get SIGPIPE. Managing them as jobs is a separate feature.
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
        var stdoutPump = new OutputPump(process.Stdout, stdout);
        var stderrPump = new OutputPump(process.Stderr, stderr);
        if (process.Stdin is { } stdin)
        {
            WriteStdin(stdin, spec.Stdin!);
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
            process.KillSession();
            exitCode = await exit.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            process.KillSession();
            await exit.ConfigureAwait(false);
            await DrainAsync(stdoutPump, stderrPump).ConfigureAwait(false);
            throw;
        }

        await DrainAsync(stdoutPump, stderrPump).ConfigureAwait(false);
        return new ProcessRunResult(exitCode, timedOut, stopwatch.Elapsed);
    }

    private static async Task DrainAsync(OutputPump stdoutPump, OutputPump stderrPump)
    {
        try
        {
            await Task.WhenAll(stdoutPump.Completion, stderrPump.Completion).WaitAsync(DrainAfterExit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Something still holds a pipe open (a background process): stop capturing, keep draining into the void.
            stdoutPump.Detach();
            stderrPump.Detach();
        }
    }

    private static void WriteStdin(Stream stdin, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);

        // An empty pipe always takes PIPE_BUF (4 KiB) without blocking (64 KiB usually, but the kernel shrinks new
        // pipes to one page when the user has too many). Larger input is written on its own thread so a child that
        // reads slowly (or never) cannot stall the run before its timeout is armed; the kill ends a blocked write.
        if (bytes.Length <= GuaranteedPipeCapacity)
        {
            WriteAndClose(stdin, bytes);
        }
        else
        {
            _ = Task.Factory.StartNew(() => WriteAndClose(stdin, bytes), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private static void WriteAndClose(Stream stdin, byte[] bytes)
    {
        try
        {
            stdin.Write(bytes);
        }
        catch (IOException)
        {
            // EPIPE: the child exited or closed stdin without reading it all, which is its right.
        }
        finally
        {
            try
            {
                stdin.Dispose();
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Copies one pipe into a capture on a dedicated thread (blocking reads must not hold pool threads).</summary>
    private sealed class OutputPump
    {
        private readonly Stream _stream;
        private readonly OutputCapture _capture;
        private volatile bool _detached;

        public OutputPump(Stream stream, OutputCapture capture)
        {
            _stream = stream;
            _capture = capture;
            Completion = Task.Factory.StartNew(Pump, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public Task Completion { get; }

        /// <summary>From now on, discard what is read instead of capturing it.</summary>
        public void Detach() => _detached = true;

        private void Pump()
        {
            var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
            try
            {
                int read;
                while ((read = _stream.Read(buffer, 0, ReadBufferBytes)) > 0)
                {
                    if (!_detached)
                    {
                        _capture.Append(buffer.AsSpan(0, read));
                    }
                }
            }
            catch (IOException)
            {
                // A read error ends this stream's capture; the exit status still tells what happened.
            }
            finally
            {
                _stream.Dispose();
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
