using System.Buffers;
using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.Containers.Local;

/// <summary>
/// A local terminal job: a program on a real pseudo-terminal (<see cref="PtyProcess"/>), its output read from the master
/// into the job's sink until no process holds the terminal, its input typed into the master (so the terminal's line
/// discipline turns Ctrl-C into SIGINT and echoes), contained like any command (its cgroup, or its process session).
/// </summary>
internal sealed class LocalTerminal : IRunningJob
{
    private const int ReadBufferBytes = 16 * 1024;

    private readonly PtyProcess _pty;
    private readonly Action _cleanUp;
    private readonly SemaphoreSlim _inputLock = new(1, 1);

    private LocalTerminal(PtyProcess pty, IJobSink sink, Action cleanUp)
    {
        _pty = pty;
        _cleanUp = cleanUp;
        Completion = RunAsync(sink);
    }

    public Task<JobExit> Completion { get; }

    public static LocalTerminal Start(ProcessRunSpec spec, TerminalGeometry size, IJobSink sink, Action cleanUp)
    {
        var argv = new List<string> { spec.File };
        argv.AddRange(spec.Arguments);
        var pty = PtyProcess.Start(spec.File, argv, spec.Environment, spec.WorkingDirectory, new TerminalSize(size.Columns, size.Rows), spec.Processes);
        return new LocalTerminal(pty, sink, cleanUp);
    }

    public async ValueTask<bool> WriteInputAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _inputLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Completion.IsCompleted)
            {
                return false;
            }
            await _pty.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        finally
        {
            _inputLock.Release();
        }
    }

    /// <summary>A terminal has no stdin of its own to close: end of input is Ctrl-D, typed.</summary>
    public async ValueTask CloseInputAsync(CancellationToken cancellationToken) =>
        await WriteInputAsync(new byte[] { 4 }, cancellationToken).ConfigureAwait(false);

    public async Task SignalAsync(JobSignal signal, CancellationToken cancellationToken) =>
        await WriteInputAsync(new[] { JobKeys.ControlKeyOf(signal) }, cancellationToken).ConfigureAwait(false);

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        await _pty.KillAsync(cancellationToken).ConfigureAwait(false);
        await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public bool? IsWaitingForInput() => Completion.IsCompleted ? false : _pty.GetInputWait().Waiting;

    public bool? IsAskingForSecret()
    {
        try
        {
            var modes = _pty.Modes;
            return !modes.Echo && modes.Canonical;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public Task ResizeAsync(TerminalGeometry size, CancellationToken cancellationToken)
    {
        try
        {
            _pty.Resize(new TerminalSize(size.Columns, size.Rows));
        }
        catch (IOException)
        {
            // The terminal is gone: the job's end says so.
        }
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        if (!Completion.IsCompleted)
        {
            await KillAsync(CancellationToken.None).ConfigureAwait(false);
        }
        await _pty.DisposeAsync().ConfigureAwait(false);
        _inputLock.Dispose();
    }

    private async Task<JobExit> RunAsync(IJobSink sink)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
        try
        {
            // Until no process holds the terminal (EIO): output of the last moments of a program that just exited included.
            int read;
            while ((read = await _pty.ReadAsync(buffer.AsMemory(0, ReadBufferBytes), CancellationToken.None).ConfigureAwait(false)) > 0)
            {
                sink.Append(JobStream.Stdout, buffer.AsSpan(0, read));
                await sink.PaceAsync(read, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        try
        {
            var exitCode = await _pty.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            return new JobExit(JobOutcome.FromExitCode(exitCode));
        }
        finally
        {
            _cleanUp();
        }
    }
}
