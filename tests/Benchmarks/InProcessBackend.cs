using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.Containers.Local;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.Benchmarks;

/// <summary>
/// The local backend called directly, without MCP, router, registry or audit: what the shell wrapper, its state file
/// and the runner cost. The difference to the MCP row is the server's per-call overhead.
/// </summary>
internal sealed class InProcessBackend : IDisposable
{
    private const int CaptureBytes = 1024 * 1024;

    private readonly string _sessionsDir;
    private readonly LocalBackend _backend;
    private readonly SessionRecord _session;

    private InProcessBackend(string sessionsDir, LocalBackend backend, SessionRecord session)
    {
        _sessionsDir = sessionsDir;
        _backend = backend;
        _session = session;
    }

    public static async Task<InProcessBackend> CreateAsync(CancellationToken cancellationToken)
    {
        var sessionsDir = Directory.CreateTempSubdirectory("session-mcp-bench-backend-").FullName;
        var backend = new LocalBackend(new LocalBackendOptions { SessionsDir = sessionsDir }, NullLogger<LocalBackend>.Instance);
        const string sessionId = "s-benchmark";
        var provisioned = await backend.CreateAsync(new NewSessionSpec(sessionId, null, new Dictionary<string, string>(), null, null, null, null), cancellationToken).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var session = new SessionRecord(sessionId, null, backend.Name, SessionStatus.Running, provisioned.WorkspaceHostPath, provisioned.WorkspacePath,
            provisioned.WorkspacePath, provisioned.Env, now, now, provisioned.BackendState, null);
        return new InProcessBackend(sessionsDir, backend, session);
    }

    public async Task ExecAsync(string command, CancellationToken cancellationToken)
    {
        var request = new ExecRequest(command, _session.Cwd, _session.Env, new Dictionary<string, string>(), null, TimeSpan.FromMinutes(2),
            new OutputCapture(CaptureBytes), new OutputCapture(CaptureBytes));
        var outcome = await _backend.ExecAsync(_session, request, cancellationToken).ConfigureAwait(false);
        if (outcome.ExitCode != 0)
        {
            throw new InvalidOperationException($"LocalBackend.ExecAsync {command} exited with {outcome.ExitCode}");
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_sessionsDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
