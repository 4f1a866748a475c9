using Docker.DotNet.Models;
using System.Globalization;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Containers.Local;
using SessionMcp.Containers.Local.Native;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// A docker job: one attached exec of the session's shell wrapper, its output frames pumped into the job's sink as the
/// engine delivers them, its stdin the exec's. The exit code comes from the engine, not from anything in the container.
/// Signals and the kill go through the session's helper (by the job's process tree, its marker, and what started after
/// it outside the helper), so they reach what a job left behind too.
/// </summary>
internal sealed class DockerJob : IRunningJob
{
    private readonly DockerEngineClient _engine;
    private readonly DockerAttachedStream _stream;
    private readonly string _execId;
    private readonly Func<DockerJob, JobSignal?, Task> _signal;
    private readonly Func<Task<(string Cwd, Dictionary<string, string> Env)?>> _readState;
    private readonly SemaphoreSlim _stdinLock = new(1, 1);
    private bool _stdinOpen = true;
    private readonly bool _terminal;

    private DockerJob(DockerEngineClient engine, DockerAttachedStream stream, string execId, IJobSink sink, Func<DockerJob, JobSignal?, Task> signal, Func<Task<(string Cwd, Dictionary<string, string> Env)?>> readState, bool terminal)
    {
        _terminal = terminal;
        _engine = engine;
        _stream = stream;
        _execId = execId;
        _signal = signal;
        _readState = readState;
        Completion = PumpAsync(sink);
    }

    public Task<JobExit> Completion { get; }

    /// <summary>The job's shell in the container's PID namespace (0 when the engine's host is not this one).</summary>
    public int ContainerPid { get; private set; }

    /// <summary>The job's shell as this host sees it (0 when unknown).</summary>
    public int HostPid { get; private set; }

    /// <summary>When the job's shell started, in clock ticks since boot (what the helper's sweep compares).</summary>
    public long? StartTick { get; private set; }

    public static async Task<DockerJob> StartAsync(
        DockerEngineClient engine, string containerId, IReadOnlyList<string> cmd, IJobSink sink,
        Func<DockerJob, JobSignal?, Task> signal, Func<Task<(string Cwd, Dictionary<string, string> Env)?>> readState, CancellationToken cancellationToken, TerminalGeometry? terminal = null)
    {
        var execId = await engine.CreateExecAsync(containerId, new ContainerExecCreateParameters { Cmd = [.. cmd], AttachStdin = true, AttachStdout = true, AttachStderr = true, TTY = terminal is not null }, cancellationToken).ConfigureAwait(false);
        var stream = await engine.StartExecAttachedAsync(execId, cancellationToken, tty: terminal is not null).ConfigureAwait(false);
        var job = new DockerJob(engine, stream, execId, sink, signal, readState, terminal is not null);
        if (terminal is not null)
        {
            await engine.ResizeExecAsync(execId, terminal.Columns, terminal.Rows, cancellationToken).ConfigureAwait(false);
        }
        // The engine knows the process's pid a moment after the attach; a job that already ended has none to find.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var inspect = await engine.InspectExecAsync(execId, cancellationToken).ConfigureAwait(false);
            if (inspect.Pid > 0 || !inspect.Running && attempt > 0)
            {
                job.Locate((int)inspect.Pid);
                break;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken).ConfigureAwait(false);
        }
        return job;
    }

    public async ValueTask<bool> WriteInputAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_stdinOpen || Completion.IsCompleted)
            {
                return false;
            }
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            _stdinOpen = false;
            return false;
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    public async ValueTask CloseInputAsync(CancellationToken cancellationToken)
    {
        if (_terminal)
        {
            await WriteInputAsync(new byte[] { 4 }, cancellationToken).ConfigureAwait(false); // Ctrl-D: a terminal has no stdin of its own
            return;
        }
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stdinOpen && !Completion.IsCompleted)
            {
                _stdinOpen = false;
                await _stream.CloseStdinAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    /// <summary>On a terminal, the key itself (the terminal turns it into the signal); on pipes, the signal through the helper.</summary>
    public async Task SignalAsync(JobSignal signal, CancellationToken cancellationToken)
    {
        if (_terminal)
        {
            await WriteInputAsync(new[] { JobKeys.ControlKeyOf(signal) }, cancellationToken).ConfigureAwait(false);
            return;
        }
        await _signal(this, signal).ConfigureAwait(false);
    }

    public async Task ResizeAsync(TerminalGeometry size, CancellationToken cancellationToken)
    {
        if (!_terminal)
        {
            throw new SessionRouting.Backends.SessionException("this job has no terminal to resize");
        }
        await _engine.ResizeExecAsync(_execId, size.Columns, size.Rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The container terminal's modes, read through this host's /proc (root, or the containers' user); null otherwise.</summary>
    public bool? IsAskingForSecret()
    {
        if (!_terminal || HostPid <= 0 || Completion.IsCompleted)
        {
            return null;
        }
        var fd = SessionRouting.Workspace.Libc.Open($"/proc/{HostPid}/fd/0", SessionRouting.Workspace.Libc.O_RDONLY | LibC.O_NOCTTY | SessionRouting.Workspace.Libc.O_NONBLOCK | SessionRouting.Workspace.Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            var modes = PtyProcess.ReadModes(fd);
            return !modes.Echo && modes.Canonical;
        }
        catch (IOException)
        {
            return null;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        await _signal(this, null).ConfigureAwait(false);
        await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Read from this host's /proc when the engine runs here (as root, or as the containers' user); else unknown.</summary>
    public bool? IsWaitingForInput()
    {
        if (HostPid <= 0 || Completion.IsCompleted)
        {
            return null;
        }
        try
        {
            var link = new FileInfo($"/proc/{HostPid}/fd/0").LinkTarget;
            if (link is null)
            {
                return null;
            }
            var pids = ProcessTable.Descendants(ProcessTable.Read(), HostPid).Prepend(HostPid);
            return InputWaitProbe.ForProcesses(pids, link).Waiting;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Completion.IsCompleted)
        {
            try
            {
                await KillAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or SessionRouting.Backends.SessionException or HelperDiedException)
            {
            }
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _stdinLock.Dispose();
    }

    /// <summary>The job's pid in the container and its start time, from this host's /proc (NSpid maps the host pid).</summary>
    private void Locate(int hostPid)
    {
        HostPid = hostPid;
        try
        {
            var status = File.ReadAllLines($"/proc/{hostPid}/status");
            var nspid = status.FirstOrDefault(l => l.StartsWith("NSpid:", StringComparison.Ordinal))?.Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries);
            ContainerPid = nspid is { Length: > 1 } ? int.Parse(nspid[^1], CultureInfo.InvariantCulture) : 0;
            var stat = File.ReadAllText($"/proc/{hostPid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            StartTick = long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            HostPid = 0;
        }
    }

    private async Task<JobExit> PumpAsync(IJobSink sink)
    {
        try
        {
            while (await _stream.ReadFrameAsync(CancellationToken.None).ConfigureAwait(false) is { } frame)
            {
                if (frame.Stream is DockerStreamKind.Stdout or DockerStreamKind.Stderr)
                {
                    sink.Append(frame.Stream == DockerStreamKind.Stdout ? JobStream.Stdout : JobStream.Stderr, frame.Payload.Span);
                    await sink.PaceAsync(frame.Payload.Length, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // The connection broke: the engine's word on the exit code is all that is left to ask for.
        }
        int exitCode;
        try
        {
            exitCode = await _engine.WaitForExecExitCodeAsync(_execId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DockerEngineException e)
        {
            return new JobExit(JobOutcome.LostTrack, Note: $"the engine did not report how the job ended ({e.Message})");
        }
        var state = await _readState().ConfigureAwait(false);
        return new JobExit(JobOutcome.FromExitCode(exitCode), state);
    }
}
