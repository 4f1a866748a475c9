using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>
/// A backend capability (beside <see cref="Backends.ISessionBackend"/>'s lifecycle): run a command as a job whose output
/// streams into a sink as it is written, with its stdin kept open for <c>session_job_input</c>. The router checks for it
/// and says so specifically when a backend lacks it.
/// </summary>
internal interface IJobHost
{
    /// <summary>Starts the job; its output goes to <paramref name="sink"/> from the first byte.</summary>
    Task<IRunningJob> StartJobAsync(SessionRecord session, JobLaunch launch, IJobSink sink, CancellationToken cancellationToken);
}

/// <summary>
/// What to run: <paramref name="Command"/> through the session's shell wrapper from <paramref name="Cwd"/> with exactly
/// <paramref name="Env"/>. <paramref name="StateFile"/> true asks for the shell state (cwd, exports) at exit, for a
/// foreground call handed over at its timeout that finished in time after all.
/// </summary>
/// <paramref name="Terminal"/>: run it on a pseudo-terminal of that size (one output stream, control keys interpreted by
/// the terminal), not on pipes.
internal sealed record JobLaunch(string JobId, string Command, string Cwd, IReadOnlyDictionary<string, string> Env, bool StateFile = false, TerminalGeometry? Terminal = null);

/// <summary>A terminal's size in character cells.</summary>
internal sealed record TerminalGeometry(int Columns, int Rows);

/// <summary>Where a job's output goes, in write order (a journal; later also a screen or a recording).</summary>
internal interface IJobSink
{
    void Append(JobStream stream, ReadOnlySpan<byte> bytes);

    /// <summary>Awaited by a backend's pump after it appended <paramref name="bytes"/>: slows a flood down (<see cref="OutputPace"/>).</summary>
    ValueTask PaceAsync(int bytes, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// A job as its backend runs it. Disposing kills whatever is left of it. <see cref="Completion"/> completes after the
/// last byte of its output reached the sink.
/// </summary>
internal interface IRunningJob : IAsyncDisposable
{
    Task<JobExit> Completion { get; }

    /// <summary>Writes to the job's stdin; false when its stdin is closed (the job closed it or exited).</summary>
    ValueTask<bool> WriteInputAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>Closes the job's stdin (EOF for a program reading it).</summary>
    ValueTask CloseInputAsync(CancellationToken cancellationToken);

    /// <summary>Sends a signal to the job's foreground processes (what a terminal does for Ctrl-C, Ctrl-\, Ctrl-Z).</summary>
    Task SignalAsync(JobSignal signal, CancellationToken cancellationToken);

    /// <summary>Kills every process of the job, however it tried to leave; completes when they are gone.</summary>
    Task KillAsync(CancellationToken cancellationToken);

    /// <summary>Whether the job's foreground process is blocked reading its stdin right now (null: cannot tell).</summary>
    bool? IsWaitingForInput();

    /// <summary>
    /// A terminal reads a line without echoing it (a password prompt: echo off, line mode on; a line editor turns both
    /// off and echoes itself): what is typed now must not be recorded. Null: not a terminal, or cannot tell.
    /// </summary>
    bool? IsAskingForSecret() => null;

    /// <summary>Resizes a terminal job's terminal (the program gets SIGWINCH).</summary>
    Task ResizeAsync(TerminalGeometry size, CancellationToken cancellationToken) =>
        throw new Backends.SessionException("this job has no terminal to resize");
}

/// <summary>How a job ended, with the shell state (cwd, exports) its wrapper reported when one was asked for (null otherwise).</summary>
internal sealed record JobExit(JobOutcome Outcome, (string Cwd, Dictionary<string, string> Env)? State = null, string? Note = null);
