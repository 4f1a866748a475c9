using Docker.DotNet.Models;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Docker;

/// <summary>The helper's connection broke (helper or container died, engine went away): the command's fate is unknown.</summary>
internal class HelperDiedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The helper's streams carried something the protocol never sends: an over-long line or part, or output nobody asked
/// for. Only a process of the session writing into the helper's streams produces that; the helper is dropped.
/// </summary>
internal sealed class HelperProtocolException(string message) : HelperDiedException(message);

/// <summary>
/// A finished command as the helper reports it. <see cref="OomKills"/>: how many processes the kernel's OOM killer
/// killed in the container while the command ran (the container's counter, so a concurrent command's count too).
/// <see cref="StateTooLarge"/>: the state file was over <see cref="SessionStateLimits.MaxStateBytes"/> and was not kept.
/// <see cref="HitProcessLimit"/>: a fork failed at the container's PID limit while the command ran; what the command
/// started (its tree, its marker, and whatever began after it outside the helper) was killed so the session can fork again.
/// </summary>
internal sealed record HelperCommandResult(int ExitCode, bool TimedOut, string? StateText, long OomKills = 0, bool StateTooLarge = false, bool HitProcessLimit = false);

/// <summary>
/// The container's counters a notice carries (null where the container shows none): OOM kills, forks refused at the PID
/// limit, and whether three quarters of the limit were in use (a fork bomb whose shell returned at once,
/// <c>b(){ b|b&amp; }; b</c>, is still multiplying: the helper swept it before answering).
/// </summary>
internal readonly record struct ContainerCounters(long? OomKills, long? ProcessLimitHits, bool NearProcessLimit = false)
{
    public static ContainerCounters Parse(ReadOnlySpan<string> fields) => new(Number(fields, 0), Number(fields, 1), Number(fields, 2) == 1);

    private static long? Number(ReadOnlySpan<string> fields, int index) =>
        index < fields.Length && long.TryParse(fields[index], CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>How much <paramref name="select"/>ed counter grew from <paramref name="before"/> to this; 0 when unknown.</summary>
    public long Since(ContainerCounters before, Func<ContainerCounters, long?> select) =>
        select(before) is { } a && select(this) is { } b ? Math.Max(0, b - a) : 0;
}

/// <summary>
/// One attached helper shell (<c>sh -s</c>) inside a session's container (see <see cref="HelperScript"/>). Commands run
/// concurrently; requests are written under a lock, and answers are matched by command ID (notices) or arrive in
/// request order (emitted files), which the helper guarantees because it handles one statement at a time.
/// </summary>
internal sealed partial class SessionHelper : IAsyncDisposable
{
    private const int KilledExitCode = 137;

    /// <summary>The longest notice line the helper writes is well under this; a longer one is a protocol violation.</summary>
    internal const int MaxNoticeBytes = 4096;

    /// <summary>Most a part read whole (not streamed into a capture) may hold: the helper's environment, a peek.</summary>
    internal const int MaxBufferedPartBytes = 1024 * 1024;
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PeekInterval = TimeSpan.FromSeconds(1);

    private readonly DockerAttachedStream _stream;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Queue<PendingEmit> _emits = new();
    private readonly ConcurrentDictionary<string, CommandState> _commands = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<byte> _stderrLine = [];
    private byte[] _stdout = new byte[64 * 1024];
    private int _stdoutLength;
    private int _searchFrom;
    private long _nextId;
    private readonly string _tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private Task _reader = Task.CompletedTask;
    private IReadOnlyCollection<string> _helperNames = [];
    private volatile Exception? _died;
    private int _disposed;

    private SessionHelper(DockerAttachedStream stream, HelperLayout layout, ILogger logger)
    {
        _stream = stream;
        Layout = layout;
        _logger = logger;
    }

    public HelperLayout Layout { get; }

    public bool IsAlive => _died is null;

    /// <summary>The helper's own exported variable names: what a job's exec starts with too, to be unset where the session has none.</summary>
    public IReadOnlyCollection<string> HelperNames => _helperNames;

    /// <summary>Tells the helper which job shells a timeout's sweep must spare.</summary>
    public Task SetJobsAsync(IEnumerable<int> pids, CancellationToken cancellationToken) => WriteAsync(HelperScript.SetJobs(pids), null, cancellationToken);

    /// <summary>Signals a job's process tree (no answer is waited for: the job's end shows what it did).</summary>
    public Task SignalAsync(string signal, int pid, CancellationToken cancellationToken) => WriteAsync(HelperScript.Signal(signal, pid), null, cancellationToken);

    /// <summary>Kills a job: its tree, what carries its marker, and what started after it outside the helper.</summary>
    public async Task KillJobAsync(int pid, string marker, long? startTick)
    {
        var keys = CommandKeys.New(marker);
        var state = new CommandState(keys.Secret);
        _commands[marker] = state;
        try
        {
            await KillAsync(pid, keys, startTick, state).ConfigureAwait(false);
        }
        finally
        {
            _commands.TryRemove(marker, out _);
        }
    }

    /// <summary>
    /// A liveness check: whether the helper answers a hello within <paramref name="timeout"/>. A dead helper counts as
    /// answering (the next call starts another); one that is stopped or starved does not.
    /// </summary>
    public async Task<bool> PingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            // An answer that comes late still lands in its own pending emit: answers are matched in request order.
            await RequestFilesAsync(nonce => HelperScript.Hello(nonce), 1, deadline.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (HelperDiedException)
        {
            return true;
        }
    }

    /// <summary>Why the helper is dead (null while it lives).</summary>
    public HelperDiedException? DeathReason => _died as HelperDiedException;

    /// <summary>Starts the helper in a running container and waits until it answers.</summary>
    public static async Task<SessionHelper> StartAsync(DockerEngineClient engine, string containerId, HelperLayout layout, ILogger logger, CancellationToken cancellationToken)
    {
        var execId = await engine.CreateExecAsync(containerId, new ContainerExecCreateParameters
        {
            Cmd = [layout.ShellPath, "-s"],
            AttachStdin = true,
            AttachStdout = true,
            AttachStderr = true,
            TTY = false,
        }, cancellationToken).ConfigureAwait(false);
        var stream = await engine.StartExecAttachedAsync(execId, cancellationToken).ConfigureAwait(false);
        var helper = new SessionHelper(stream, layout, logger);
        helper._reader = Task.Run(helper.ReadLoopAsync, CancellationToken.None);
        try
        {
            await helper.WriteAsync(HelperScript.Prelude(layout), null, cancellationToken).ConfigureAwait(false);
            var parts = await helper.RequestFilesAsync(nonce => HelperScript.Hello(nonce), 1, cancellationToken).ConfigureAwait(false);
            helper._helperNames = ShellExports.Parse(Encoding.UTF8.GetString(parts[0])).Keys.ToList();
            return helper;
        }
        catch
        {
            await helper.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<HelperCommandResult> RunAsync(
        string cwd, string command, string? stdin, IReadOnlyDictionary<string, string> environment, TimeSpan timeout,
        OutputCapture stdout, OutputCapture stderr, CancellationToken cancellationToken)
    {
        var keys = CommandKeys.New("c" + _tag + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture) + "z");
        var id = keys.Id;
        var state = new CommandState(keys.Secret);
        _commands[id] = state;
        try
        {
            await WriteAsync(HelperScript.Run(keys, cwd, command, stdin, HelperScript.EnvironmentScript(_helperNames, environment)), null, cancellationToken).ConfigureAwait(false);
            // Not cancellable: once requested, the command is started and must be known, so that it can be killed.
            var (pid, before, startTick) = await Answer(state.Started.Task, "start the command").ConfigureAwait(false);

            var timedOut = false;
            int exitCode;
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                deadline.CancelAfter(timeout);
                try
                {
                    (exitCode, _) = await WaitWithPeeksAsync(keys, state, stdout, stderr, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    // Timeout or cancellation: kill the command's tree inside the container, then collect what it wrote.
                    await KillAsync(pid, keys, startTick, state).ConfigureAwait(false);
                    timedOut = !cancellationToken.IsCancellationRequested;
                    exitCode = state.Done.Task.IsCompletedSuccessfully ? state.Done.Task.Result.ExitCode : KilledExitCode;
                }
            }
            var after = state.Killed.Task.IsCompletedSuccessfully ? state.Killed.Task.Result
                : state.Done.Task.IsCompletedSuccessfully ? state.Done.Task.Result.Counters : default;
            var hitProcessLimit = after.Since(before, c => c.ProcessLimitHits) > 0 || after.NearProcessLimit;
            if (hitProcessLimit && !state.Killed.Task.IsCompleted)
            {
                // A fork bomb's pipelines outlive their shell: without this the session could never fork again.
                await KillAsync(pid, keys, startTick, state).ConfigureAwait(false);
            }

            // Outputs stream straight into the captures (which cap them), so a huge output is never held whole here.
            // The state file is the session's to write: it is kept only up to its limit.
            using var stateFile = new MemoryStream();
            var stateTooLarge = false;
            await RequestFilesAsync(nonce => HelperScript.Emit(keys, nonce), 3, cancellationToken: CancellationToken.None, sink: (part, bytes) =>
            {
                switch (part)
                {
                    case 0: stdout.Append(bytes); break;
                    case 1: stderr.Append(bytes); break;
                    case 2 when stateTooLarge || stateFile.Length + bytes.Length > SessionStateLimits.MaxStateBytes: stateTooLarge = true; break;
                    default: stateFile.Write(bytes); break;
                }
            }).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var killed = state.Killed.Task.IsCompleted;
            return new HelperCommandResult(exitCode, timedOut, killed || stateTooLarge ? null : Encoding.UTF8.GetString(stateFile.ToArray()), after.Since(before, c => c.OomKills), stateTooLarge, hitProcessLimit);
        }
        finally
        {
            _commands.TryRemove(id, out _);
        }
    }

    /// <summary>Kills the command's tree, its marker and what started after it outside the helper, and waits until that is done.</summary>
    private async Task KillAsync(int pid, CommandKeys keys, long? startTick, CommandState state)
    {
        await WriteAsync(HelperScript.Kill(pid, keys, startTick), null, CancellationToken.None).ConfigureAwait(false);
        await Answer(state.Killed.Task, "kill the command").ConfigureAwait(false);
    }

    /// <summary>Waits for the command; every second meanwhile, shows its latest output line to progress reporting.</summary>
    private async Task<(int ExitCode, ContainerCounters Counters)> WaitWithPeeksAsync(CommandKeys keys, CommandState state, OutputCapture stdout, OutputCapture stderr, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await state.Done.Task.WaitAsync(PeekInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                var parts = await RequestFilesAsync(nonce => HelperScript.Peek(keys, nonce), 2, cancellationToken).ConfigureAwait(false);
                stdout.ObserveLatestLine(LastLine(parts[0]));
                stderr.ObserveLatestLine(LastLine(parts[1]));
            }
        }

        static string? LastLine(byte[] tail) =>
            Encoding.UTF8.GetString(tail).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Fail(new HelperDiedException("the helper was closed"));
        await _stop.CancelAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        // _writeLock and _stop are left to the GC: a writer may still be waiting on them, and must fail as "dead", not crash.
    }

    /// <summary>Writes a request; an emit request is queued under the same lock, so queue order is the helper's order.</summary>
    private async Task WriteAsync(string statement, PendingEmit? emit, CancellationToken cancellationToken)
    {
        ThrowIfDead();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (emit is not null)
            {
                lock (_emits)
                {
                    _emits.Enqueue(emit);
                }
                // Fail may have drained the queue just before this emit joined it: nobody would ever answer it.
                if (_died is { } died)
                {
                    emit.Completion.TrySetException(died);
                }
            }
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(statement), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            Fail(new HelperDiedException("the connection to the session's helper broke", e));
            ThrowIfDead();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Sends a request whose answer is <paramref name="parts"/> pieces of stdout, each ended by a fresh nonce. With a
    /// <paramref name="sink"/>, pieces are handed over as they arrive instead of being collected.
    /// </summary>
    private async Task<byte[][]> RequestFilesAsync(Func<string, string> request, int parts, CancellationToken cancellationToken, PartSink? sink = null)
    {
        var nonce = "@@smcp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + "@@";
        var emit = new PendingEmit(Encoding.ASCII.GetBytes(nonce), parts, sink);
        await WriteAsync(request(nonce), emit, cancellationToken).ConfigureAwait(false);
        return await Answer(emit.Completion.Task, "send a command's output", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for the helper's answer, but not forever: a helper that stops answering (stuck, or its container frozen)
    /// is declared dead, so the session's next call starts a new one instead of queueing behind it.
    /// </summary>
    private async Task<T> Answer<T>(Task<T> answer, string what, CancellationToken cancellationToken = default)
    {
        try
        {
            return await answer.WaitAsync(AnswerTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var reason = new HelperDiedException($"the session's helper did not {what} within {AnswerTimeout.TotalSeconds:0} s");
            Fail(reason);
            throw reason;
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _stream.ReadFrameAsync(_stop.Token).ConfigureAwait(false) is { } frame)
            {
                if (frame.Stream == DockerStreamKind.Stdout)
                {
                    OnStdout(frame.Payload.Span);
                }
                else
                {
                    OnStderr(frame.Payload.Span);
                }
                if (_died is HelperProtocolException violation)
                {
                    // Read no further: whatever is pouring in is not the helper's, and only backpressure bounds it now.
                    LogProtocolViolation(_logger, violation.Message);
                    return;
                }
            }
            Fail(new HelperDiedException("the session's helper process ended"));
        }
        catch (Exception e) when (e is not HelperDiedException)
        {
            Fail(new HelperDiedException("the connection to the session's helper broke", e));
        }
    }

    private void OnStdout(ReadOnlySpan<byte> data)
    {
        if (_died is HelperProtocolException)
        {
            return;
        }
        if (_stdoutLength + data.Length > _stdout.Length)
        {
            Array.Resize(ref _stdout, Math.Max(_stdout.Length * 2, _stdoutLength + data.Length));
        }
        data.CopyTo(_stdout.AsSpan(_stdoutLength));
        _stdoutLength += data.Length;

        while (true)
        {
            PendingEmit? head;
            lock (_emits)
            {
                _emits.TryPeek(out head);
            }
            if (head is null)
            {
                if (_stdoutLength > 0)
                {
                    LogUnexpectedOutput(_logger, Encoding.UTF8.GetString(_stdout, 0, Math.Min(_stdoutLength, 200)));
                    _stdoutLength = 0;
                    _searchFrom = 0;
                    ProtocolViolation("output on the helper's stdout that no request asked for");
                }
                return;
            }
            var index = _stdout.AsSpan(_searchFrom, _stdoutLength - _searchFrom).IndexOf(head.Nonce);
            if (index < 0)
            {
                // Keep only what could be the start of a nonce split across frames; a sink takes the rest now.
                var undecided = Math.Max(0, _stdoutLength - head.Nonce.Length + 1);
                if (head.Sink is not null && undecided > 0)
                {
                    head.Sink(head.Parts.Count, _stdout.AsSpan(0, undecided));
                    _stdout.AsSpan(undecided, _stdoutLength - undecided).CopyTo(_stdout);
                    _stdoutLength -= undecided;
                    undecided = 0;
                }
                _searchFrom = undecided;
                if (_stdoutLength > MaxBufferedPartBytes)
                {
                    ProtocolViolation($"a part of more than {MaxBufferedPartBytes} bytes on the helper's stdout");
                }
                return;
            }
            index += _searchFrom;
            if (head.Sink is not null)
            {
                head.Sink(head.Parts.Count, _stdout.AsSpan(0, index));
                head.Parts.Add([]);
            }
            else
            {
                head.Parts.Add(_stdout.AsSpan(0, index).ToArray());
            }
            var consumed = index + head.Nonce.Length;
            _stdout.AsSpan(consumed, _stdoutLength - consumed).CopyTo(_stdout);
            _stdoutLength -= consumed;
            _searchFrom = 0;
            if (head.Parts.Count == head.Expected)
            {
                lock (_emits)
                {
                    _emits.Dequeue();
                }
                head.Completion.TrySetResult([.. head.Parts]);
            }
        }
    }

    private void OnStderr(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            if (_died is HelperProtocolException)
            {
                return;
            }
            if (b != (byte)'\n')
            {
                if (_stderrLine.Count >= MaxNoticeBytes)
                {
                    _stderrLine.Clear();
                    ProtocolViolation($"a line of more than {MaxNoticeBytes} bytes on the helper's stderr");
                    return;
                }
                _stderrLine.Add(b);
                continue;
            }
            var line = Encoding.UTF8.GetString([.. _stderrLine]);
            _stderrLine.Clear();
            var fields = line.Split(' ');
            if (fields is [("started" or "done" or "killed") and var kind, var id, var secret, .. var rest] && _commands.TryGetValue(id, out var command))
            {
                // Only the sealed helper knows a command's secret: a notice without it was written by something else.
                if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(secret), Encoding.ASCII.GetBytes(command.Secret)))
                {
                    ProtocolViolation($"a \"{kind}\" notice for command {id} without its secret");
                    return;
                }
                switch (kind, rest)
                {
                    case ("started", [var pid, .. var counters]) when int.TryParse(pid, CultureInfo.InvariantCulture, out var p):
                        command.Started.TrySetResult((p, ContainerCounters.Parse(counters), counters is [_, _, var tick] && long.TryParse(tick, CultureInfo.InvariantCulture, out var t) ? t : null));
                        break;
                    case ("done", [var rc, .. var counters]) when int.TryParse(rc, CultureInfo.InvariantCulture, out var code):
                        command.Done.TrySetResult((code, ContainerCounters.Parse(counters)));
                        break;
                    case ("killed", var counters):
                        command.Killed.TrySetResult(ContainerCounters.Parse(counters));
                        break;
                    default:
                        ProtocolViolation($"a malformed \"{kind}\" notice for command {id}");
                        return;
                }
            }
            else
            {
                LogHelperStderr(_logger, line);
            }
        }
    }

    private void ProtocolViolation(string what) =>
        Fail(new HelperProtocolException($"the helper's control stream carried {what}, which only a process of the session writing into it produces"));

    private void Fail(HelperDiedException reason)
    {
        if (Interlocked.CompareExchange(ref _died, reason, null) is not null)
        {
            return;
        }
        lock (_emits)
        {
            while (_emits.TryDequeue(out var emit))
            {
                emit.Completion.TrySetException(reason);
            }
        }
        foreach (var command in _commands.Values)
        {
            command.Started.TrySetException(reason);
            command.Done.TrySetException(reason);
            command.Killed.TrySetException(reason);
        }
    }

    private void ThrowIfDead()
    {
        if (_died is { } reason)
        {
            throw new HelperDiedException(reason.Message, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session helper wrote unexpected output: {Text}")]
    private static partial void LogUnexpectedOutput(ILogger logger, string text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session helper dropped for a protocol violation: {Reason}")]
    private static partial void LogProtocolViolation(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Session helper stderr: {Line}")]
    private static partial void LogHelperStderr(ILogger logger, string line);

    private sealed class CommandState(string secret)
    {
        public string Secret { get; } = secret;

        public TaskCompletionSource<(int Pid, ContainerCounters Counters, long? StartTick)> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<(int ExitCode, ContainerCounters Counters)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ContainerCounters> Killed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private delegate void PartSink(int part, ReadOnlySpan<byte> bytes);

    private sealed class PendingEmit(byte[] nonce, int expected, PartSink? sink)
    {
        public byte[] Nonce { get; } = nonce;

        public int Expected { get; } = expected;

        public PartSink? Sink { get; } = sink;

        public List<byte[]> Parts { get; } = [];

        public TaskCompletionSource<byte[][]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
