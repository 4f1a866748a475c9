using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>What a job is, as kept next to its journal (<c>&lt;data&gt;/jobs/&lt;session&gt;/&lt;job&gt;.json</c>).</summary>
internal sealed record JobInfo(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("session_id")] string SessionId,
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("cwd")] string Cwd,
    [property: JsonPropertyName("started_at")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("terminal")] TerminalGeometry? Terminal = null);

/// <summary>A job's state as tools report it.</summary>
internal sealed record JobStatus(JobInfo Info, string State, JobEnd? Ended, long TotalBytes, bool? WaitingForInput);

/// <summary>
/// Every job of every session: starts them on their backend's <see cref="IJobHost"/>, keeps each one's output in a
/// durable <see cref="JobJournal"/> (readable while it runs, after it ended and after a restart), records each end as an
/// audited event, and kills a session's jobs when it goes. A job whose process was lost with a previous server is
/// marked <c>lost</c> at start.
/// </summary>
/// <param name="history">Records what a job changed in its workspace with its <c>job_ended</c> event (null: nothing is recorded).</param>
/// <param name="registry">Where <paramref name="history"/> finds the job's session.</param>
internal sealed partial class JobManager(string dataDir, JournalBudget budget, AuditLog audit, TimeProvider time, ILogger<JobManager> logger,
    WorkspaceHistory? history = null, SessionRegistry? registry = null) : IAsyncDisposable
{
    public const string JobEnded = "job_ended";
    public const string JobLost = "job_lost";

    /// <summary>How long a stopping server waits for a killed job's end to be handled before closing its journal.</summary>
    private static readonly TimeSpan FinishOnStopTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly string _root = Path.Combine(dataDir, "jobs");

    /// <summary>Starts <paramref name="launch"/> (its JobId is given here) on <paramref name="host"/> and returns once it runs.</summary>
    public async Task<Job> StartAsync(Sessions.SessionRecord session, IJobHost host, JobLaunch launch, CancellationToken cancellationToken)
    {
        var jobId = NewJobId(launch.Terminal is null ? "j-" : "t-");
        var directory = Path.Combine(_root, session.Id);
        Directory.CreateDirectory(directory);
        var journalPath = Path.Combine(directory, jobId + ".journal");
        var spec = launch with { JobId = jobId };
        var info = new JobInfo(jobId, session.Id, spec.Command, spec.Cwd, time.GetUtcNow(), spec.Terminal);
        Job? job = null;
        var reservation = budget.Reserve(session.Id, () => Forget(jobId), launch.Terminal is null ? null : JournalLimits.Terminal);
        var journal = JobJournal.Create(journalPath, reservation.Limits, info.StartedAt);
        job = new Job(info, journal, reservation, journalPath);
        if (spec.Terminal is { } size)
        {
            job.Terminal = new TerminalState(new TerminalScreen(size.Columns, size.Rows), AsciicastRecorder.Create(CastPath(journalPath), size.Columns, size.Rows, spec.Command, info.StartedAt));
        }
        File.WriteAllText(InfoPath(journalPath), JsonSerializer.Serialize(info));
        _jobs[jobId] = job;
        try
        {
            job.Running = await host.StartJobAsync(session, spec, job, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _jobs.TryRemove(jobId, out _);
            job.Evict();
            throw;
        }
        _ = FinishAsync(job);
        return job;
    }

    /// <summary>The job, running or ended (reopened from disk after a restart).</summary>
    public Job Get(string sessionId, string jobId)
    {
        if (_jobs.TryGetValue(jobId, out var job) && job.Info.SessionId == sessionId)
        {
            return job;
        }
        var known = string.Join(", ", List(sessionId).Select(j => j.Info.JobId));
        throw new SessionException($"session {sessionId} has no job {jobId}" + (known.Length == 0 ? "; it has no jobs (start one with session_exec {background: true})" : $"; its jobs are: {known}"));
    }

    public IReadOnlyList<Job> List(string sessionId) =>
        [.. _jobs.Values.Where(j => j.Info.SessionId == sessionId).OrderBy(j => j.Info.StartedAt)];

    public JobStatus StatusOf(Job job)
    {
        var ended = job.Journal.Ended;
        var state = ended?.Outcome switch
        {
            null => "running",
            { Lost: true } => "lost",
            { Killed: true } => "killed",
            _ => "exited",
        };
        return new JobStatus(job.Info, state, ended, job.Journal.TotalBytes, ended is null ? job.Running?.IsWaitingForInput() : null);
    }

    /// <summary>Kills a job (nothing happens to one that already ended) and waits until its end is recorded.</summary>
    public async Task<JobStatus> KillAsync(Job job, CancellationToken cancellationToken)
    {
        if (job.Running is { } running && job.Journal.Ended is null)
        {
            job.KillRequested = true;
            await running.KillAsync(cancellationToken).ConfigureAwait(false);
            await job.Finished.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return StatusOf(job);
    }

    /// <summary>Kills every job of a session (destroy), and forgets them with their journals unless asked to keep them.</summary>
    public async Task EndSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        foreach (var job in List(sessionId))
        {
            await KillAsync(job, cancellationToken).ConfigureAwait(false);
            _jobs.TryRemove(job.Info.JobId, out _);
            job.Evict();
        }
        RemoveAllButRecordings(Path.Combine(_root, sessionId));
    }

    /// <summary>
    /// At start: reopens every journal on disk, so its output stays readable; a job that had not ended ran in a previous
    /// server process, whose end nobody saw: it is marked lost, with an event.
    /// </summary>
    public void Recover(IReadOnlySet<string> liveSessions)
    {
        if (!Directory.Exists(_root))
        {
            return;
        }
        foreach (var directory in Directory.EnumerateDirectories(_root))
        {
            var sessionId = Path.GetFileName(directory);
            if (!liveSessions.Contains(sessionId))
            {
                RemoveAllButRecordings(directory);
                continue;
            }
            // A job's files: its journal and what it is (.json); a terminal's recording (.cast) stays even when its
            // journal was evicted.
            foreach (var infoPath in Directory.EnumerateFiles(directory, "*.json"))
            {
                try
                {
                    var info = JsonSerializer.Deserialize<JobInfo>(File.ReadAllText(infoPath))!;
                    var journalPath = Path.ChangeExtension(infoPath, ".journal");
                    var journal = JobJournal.Open(journalPath);
                    var lost = journal.MarkEnded(JobOutcome.LostTrack);
                    var reservation = budget.Adopt(sessionId, journal.Limits, journal.DiskBytes, ended: true, () => Forget(info.JobId));
                    var job = new Job(info, journal, reservation, journalPath);
                    if (info.Terminal is { } size)
                    {
                        job.Terminal = ReplayScreen(journal, size);
                    }
                    _jobs[info.JobId] = job;
                    if (lost)
                    {
                        RecordEnd(job, JobLost, "the server that ran it stopped; its processes were killed at start and its end is unknown");
                    }
                }
                catch (Exception e) when (e is IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
                {
                    LogRecoverFailed(logger, e, infoPath);
                }
            }
        }
    }

    /// <summary>
    /// The server stops (<c>daemon stop</c>, or the client of <c>serve</c> went away): a job still running is lost, as
    /// with a server that died — its end is the server's doing, not the job's — and its processes are killed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var job in _jobs.Values)
        {
            if (job.Running is { } running)
            {
                if (job.Journal.Ended is null && job.Journal.MarkEnded(JobOutcome.LostTrack))
                {
                    RecordEnd(job, JobLost, "the server stopped while it ran; its processes were killed");
                }
                await running.DisposeAsync().ConfigureAwait(false);
                // Its end handling touches the journal: let it finish before the journal closes.
                try
                {
                    await job.Finished.WaitAsync(FinishOnStopTimeout).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }
            job.Journal.Dispose();
        }
    }

    private async Task FinishAsync(Job job)
    {
        JobExit exit;
        try
        {
            exit = await job.Running!.Completion.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogJobFailed(logger, e, job.Info.JobId);
            exit = new JobExit(JobOutcome.LostTrack, Note: $"session-mcp lost track of the job ({e.GetType().Name})");
        }
        var outcome = job.KillRequested ? exit.Outcome with { Killed = true } : exit.Outcome;
        job.Exit = exit with { Outcome = outcome };
        // Not ended already: a server that stops records its running jobs as lost before killing them.
        var ended = job.Journal.MarkEnded(outcome);
        job.Terminal?.Recorder?.Exit(outcome.ExitCode);
        job.Reservation.Ended(job.Journal.DiskBytes);
        if (ended)
        {
            RecordEnd(job, JobEnded, exit.Note);
        }
        job.Complete();
    }

    private void RecordEnd(Job job, string kind, string? note)
    {
        var ended = job.Journal.Ended!;
        var summary = JsonSerializer.SerializeToNode(new Dictionary<string, object?>
        {
            ["job_id"] = job.Info.JobId,
            ["command"] = job.Info.Command,
            ["exit_code"] = ended.Outcome.ExitCode,
            ["signal"] = ended.Outcome.Signal,
            ["killed"] = ended.Outcome.Killed,
            ["lost"] = ended.Outcome.Lost,
            ["output_bytes"] = job.Journal.TotalBytes,
            ["note"] = note,
        })!.AsObject();
        try
        {
            // A job that ended on its own records what it left in the workspace (the lost ones end with their server or
            // their session, whose own steps record it).
            using var step = kind == JobEnded && history is not null && registry is not null
                ? history.TryObserve(registry.Find(job.Info.SessionId), e => LogWorkspaceScanFailed(logger, e, job.Info.JobId))
                : PendingStep.None;
            if (step.Summary() is { } workspace)
            {
                summary["workspace"] = workspace;
            }
            audit.Append(new AuditEntry(time.GetUtcNow(), job.Info.SessionId, kind, null, null, null,
                ended.Outcome.Lost ? AuditOutcomes.Error : AuditOutcomes.Ok, note, summary.ToJsonString(), ended.TimeMs, null), alongside: step.Write);
            step.Committed();
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException)
        {
            LogAuditFailed(logger, e, job.Info.JobId);
        }
    }

    /// <summary>A terminal's last screen, rebuilt from the output its journal kept (the start and the end of it).</summary>
    private static TerminalState ReplayScreen(JobJournal journal, TerminalGeometry size)
    {
        var state = new TerminalState(new TerminalScreen(size.Columns, size.Rows), recorder: null);
        for (long cursor = 0; cursor < journal.TotalBytes;)
        {
            var read = journal.Read(cursor, 1 << 20);
            foreach (var chunk in read.Chunks)
            {
                state.Output(chunk.Bytes.Span);
            }
            if (read.NextCursor <= cursor)
            {
                break;
            }
            cursor = read.NextCursor;
        }
        return state;
    }

    /// <summary>Drops an ended job and its journal (the budget needed the room).</summary>
    private void Forget(string jobId)
    {
        if (_jobs.TryRemove(jobId, out var job))
        {
            job.Evict();
        }
    }

    /// <summary>The asciicast recording of a terminal, beside its journal.</summary>
    public static string CastPath(string journalPath) => Path.ChangeExtension(journalPath, ".cast");

    /// <summary>Where a terminal's recording is kept (it may not exist: not a terminal, or evicted).</summary>
    public string RecordingPath(string sessionId, string terminalId) => Path.Combine(_root, sessionId, terminalId + ".cast");

    private static string NewJobId(string prefix)
    {
        const string alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
        Span<char> id = stackalloc char[8];
        for (var i = 0; i < id.Length; i++)
        {
            id[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        }
        return prefix + new string(id);
    }

    private static string InfoPath(string journalPath) => Path.ChangeExtension(journalPath, ".json");

    /// <summary>
    /// Deletes a gone session's journals; terminal recordings stay, like its events (each at most
    /// <see cref="AsciicastRecorder.MaxBytes"/>), for <c>session-mcp terminal export</c> until deleted by hand.
    /// </summary>
    private static void RemoveAllButRecordings(string directory)
    {
        try
        {
            foreach (var file in Directory.Exists(directory) ? Directory.EnumerateFiles(directory).Where(f => !f.EndsWith(".cast", StringComparison.Ordinal)).ToList() : [])
            {
                File.Delete(file);
            }
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reopen job journal {Path}")]
    private static partial void LogRecoverFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed inside session-mcp")]
    private static partial void LogJobFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The workspace of job {JobId}'s session could not be scanned at its end; its changes are recorded with the next step")]
    private static partial void LogWorkspaceScanFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record the end of job {JobId}")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception, string jobId);

    /// <summary>One job: what it is, its journal, and (while this server runs it) its process.</summary>
    internal sealed class Job(JobInfo info, JobJournal journal, JournalReservation reservation, string journalPath) : IJobSink
    {
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _evicted;

        public JobInfo Info { get; } = info;

        public JobJournal Journal { get; } = journal;

        public JournalReservation Reservation { get; } = reservation;

        public IRunningJob? Running { get; set; }

        /// <summary>A terminal's screen and recording; null for a job on pipes.</summary>
        public TerminalState? Terminal { get; set; }

        public bool KillRequested { get; set; }

        /// <summary>How it ended, with the shell state when one was asked for; null while it runs.</summary>
        public JobExit? Exit { get; set; }

        /// <summary>Completes once its end is in the journal and the audit log.</summary>
        public Task Finished => Running is null ? Task.CompletedTask : _finished.Task;

        public void Append(JobStream stream, ReadOnlySpan<byte> bytes)
        {
            if (Journal.Ended is null)
            {
                // The screen first: appending to the journal wakes readers, who must find the screen up to date.
                Terminal?.Output(bytes);
                Journal.Append(stream, bytes);
                if (Terminal is { } terminal)
                {
                    // A program asking the terminal (where is the cursor?) waits for the answer: give it at once, as a
                    // terminal does, or it lands later in whatever reads the input next.
                    if (terminal.TakeResponses() is { Length: > 0 } responses && Running is { } running)
                    {
                        _ = running.WriteInputAsync(System.Text.Encoding.UTF8.GetBytes(responses), CancellationToken.None).AsTask();
                    }
                }
            }
        }

        private readonly OutputPace _pace = new(OutputPace.DefaultBytesPerSecond);

        public ValueTask PaceAsync(int bytes, CancellationToken cancellationToken) => _pace.TakeAsync(bytes, cancellationToken);

        public void Complete() => _finished.TrySetResult();

        /// <summary>Deletes the journal (the budget needs the room, or the session is gone).</summary>
        public void Evict()
        {
            if (Interlocked.Exchange(ref _evicted, 1) == 1)
            {
                return;
            }
            Reservation.Release();
            Journal.Delete();
            Terminal?.Dispose();
            File.Delete(InfoPath(journalPath));
        }
    }
}
