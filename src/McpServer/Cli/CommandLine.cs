using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.McpServer.Daemon;
using SessionMcp.McpServer.Http;
using SessionMcp.McpServer.Hosting;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// <c>session-mcp [serve]</c> serves MCP over stdio (relayed to the data directory's daemon by default);
/// <c>daemon [stop|status]</c> runs or controls that daemon; <c>sessions</c>, <c>audit tail|export|verify</c> are admin
/// commands that read the same database.
/// </summary>
internal static class CommandLine
{
    private const string Usage = """
        usage: session-mcp [command] [options]
          serve [--daemon auto|never|require]
                                        serve MCP over stdio (the default command). auto (default; also
                                        SESSION_MCP_DAEMON): relay stdio to the data directory's daemon, starting
                                        it if none runs; require: relay to a running daemon or fail; never: run
                                        the server in this process, no daemon
          daemon                        run the daemon in the foreground: sessions, jobs and terminals shared by
                                        every client, on <data>/daemon.sock, logging to <data>/daemon.log
            [--http]                    also serve MCP over Streamable HTTP at /mcp (bearer tokens: token create)
            [--urls URL[;URL]]          where (implies --http; SESSION_MCP_HTTP_URLS; default http://127.0.0.1:8765)
            [--http-allow-remote]       let a URL bind a non-loopback address (SESSION_MCP_HTTP_ALLOW_REMOTE)
          daemon stop                   stop the data directory's daemon (SIGTERM; its jobs and terminals stop)
          daemon status                 whether a daemon runs: pid, uptime, socket, log, sessions (exit 3: none)
          sessions                      list sessions
          audit tail [-n N] [--session ID] [--follow]
                                        show the last N events (default 20), one line each: seq, time, session,
                                        principal, tool, outcome, summary; --session: only that session's; --follow: keep
                                        printing new events until Ctrl-C
          audit export [--format jsonl|markdown] [--from SEQ] [--session ID]
                                        write events to stdout: jsonl (default) as JSON lines; markdown as a
                                        report per session to review like a pull request (commands, exit codes,
                                        outputs, edits, jobs, terminals, errors); --session: only that session's
          audit verify [--expect-seq N] [--expect-head HASH]
                                        check the hash chain and the head the server recorded; exit 1 at the first
                                        broken link or a missing head; --expect-seq/--expect-head: the log must
                                        still hold event N (with hash HASH; a hash alone: some event with it)
          export SESSION [--format patch|git] [--branch NAME] [--force]
                                        the session's change against its source directory: patch (default) on
                                        stdout, for git apply; git: a commit on a new branch (default
                                        session-mcp/SESSION) of the source's repository, its working tree, index
                                        and HEAD untouched
          apply SESSION [--dry-run] [--merge]
                                        apply the session's change to its source directory; refused (files listed,
                                        nothing written) where the source changed since the copy, unless --merge
          audit prune [--older-than AGE] [--max-bytes SIZE] [--max-session-bytes SIZE]
                      [--session ID] [--outputs-only] [--dry-run]
                                        retention: remove events older than AGE (30d, 12h), or the oldest beyond
                                        SIZE in all (or --session's) events or per session (500M, 1G); the newest
                                        stay. Leaves an audited checkpoint, so audit verify still checks the whole
                                        chain. --outputs-only: drop full outputs, keep the events; --dry-run: show
                                        what would go
          jobs SESSION                  the session's jobs and terminals, live from the daemon
          attach SESSION [TERMINAL] [--write]
                                        attach this terminal to a session's terminal through the daemon: its
                                        screen, then its output live; --write sends your keys (and size);
                                        Ctrl-] detaches
          terminal export SESSION TERMINAL
                                        write a terminal's recording (asciicast v3) to stdout:
                                        session-mcp terminal export s-… t-… > t.cast; asciinema play t.cast
          token create --name NAME [--scope full|read|admin] [--expires-in AGE]
                                        make a bearer token for remote clients and print it (shown only this
                                        once; only its hash is kept). read: read-only tools; full: every tool on
                                        its own and shared sessions (default); admin: every session. AGE: how
                                        long it works, e.g. 30d (default: until revoked)
          token list                    list tokens: name, scope, created, expires, revoked (never the tokens)
          token revoke NAME             revoke a token for good (its name is never reused)
          --version                     print the version
          -h, --help                    print this help
        options of every command (each also as an environment variable):
          --data-dir DIR                SESSION_MCP_DATA_DIR   (default $XDG_DATA_HOME/session-mcp or ~/.local/share/session-mcp)
          --backend local|docker        SESSION_MCP_BACKEND    default backend of session_create (default local)
          --sync normal|full            SESSION_MCP_SYNC       full = fsync every event (survives power loss)
          --shell PATH                  SESSION_MCP_SHELL      shell of the local backend (default /bin/sh)
          --docker-host URI             DOCKER_HOST            Docker engine (default unix:///var/run/docker.sock)
          --docker-image NAME           SESSION_MCP_DOCKER_IMAGE  default image (default session-mcp/busybox:latest)
          --docker-allow-network true|false  SESSION_MCP_DOCKER_ALLOW_NETWORK  allow network: "bridge" sessions (default false)
          --source-roots DIR[:DIR]      SESSION_MCP_SOURCE_ROOTS  where source_dir may copy from; a relative source_dir is
                                        taken from the first (default: the working directory)
          --docker-orphan-grace SECONDS SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS  reap unregistered containers older than this at start-up (default 60)
          --docker-pool-size N          SESSION_MCP_DOCKER_POOL_SIZE  idle containers kept ready per shape, 0 = no warm pool (default 2)
          --docker-pool-memory-mb MIB   SESSION_MCP_DOCKER_POOL_MEMORY_MB  the pool's memory limits together (default 4096)
          --result-budget CHARS         SESSION_MCP_RESULT_BUDGET  most characters one tool result may cost a model (default 40000)
          --history on|off              SESSION_MCP_HISTORY    record what each step changes in the workspace (default on)
          --history-ignore PATTERNS     SESSION_MCP_HISTORY_IGNORE  comma-separated gitignore patterns history leaves out, on
                                        top of .git/ and the workspace's .gitignore
          --history-max-file-bytes BYTES  SESSION_MCP_HISTORY_MAX_FILE_BYTES  larger files are recorded by hash and size only (default 4194304)
          --retain-outputs AGE          SESSION_MCP_RETAIN_OUTPUTS  a running server prunes full outputs older than AGE (at
                                        start, then hourly; default: never)
          --retain-events AGE           SESSION_MCP_RETAIN_EVENTS  ... and events older than AGE (default: never)
          --retain-bytes SIZE           SESSION_MCP_RETAIN_BYTES  ... and the oldest events beyond SIZE in all (default: never)
          --idle-after SECONDS          SESSION_MCP_IDLE_AFTER_SECONDS  a running session with no call or job this long shows as idle (default 60)
          --hibernate-after SECONDS     SESSION_MCP_HIBERNATE_AFTER_SECONDS  stop an idle session's container after this long; 0: never (default 1800)
          --health-interval SECONDS     SESSION_MCP_HEALTH_INTERVAL_SECONDS  how often helpers are checked for hangs; 0: never (default 30)
          --disk-mb MIB                 SESSION_MCP_DISK_MB  default workspace disk quota (loop-mounted ext4; needs root); 0: none (default 0)
          --max-sessions N              SESSION_MCP_MAX_SESSIONS  most sessions held at once (not destroyed); 0: no limit (default 0)
          --max-sessions-per-owner N    SESSION_MCP_MAX_SESSIONS_PER_OWNER  most sessions one token (or the local user) holds; 0: no limit
        """;

    private const string UsageHint = "run 'session-mcp --help' for the commands and options";

    /// <summary>How often <c>audit tail --follow</c> looks for new events.</summary>
    private static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var parsed = CommandLineParser.Parse(args);
        if (parsed is HelpRequested)
        {
            await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }
        if (parsed is VersionRequested)
        {
            await stdout.WriteLineAsync($"session-mcp {Version}").ConfigureAwait(false);
            return 0;
        }
        if (parsed is CommandLineError error)
        {
            return await UsageErrorAsync(stderr, error.Message).ConfigureAwait(false);
        }

        var command = (CommandRequested)parsed;
        ServerSettings settings;
        try
        {
            settings = ServerSettings.Resolve(command.Settings, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            return await UsageErrorAsync(stderr, e.Message).ConfigureAwait(false);
        }
        return command.Name switch
        {
            CommandLineParser.Serve => await ServeAsync(settings, command, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.Daemon => await RunDaemonAsync(settings, command, stdout, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.DaemonStop => await DaemonControl.StopAsync(settings, stdout, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.DaemonStatus => await DaemonControl.StatusAsync(settings, stdout, cancellationToken).ConfigureAwait(false),
            CommandLineParser.Attach => await AttachCommand.RunAsync(settings, command.Arguments, command.Write, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.Jobs => await ListJobsAsync(settings, command.Arguments[0], stdout, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.Sessions => WithCore(settings, services => ListSessions(services, settings, stdout)),
            CommandLineParser.AuditTail => await WithCoreAsync(settings, services => TailAsync(services, command, stdout, stderr, cancellationToken)).ConfigureAwait(false),
            CommandLineParser.AuditExport when command.Format == CommandLineParser.MarkdownFormat =>
                WithCore(settings, services => ExportMarkdown(services, stdout, stderr, command.Session, command.From)),
            CommandLineParser.AuditExport => WithCore(settings, services => Export(services, stdout, command.From, command.Session)),
            CommandLineParser.AuditVerify => WithCore(settings, services => Verify(services, command, stdout, stderr)),
            CommandLineParser.AuditPrune => WithCore(settings, services => Prune(services, command, stdout, stderr)),
            CommandLineParser.TerminalExport => await ExportTerminalAsync(settings, command.Arguments[0], command.Arguments[1], stdout, stderr, cancellationToken).ConfigureAwait(false),
            CommandLineParser.Export => await WithCoreAsync(settings, services => WorkCommands.ExportAsync(services, command, stdout, stderr, cancellationToken)).ConfigureAwait(false),
            CommandLineParser.Apply => await WithCoreAsync(settings, services => WorkCommands.ApplyAsync(services, command, stdout, stderr, cancellationToken)).ConfigureAwait(false),
            CommandLineParser.TokenCreate => WithCore(settings, services => TokenCommands.Create(services, command.TokenName!, command.TokenScope, command.TokenLifetime, stdout, stderr)),
            CommandLineParser.TokenList => WithCore(settings, services => TokenCommands.List(services, stdout)),
            CommandLineParser.TokenRevoke => WithCore(settings, services => TokenCommands.Revoke(services, command.Arguments[0], stdout, stderr)),
            _ => throw new InvalidOperationException($"the parser accepted '{command.Name}' but nothing runs it"),
        };
    }

    /// <summary>The assembly's informational version without the <c>+commit</c> suffix the SDK appends.</summary>
    private static string Version
    {
        get
        {
            var version = typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? typeof(CommandLine).Assembly.GetName().Version?.ToString(3)
                ?? "unknown";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? version : version[..plus];
        }
    }

    private static async Task<int> UsageErrorAsync(TextWriter stderr, string message)
    {
        await stderr.WriteLineAsync($"session-mcp: {message}\n{UsageHint}").ConfigureAwait(false);
        return 2;
    }

    private static async Task<int> RunDaemonAsync(ServerSettings settings, CommandRequested command, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        HttpSettings? http;
        try
        {
            http = HttpSettings.Resolve(command.Http, command.HttpUrls, command.HttpAllowRemote, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            return await UsageErrorAsync(stderr, e.Message).ConfigureAwait(false);
        }
        return await DaemonCommand.RunAsync(settings, http, stdout, stderr, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> ServeAsync(ServerSettings settings, CommandRequested command, TextWriter stderr, CancellationToken cancellationToken)
    {
        DaemonMode mode;
        try
        {
            mode = DaemonConnector.ResolveMode(command.Daemon, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            return await UsageErrorAsync(stderr, e.Message).ConfigureAwait(false);
        }
        if (mode != DaemonMode.Never)
        {
            var paths = new DaemonPaths(settings.DataDir);
            if (paths.SocketPathProblem is not { } problem)
            {
                return await RelayAsync(paths, mode, command, stderr, cancellationToken).ConfigureAwait(false);
            }
            if (mode == DaemonMode.Require)
            {
                await stderr.WriteLineAsync($"session-mcp: no daemon can serve this data directory: {problem}").ConfigureAwait(false);
                return 1;
            }
            await stderr.WriteLineAsync($"session-mcp: serving in this process, without a daemon: {problem}").ConfigureAwait(false);
        }

        // Never beside a daemon: two servers on one data directory each take the other's sessions for leftovers of a
        // crash (their processes killed, their running calls recorded as interrupted).
        Directory.CreateDirectory(settings.DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var daemonPaths = new DaemonPaths(settings.DataDir);
        using var beside = DaemonLock.TryAcquireShared(daemonPaths.Lock);
        if (beside is null)
        {
            var pid = daemonPaths.LiveDaemonPid() is { } running ? $" (pid {running})" : "";
            await stderr.WriteLineAsync($"session-mcp: a daemon serves {settings.DataDir}{pid}: connect to it with --daemon auto (the default) or require, or stop it first ('session-mcp daemon stop')").ConfigureAwait(false);
            return 1;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        // stdout is the protocol: every log line goes to stderr.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information)
            // The SDK logs every request twice at Information: noise in a client's log, and a cost on every call.
            .AddFilter("ModelContextProtocol", LogLevel.Warning)
            .AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Services.AddSessionCore(settings).AddSessionMcpServer().WithStdioServerTransport();
        builder.Services.AddHostedService<SessionResumer>();
        builder.Services.AddHostedService<AuditRetentionService>();
        builder.Services.AddHostedService<SessionLifecycleMonitor>();
        using var host = builder.Build();
        await host.RunAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    /// <summary><c>serve</c> through the daemon: connect (or start it), then copy bytes until the client closes stdin.</summary>
    private static async Task<int> RelayAsync(DaemonPaths paths, DaemonMode mode, CommandRequested command, TextWriter stderr, CancellationToken cancellationToken)
    {
        // A daemon this client starts gets the client's settings: the same flags (the data directory resolved), and
        // the environment and working directory it inherits.
        var daemonArguments = new List<string> { "--data-dir", paths.DataDir };
        foreach (var (name, value) in command.Settings.Where(s => s.Key != "data-dir"))
        {
            daemonArguments.Add($"--{name}={value}");
        }
        System.Net.Sockets.Socket socket;
        try
        {
            socket = await DaemonConnector.ConnectAsync(paths, mode, daemonArguments, stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (DaemonUnavailableException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        await using var input = Console.OpenStandardInput();
        await using var output = Console.OpenStandardOutput();
        return await StdioRelay.RunAsync(socket, input, output, stderr, cancellationToken).ConfigureAwait(false);
    }

    private static int WithCore(ServerSettings settings, Func<IServiceProvider, int> run)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSessionCore(settings);
        using var provider = services.BuildServiceProvider();
        return run(provider);
    }

    private static async Task<int> WithCoreAsync(ServerSettings settings, Func<IServiceProvider, Task<int>> run)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSessionCore(settings);
        await using var provider = services.BuildServiceProvider();
        return await run(provider).ConfigureAwait(false);
    }

    /// <summary>Copies a terminal's recording to stdout; it is written as the terminal runs, so a live one exports too.</summary>
    private static async Task<int> ExportTerminalAsync(ServerSettings settings, string sessionId, string terminalId, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (!SessionId.IsWellFormed(sessionId) || terminalId.Length > 64 || terminalId.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
        {
            await stderr.WriteLineAsync($"session-mcp: '{sessionId}' / '{terminalId}' is not a session id and a terminal id (s-… and t-…; see session_jobs)").ConfigureAwait(false);
            return 2;
        }
        var path = Path.Combine(settings.DataDir, "jobs", sessionId, terminalId + ".cast");
        if (!File.Exists(path))
        {
            await stderr.WriteLineAsync($"session-mcp: no recording of terminal {terminalId} in session {sessionId} under {settings.DataDir} (a job on pipes has none; a destroyed session's are removed)").ConfigureAwait(false);
            return 1;
        }
        await stdout.WriteAsync(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    /// <summary>A session's jobs and terminals as the daemon sees them now.</summary>
    private static async Task<int> ListJobsAsync(ServerSettings settings, string sessionId, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        await using var connection = await DaemonClient.ConnectAsync(settings, "jobs", stderr, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            return 1;
        }
        JsonElement listed;
        try
        {
            listed = await DaemonClient.CallAsync(connection.Client, "session_jobs", new() { ["session_id"] = sessionId }, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        await stdout.WriteLineAsync($"{"ID",-11} {"KIND",-8} {"STATE",-9} {"EXIT",5} {"OUTPUT",10} {"STARTED",-20} COMMAND").ConfigureAwait(false);
        foreach (var job in listed.GetProperty("jobs").EnumerateArray())
        {
            var state = job.GetProperty("state").GetString() + (job.TryGetProperty("waiting_for_input", out var waiting) && waiting.GetBoolean() ? "*" : "");
            var exit = job.TryGetProperty("exit_code", out var code) ? code.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture) : "-";
            var started = DateTimeOffset.Parse(job.GetProperty("started_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            await stdout.WriteLineAsync($"{job.GetProperty("job_id").GetString(),-11} {job.GetProperty("kind").GetString(),-8} {state,-9} {exit,5} {job.GetProperty("output_bytes").GetInt64(),10} {started:yyyy-MM-dd HH:mm:ss}  {job.GetProperty("command").GetString()}").ConfigureAwait(false);
        }
        if (listed.GetProperty("total").GetInt32() == 0)
        {
            await stdout.WriteLineAsync("(no jobs)").ConfigureAwait(false);
        }
        return 0;
    }

    private static int ListSessions(IServiceProvider services, ServerSettings settings, TextWriter stdout)
    {
        var sessions = services.GetRequiredService<SessionRegistry>().List();
        // This process cannot see the server's calls and jobs in flight: idle here is by last activity alone.
        var idleAfter = services.GetRequiredService<SessionMcp.SessionRouting.Routing.SessionRouterOptions>().IdleAfter;
        var now = DateTimeOffset.UtcNow;
        stdout.WriteLine($"{"ID",-11} {"BACKEND",-7} {"STATUS",-10} {"OWNER",-12} {"CREATED",-20} {"LAST ACTIVITY",-20} {"NAME",-16} CWD");
        foreach (var s in sessions)
        {
            stdout.WriteLine($"{s.Id,-11} {s.Backend,-7} {SessionMcp.SessionRouting.Routing.SessionRouter.DisplayStatus(s, idleAfter, now),-10} {s.Owner,-12} {s.CreatedAt:yyyy-MM-dd HH:mm:ss}  {s.LastActivityAt:yyyy-MM-dd HH:mm:ss}  {s.Name ?? "-",-16} {s.Cwd}");
        }
        if (sessions.Count == 0)
        {
            stdout.WriteLine("(no sessions)");
        }
        if (SessionMcp.Containers.Docker.Pool.PoolReport.DescribeAsync(settings.DockerHost, settings.DataDir).GetAwaiter().GetResult() is { } pool)
        {
            stdout.WriteLine(pool);
        }
        return 0;
    }

    private static async Task<int> TailAsync(IServiceProvider services, CommandRequested command, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var audit = services.GetRequiredService<AuditLog>();
        if (command.Session is { } session
            && services.GetRequiredService<SessionRegistry>().Find(session) is null
            && audit.ReadSession(session, 1, 1).Count == 0)
        {
            await stderr.WriteLineAsync($"session-mcp: no session {session} in {services.GetRequiredService<ServerSettings>().DataDir}; 'session-mcp sessions' lists them (with the same --data-dir)").ConfigureAwait(false);
            return 2;
        }

        // Read before the last events, so that an event appended in between is printed once: by the first read or the next.
        var seen = audit.LastSeq();
        var last = audit.ReadLast(command.Count, command.Session);
        await WriteLinesAsync(stdout, last).ConfigureAwait(false);
        if (!command.Follow)
        {
            return 0;
        }

        seen = Math.Max(seen, last.Count == 0 ? 0 : last[^1].Seq);
        using var stop = StopOnSignals(cancellationToken);
        using var ticks = new PeriodicTimer(FollowInterval);
        try
        {
            // Polling is what works across processes: the server appends in its own connection, and every read here
            // sees what it has committed (WAL readers never block the writer).
            while (await ticks.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
            {
                var page = command.Session is null ? audit.ReadRange(seen + 1, 1000) : audit.ReadSession(command.Session, seen + 1, 1000);
                if (page.Count > 0)
                {
                    await WriteLinesAsync(stdout, page).ConfigureAwait(false);
                    seen = page[^1].Seq;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Ctrl-C or SIGTERM: the normal end of a follow.
        }
        return 0;
    }

    private static async Task WriteLinesAsync(TextWriter stdout, IEnumerable<AuditEvent> events)
    {
        foreach (var e in events)
        {
            await stdout.WriteLineAsync(Transcript.RenderLine(e)).ConfigureAwait(false);
        }
        // A follower is usually piped (grep, a test): each event must leave the process as soon as it is read.
        await stdout.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>A token cancelled by Ctrl-C (SIGINT) or SIGTERM, which then end the process normally instead of killing it.</summary>
    private static SignalStop StopOnSignals(CancellationToken cancellationToken)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
        return new SignalStop(stop, [PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel)]);
    }

    private sealed class SignalStop(CancellationTokenSource source, PosixSignalRegistration[] registrations) : IDisposable
    {
        public CancellationToken Token => source.Token;

        public bool IsCancellationRequested => source.IsCancellationRequested;

        public void Dispose()
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
            source.Dispose();
        }
    }

    /// <summary>Every event from <paramref name="from"/> on (of one session, when given), read a page at a time.</summary>
    private static IEnumerable<AuditEvent> ReadEvents(AuditLog audit, long from, string? session)
    {
        while (true)
        {
            var page = session is null ? audit.ReadRange(from, 1000) : audit.ReadSession(session, from, 1000);
            foreach (var e in page)
            {
                yield return e;
            }
            if (page.Count < 1000)
            {
                yield break;
            }
            from = page[^1].Seq + 1;
        }
    }

    private static int ExportMarkdown(IServiceProvider services, TextWriter stdout, TextWriter stderr, string? session, long from)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var registry = services.GetRequiredService<SessionRegistry>();
        var events = ReadEvents(audit, from, session).ToList();
        if (session is not null && events.Count == 0 && registry.Find(session) is null)
        {
            stderr.WriteLine($"session-mcp: no session {session} in {services.GetRequiredService<ServerSettings>().DataDir}; 'session-mcp sessions' lists them (with the same --data-dir)");
            return 2;
        }
        // Each step's workspace diff comes from history once it is recorded; without it the report shows the calls only.
        var history = services.GetRequiredService<HistoryStore>();
        var bySeq = events.ToDictionary(e => e.Seq);
        string? StepDiff(long seq) =>
            bySeq.TryGetValue(seq, out var e) && e.Entry.SessionId is { } id && e.Entry.Summary?.Contains("\"workspace\"", StringComparison.Ordinal) == true
                ? GitPatch.Write(history.Changes(id, seq - 1, seq), history, PatchStyle.Review).Text
                : null;
        stdout.Write(session is null
            ? SessionRouting.History.AuditReport.RenderAll(events, registry.Find, StepDiff)
            : SessionRouting.History.AuditReport.Render(session, registry.Find(session), events, StepDiff));
        return 0;
    }

    private static int Export(IServiceProvider services, TextWriter stdout, long from, string? session)
    {
        foreach (var e in ReadEvents(services.GetRequiredService<AuditLog>(), from, session))
        {
            var line = new JsonObject
            {
                ["seq"] = e.Seq,
                ["time"] = HashChain.FormatTime(e.Entry.Time),
                ["session_id"] = e.Entry.SessionId,
                ["kind"] = e.Entry.Kind,
                ["tool"] = e.Entry.Tool,
                ["client"] = e.Entry.Client,
                ["principal"] = e.Entry.Principal,
                ["arguments"] = Transcript.Parse(e.Entry.Arguments),
                ["outcome"] = e.Entry.Outcome,
                ["error"] = e.Entry.Error,
                ["summary"] = Transcript.Parse(e.Entry.Summary),
                ["duration_ms"] = e.Entry.DurationMs,
                ["output"] = Transcript.Parse(e.Entry.Output),
                ["prev_hash"] = e.PrevHash,
                ["hash"] = e.Hash,
            };
            if (e.Encoding == HashChain.EncodingV3)
            {
                // What the hash covers instead of the output, so the line can be verified without the store.
                line["hash_version"] = e.Encoding;
                line["output_digest"] = e.OutputDigest;
            }
            if (e.OutputPruned)
            {
                line["output_pruned"] = true;
            }
            if (e.Corruption is { } corruption)
            {
                // The row was changed behind the store's back; its placeholders are named here with the raw values.
                line["corruption"] = corruption;
            }
            stdout.WriteLine(line.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        }
        return 0;
    }

    private static int Verify(IServiceProvider services, CommandRequested command, TextWriter stdout, TextWriter stderr)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var report = audit.VerifyAll();
        var head = audit.Head();
        var failed = false;
        var crossed = report.Checkpoints == 0 ? ""
            : $"; {report.PrunedEvents} pruned events crossed through {report.CheckpointsCrossed} checkpoints, {report.OutputsPruned} outputs pruned, {report.Checkpoints} checkpoints checked";
        if (report.Break is null)
        {
            // The head hash commits to the whole log: recorded elsewhere, it also exposes a log rewritten from scratch.
            stdout.WriteLine($"audit chain intact: {report.Checked} events verified{crossed}; head event {head.Seq}, head hash {head.Hash}");
        }
        else
        {
            stderr.WriteLine($"audit chain BROKEN at event {report.Break.Seq}: {report.Break.Reason}");
            failed = true;
        }

        // The head the server recorded outside the database catches a deleted tail even when the counter was reset too.
        var headFile = new AuditHeadFile(Path.Combine(services.GetRequiredService<ServerSettings>().DataDir, AuditHeadFile.FileName));
        try
        {
            if (headFile.Read() is { } recorded)
            {
                if (audit.CheckHead(recorded.Seq, recorded.Hash) is { } mismatch)
                {
                    stderr.WriteLine($"audit head MISMATCH with the head the server recorded in {headFile.Path}: {mismatch}");
                    failed = true;
                }
                else
                {
                    stdout.WriteLine($"recorded head found: event {recorded.Seq}, hash {recorded.Hash} ({headFile.Path})");
                }
            }
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"audit head file {headFile.Path} is unreadable: {e.Message}");
            failed = true;
        }

        if (command.ExpectSeq is not null || command.ExpectHead is not null)
        {
            var expected = string.Join(", ", new[] { command.ExpectSeq is { } s ? $"event {s}" : null, command.ExpectHead is { } h ? $"hash {h}" : null }.OfType<string>());
            if (audit.CheckHead(command.ExpectSeq, command.ExpectHead) is { } mismatch)
            {
                stderr.WriteLine($"audit head MISMATCH: {mismatch}");
                failed = true;
            }
            else
            {
                stdout.WriteLine($"expected head found: {expected}");
            }
        }
        failed |= !VerifyWorkspaceHistory(services, stdout, stderr);
        return failed ? 1 : 0;
    }

    /// <summary>Workspace history: each step's rows against the digest its (hash-chained) event recorded, and every
    /// stored content against its hash. Returns whether all of it checks out.</summary>
    private static bool VerifyWorkspaceHistory(IServiceProvider services, TextWriter stdout, TextWriter stderr)
    {
        var (steps, blobs, problems) = HistoryVerification.Check(services.GetRequiredService<HistoryStore>(), services.GetRequiredService<AuditLog>());
        foreach (var problem in problems.Take(50))
        {
            stderr.WriteLine($"workspace history BROKEN: {problem}");
        }
        if (problems.Count > 50)
        {
            stderr.WriteLine($"... and {problems.Count - 50} more");
        }
        if (problems.Count == 0)
        {
            stdout.WriteLine($"workspace history intact: {steps} steps match their events, {blobs} stored contents match their hashes");
        }
        return problems.Count == 0;
    }
    private static int Prune(IServiceProvider services, CommandRequested command, TextWriter stdout, TextWriter stderr)
    {
        var policy = command.Retention!;
        if (policy.SessionId is { } session && services.GetRequiredService<AuditLog>().ReadSession(session, 1, 1).Count == 0)
        {
            stderr.WriteLine($"session-mcp: no events of session '{session}' to prune; 'session-mcp sessions' lists the sessions");
            return 1;
        }
        PruneReport report;
        try
        {
            report = services.GetRequiredService<AuditRetention>().Prune(policy, Principal.LocalName, command.DryRun);
        }
        catch (AuditChainBrokenException e)
        {
            stderr.WriteLine($"session-mcp: {e.Message}");
            return 1;
        }
        var what = policy.OutputsOnly ? $"the outputs of {report.Outputs} events" : $"{report.Events} events";
        var count = policy.OutputsOnly ? report.Outputs : report.Events;
        var range = count == 0 ? "" : report.FirstSeq == report.LastSeq ? $" (event {report.FirstSeq})" : $" (events {report.FirstSeq}..{report.LastSeq})";
        var size = FormatBytes(report.Bytes);
        if (count == 0)
        {
            stdout.WriteLine("nothing to prune: no event is beyond these limits");
        }
        else if (command.DryRun)
        {
            stdout.WriteLine($"would prune {what}{range}, {size}; nothing was removed (--dry-run)");
        }
        else
        {
            var checkpoints = report.Checkpoint == report.LastCheckpoint ? $"checkpoint {report.Checkpoint}" : $"checkpoints {report.Checkpoint}..{report.LastCheckpoint}";
            stdout.WriteLine($"pruned {what}{range}, {size}, under {checkpoints} (the last recorded as event {report.EventSeq}); audit verify checks the chain across it. The database reuses the space; VACUUM shrinks the file");
        }
        if (report.OldOutputsKept > 0)
        {
            stdout.WriteLine($"{report.OldOutputsKept} outputs of events older than retention kept: their hash covers the output itself, so they go only with their events (prune without --outputs-only)");
        }
        return 0;
    }

    private static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB"),
        >= 1L << 20 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB"),
        >= 1L << 10 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.#} KiB"),
        _ => $"{bytes} bytes",
    };
}
