using System.ComponentModel;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Tools;

/// <summary>Creating, listing and destroying sessions.</summary>
[McpServerToolType]
internal sealed class SessionLifecycleTools(SessionRouter router)
{
    [McpServerTool(Name = "session_create", Title = "Create a work session", Destructive = false, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Creates an isolated work session with its own workspace directory and persistent shell state (working directory and exported variables carry over between session_exec calls). Returns the session_id every other session_* tool needs. Sessions outlive this connection and server restarts.")]
    public async Task<SessionInfo> CreateAsync(
        [Description("Where commands run: \"local\" (a directory on the server's host) or \"docker\" (a hardened container). Defaults to the server's configured backend.")] string? backend = null,
        [Description("A label for humans, shown by session_list.")] string? name = null,
        [Description("Environment variables exported in the session from the start (names like API_TOKEN are redacted in the audit log).")] Dictionary<string, string>? env = null,
        [Description("A directory on the server to copy into the new workspace: absolute, or relative to the server's first source root (by default the directory the server runs in). It must be under one of the source roots.")] string? source_dir = null,
        [Description("docker only: the image to run (default from the server configuration).")] string? image = null,
        [Description("docker only: \"none\" (default) or \"bridge\" if the server allows networking.")] string? network = null,
        [Description("docker only: memory limit in MiB, within the server's maximum.")] long? memory_mb = null,
        [Description("docker only: CPU limit (e.g. 1.5), within the server's maximum.")] double? cpus = null,
        [Description("docker only: maximum number of processes, within the server's maximum.")] long? pids_limit = null,
        CancellationToken cancellationToken = default)
    {
        if (name is { Length: > 200 })
        {
            throw new SessionException("name is longer than 200 characters; use a shorter label");
        }
        var limits = memory_mb is null && cpus is null && pids_limit is null
            ? null
            : new ResourceLimits(memory_mb * 1024 * 1024, cpus, pids_limit);
        var session = await router.CreateAsync(new NewSessionRequest(backend, name, ToolArguments.Env(env), source_dir, image, network, limits), cancellationToken).ConfigureAwait(false);
        if (CallAudit.Current is { } call)
        {
            call.SessionId = session.Id;
            call.Summary = new JsonObject { ["backend"] = session.Backend, ["workdir"] = session.WorkspacePath };
        }
        return SessionInfo.From(session);
    }

    [McpServerTool(Name = "session_list", Title = "List sessions", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Lists every session this server knows, including destroyed (stopped) and lost ones, with backend, status, current working directory and last activity.")]
    public async Task<SessionList> ListAsync(CancellationToken cancellationToken = default)
    {
        var sessions = await router.ListAsync(cancellationToken).ConfigureAwait(false);
        CallAudit.Current?.Summary = new JsonObject { ["count"] = sessions.Count };
        return new SessionList([.. sessions.Select(SessionInfo.From)], 0);
    }

    [McpServerTool(Name = "session_destroy", Title = "Destroy a session", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Stops a session: kills its processes (or removes its container) and deletes its workspace unless keep_workspace is true. Its audit history stays readable with session_replay.")]
    public async Task<SessionInfo> DestroyAsync(
        [Description("The session to destroy.")] string session_id,
        [Description("Keep the workspace directory on the server (default false).")] bool keep_workspace = false,
        CancellationToken cancellationToken = default)
    {
        var session = await router.DestroyAsync(session_id, keep_workspace, cancellationToken).ConfigureAwait(false);
        CallAudit.Current?.Summary = new JsonObject { ["keep_workspace"] = keep_workspace };
        return SessionInfo.From(session);
    }
}

/// <summary>A session as tools report it.</summary>
internal sealed record SessionInfo(
    string SessionId,
    string? Name,
    string Backend,
    string Status,
    string? StatusDetail,
    string Workdir,
    string Cwd,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivityAt,
    long EventSeq)
{
    public static SessionInfo From(SessionRecord s) =>
        new(s.Id, s.Name, s.Backend, s.StatusText, s.StatusDetail, s.WorkspacePath, s.Cwd, s.CreatedAt, s.LastActivityAt, 0);
}

/// <summary>The result of session_list.</summary>
internal sealed record SessionList(IReadOnlyList<SessionInfo> Sessions, long EventSeq);
