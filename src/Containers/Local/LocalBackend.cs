using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.Containers.Local;

/// <summary>
/// Sessions as directories on the server's host; each command is a fresh shell in its own process session, so a timeout
/// kills its whole tree. This backend confines the file tools to the workspace, but commands run with the server user's
/// rights: it is a convenience, not an isolation boundary (use the docker backend for that).
/// </summary>
internal sealed partial class LocalBackend(LocalBackendOptions options, ILogger<LocalBackend> logger) : ISessionBackend
{
    /// <summary>Every command's environment carries its session's ID, so leftovers can be found and killed on destroy.</summary>
    public const string SessionMarkerVariable = "SESSION_MCP_SESSION";

    public string Name => "local";

    public Task<ProvisionedSession> CreateAsync(NewSessionSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Image is not null || spec.Network is not null || spec.Limits is not null)
        {
            throw new SessionException("image, network and limits apply to the docker backend only; drop them or use backend: \"docker\"");
        }
        WorkspaceSeeding.SecureSessionsRoot(options.SessionsDir);
        var sessionDir = Path.Combine(options.SessionsDir, spec.SessionId);
        var workspace = Path.Combine(sessionDir, "workspace");
        Directory.CreateDirectory(Path.Combine(sessionDir, "state"));
        if (spec.SourceDir is not null)
        {
            WorkspaceSeeding.CopyDirectory(spec.SourceDir, workspace, spec.MaxSourceBytes, skip: spec.SourceSkip);
        }
        else
        {
            Directory.CreateDirectory(workspace);
        }
        workspace = Libc.CanonicalPath(workspace) ?? workspace;

        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // A small, predictable environment: the server's own variables (which may hold its credentials) are not
            // passed on; only what programs need to run.
            ["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = workspace,
            ["LANG"] = "C.UTF-8",
            ["TERM"] = "dumb",
            ["SHELL"] = options.Shell,
        };
        if (Environment.GetEnvironmentVariable("USER") is { } user)
        {
            env["USER"] = user;
        }
        foreach (var (key, value) in spec.Env)
        {
            env[key] = value;
        }
        return Task.FromResult(new ProvisionedSession(workspace, workspace, env, null));
    }

    public async Task<ExecOutcome> ExecAsync(SessionRecord session, ExecRequest request, CancellationToken cancellationToken)
    {
        var workspace = session.WorkspaceHostPath;
        if (!Directory.Exists(workspace))
        {
            throw new SessionLostException($"its workspace directory {workspace} no longer exists");
        }
        var stateDir = Path.Combine(options.SessionsDir, session.Id, "state");
        Directory.CreateDirectory(stateDir);
        var stateFile = Path.Combine(stateDir, $"exec-{Guid.NewGuid():N}");

        var environment = new Dictionary<string, string>(request.SessionEnv, StringComparer.Ordinal);
        foreach (var (key, value) in request.CallEnv)
        {
            environment[key] = value;
        }
        environment[SessionMarkerVariable] = session.Id;

        var spec = new ProcessRunSpec(
            options.Shell,
            ["-c", ShellWrapper.Script, ShellWrapper.ArgumentZero, stateFile, request.Cwd, request.Command, workspace],
            environment,
            workspace,
            request.Stdin,
            request.Timeout);
        try
        {
            var result = await LocalProcessRunner.RunAsync(spec, request.Stdout, request.Stderr, cancellationToken).ConfigureAwait(false);
            var state = result.TimedOut ? null : ShellWrapper.ParseState(TryReadAll(stateFile));
            state?.Env.Remove(SessionMarkerVariable);
            return new ExecOutcome(result.ExitCode, result.TimedOut, result.Duration, state?.Cwd, state?.Env);
        }
        finally
        {
            File.Delete(stateFile);
        }
    }

    public WorkspaceLocation GetWorkspace(SessionRecord session) => new(session.WorkspaceHostPath, session.WorkspacePath);

    public Task<ProbeResult> ProbeAsync(SessionRecord session, CancellationToken cancellationToken) =>
        Task.FromResult(Directory.Exists(session.WorkspaceHostPath)
            ? new ProbeResult(SessionStatus.Running, "workspace present")
            : new ProbeResult(SessionStatus.Lost, $"its workspace directory {session.WorkspaceHostPath} no longer exists"));

    public Task DestroyAsync(SessionRecord session, bool keepWorkspace, CancellationToken cancellationToken)
    {
        var killed = SessionProcesses.KillAll(SessionMarkerVariable, session.Id);
        if (killed > 0)
        {
            LogKilledLeftovers(logger, killed, session.Id);
        }
        var sessionDir = Path.Combine(options.SessionsDir, session.Id);
        if (keepWorkspace)
        {
            TryDelete(Path.Combine(sessionDir, "state"));
        }
        else
        {
            TryDelete(sessionDir);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Nothing to reap: a local session owns no resource beyond its directory, which destroy removes. At start-up this
    /// also closes a sessions directory an older version (or an operator) left open to other users.
    /// </summary>
    public Task<int> ReapOrphansAsync(IReadOnlyCollection<SessionRecord> sessions, CancellationToken cancellationToken)
    {
        if (Directory.Exists(options.SessionsDir))
        {
            try
            {
                WorkspaceSeeding.SecureSessionsRoot(options.SessionsDir);
            }
            catch (SessionException e)
            {
                // Existing sessions stay usable; creating a new one fails with the same reason until it is fixed.
                LogSessionsDirOpen(logger, e.Message);
            }
        }
        return Task.FromResult(0);
    }

    private static string? TryReadAll(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static void TryDelete(string directory) => WorkspaceRemoval.RemoveTree(directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Reason}")]
    private static partial void LogSessionsDirOpen(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Killed {Count} leftover processes of session {SessionId}")]
    private static partial void LogKilledLeftovers(ILogger logger, int count, string sessionId);
}
