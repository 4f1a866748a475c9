using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.Containers.Local;

/// <summary>
/// A local job: the session's shell wrapper running one command with its stdin kept open, its stdout and stderr pumped
/// into the job's sink as they arrive (no thread of its own), contained like a foreground command (its cgroup, or the
/// process session plus a sweep).
/// </summary>
internal sealed class LocalJob : IRunningJob
{
    private readonly SpawnedProcess _process;
    private readonly CommandProcesses _processes;
    private readonly Func<(string Cwd, Dictionary<string, string> Env)?> _readState;
    private readonly Action _cleanUp;
    private readonly SemaphoreSlim _stdinLock = new(1, 1);
    private PipeEnd? _stdin;

    private LocalJob(SpawnedProcess process, CommandProcesses processes, IJobSink sink, Func<(string Cwd, Dictionary<string, string> Env)?> readState, Action cleanUp)
    {
        _process = process;
        _processes = processes;
        _readState = readState;
        _cleanUp = cleanUp;
        _stdin = process.Stdin;
        InputLink = process.Stdin?.FileLink;
        var stdout = new LocalProcessRunner.OutputPump(process.Stdout, bytes => sink.Append(JobStream.Stdout, bytes), read => sink.PaceAsync(read, CancellationToken.None));
        var stderr = new LocalProcessRunner.OutputPump(process.Stderr, bytes => sink.Append(JobStream.Stderr, bytes), read => sink.PaceAsync(read, CancellationToken.None));
        Completion = CompleteAsync(stdout, stderr);
    }

    public Task<JobExit> Completion { get; }

    private string? InputLink { get; }

    public static LocalJob Start(ProcessRunSpec spec, IJobSink sink, Func<(string Cwd, Dictionary<string, string> Env)?> readState, Action cleanUp)
    {
        var argv = new string[spec.Arguments.Count + 1];
        argv[0] = spec.File;
        for (var i = 0; i < spec.Arguments.Count; i++)
        {
            argv[i + 1] = spec.Arguments[i];
        }
        var process = SpawnedProcess.Start(spec.File, argv, spec.Environment, spec.WorkingDirectory, withStdin: true);
        spec.Processes!.Started(process.Pid);
        return new LocalJob(process, spec.Processes, sink, readState, cleanUp);
    }

    public async ValueTask<bool> WriteInputAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stdin is null)
            {
                return false;
            }
            await _stdin.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (IOException)
        {
            // EPIPE: nothing reads the job's stdin any more.
            CloseStdin();
            return false;
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    public async ValueTask CloseInputAsync(CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CloseStdin();
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    public Task SignalAsync(JobSignal signal, CancellationToken cancellationToken)
    {
        _process.SignalProcessGroup((int)signal);
        return Task.CompletedTask;
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        await _processes.KillAllAsync(cancellationToken).ConfigureAwait(false);
        _process.KillSession();
        await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public bool? IsWaitingForInput()
    {
        if (InputLink is not { } link || _stdin is null || Completion.IsCompleted)
        {
            return _stdin is null ? false : null;
        }
        // The job's cgroup lists its processes at once; only without one is the whole process table read.
        var pids = _processes.Members() ?? ProcessTable.Descendants(ProcessTable.Read(), _process.Pid).Prepend(_process.Pid).ToList();
        return InputWaitProbe.ForProcesses(pids, link).Waiting;
    }

    public async ValueTask DisposeAsync()
    {
        if (!Completion.IsCompleted)
        {
            await KillAsync(CancellationToken.None).ConfigureAwait(false);
        }
        CloseStdin();
        _stdinLock.Dispose();
    }

    private async Task<JobExit> CompleteAsync(LocalProcessRunner.OutputPump stdout, LocalProcessRunner.OutputPump stderr)
    {
        try
        {
            var exitCode = await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            // Everything the job's main process wrote is in the pipes now; a background process that keeps them open
            // does not hold the job's end (its later output is drained, not kept), as for a foreground command.
            await LocalProcessRunner.DrainAsync(stdout, stderr).ConfigureAwait(false);
            var outcome = JobOutcome.FromExitCode(exitCode);
            return new JobExit(outcome, _readState());
        }
        finally
        {
            CloseStdin();
            _process.Dispose();
            _cleanUp();
        }
    }

    private void CloseStdin()
    {
        Interlocked.Exchange(ref _stdin, null)?.Dispose();
    }
}
