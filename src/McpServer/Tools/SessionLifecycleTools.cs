using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using ModelContextProtocol.Server;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using ModelContextProtocol.Protocol;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Tools;

/// <summary>Creating, listing and destroying sessions.</summary>
[McpServerToolType]
internal sealed class SessionLifecycleTools(SessionRouter router, ResultBudget budget)
{
    [McpServerTool(Name = "session_create", Title = "Create a work session", Destructive = false, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Creates an isolated work session with its own workspace directory and persistent shell state (cwd and exported variables carry over between session_exec calls). Returns the session_id the other tools need. Sessions outlive this connection and server restarts.")]
    public async Task<SessionResult> CreateAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("\"local\" (a directory on the server's host) or \"docker\" (a hardened container); default: the server's.")][AllowedValues("local", "docker")] string? backend = null,
        [Description("A label for humans, shown by session_list.")] string? name = null,
        [Description("Variables exported in the session from the start (names like API_TOKEN are redacted in the audit log).")] Dictionary<string, string>? env = null,
        [Description("A server directory to copy into the workspace: absolute, or relative to the server's first source root (default: its working directory); it must be under a source root.")] string? source_dir = null,
        [Description("docker only: the image (default: the configured one).")] string? image = null,
        [Description("docker only: \"none\" (default) or \"bridge\" if the server allows it.")][AllowedValues("none", "bridge")] string? network = null,
        [Description("docker only: memory limit in MiB, within the server's maximum.")] long? memory_mb = null,
        [Description("docker only: CPUs (e.g. 1.5), within the server's maximum.")] double? cpus = null,
        [Description("docker only: most processes, within the server's maximum.")] long? pids_limit = null,
        [Description("Workspace disk quota in MiB.")] long? disk_mb = null,
        [Description("docker: recreate a dead container.")][AllowedValues("on-failure")] string? restart = null,
        CancellationToken cancellationToken = default)
    {
        if (name is { Length: > 200 })
        {
            throw new SessionException("name is longer than 200 characters; use a shorter label");
        }
        if (image is not null)
        {
            ToolArguments.RequireText(image, "image");
        }
        var limits = memory_mb is null && cpus is null && pids_limit is null
            ? null
            : new ResourceLimits(memory_mb, cpus, pids_limit);
        var call = CallAudit.Of(request);
        var session = await router.CreateAsync(new NewSessionRequest(backend, name, ToolArguments.Env(env), source_dir, image, network, limits, disk_mb, restart), call.Caller, cancellationToken).ConfigureAwait(false);
        call.SessionId = session.Id;
        call.Summary = new JsonObject { ["backend"] = session.Backend, ["workdir"] = session.WorkspacePath };
        return call.Complete(SessionResult.From(session));
    }

    [McpServerTool(Name = "session_list", Title = "List sessions", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Lists sessions: backend, status (running, idle, hibernated: the next command resumes it, lost: see status_detail, stopped), cwd, last activity.")]
    public async Task<SessionList> ListAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var records = await router.ListAsync(call.Caller, cancellationToken).ConfigureAwait(false);
        var usage = await router.UsageAsync(records, cancellationToken).ConfigureAwait(false);
        var sessions = records.OrderByDescending(s => s.LastActivityAt)
            .Select(s => SessionInfo.From(s, router.DisplayStatus(s)) .Listed(usage.GetValueOrDefault(s.Id), router.HealthOf(s.Id))).ToList();
        call.Summary = new JsonObject { ["count"] = sessions.Count };
        return call.Complete(budget.Fit(sessions.Count, shown => SessionList.Create(sessions, shown)));
    }

    [McpServerTool(Name = "session_destroy", Title = "Destroy a session", Destructive = true, Idempotent = false, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Stops a session: kills its processes (or removes its container) and deletes its workspace unless keep_workspace is true. Its audit history stays readable with session_replay.")]
    public async Task<SessionResult> DestroyAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to destroy.")] string session_id,
        [Description("Keep the workspace directory on the server (default false).")] bool keep_workspace = false,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var session = await router.DestroyAsync(call.Caller, session_id, keep_workspace, cancellationToken).ConfigureAwait(false);
        call.Summary = new JsonObject { ["keep_workspace"] = keep_workspace };
        return call.Complete(SessionResult.From(session));
    }
}

/// <summary>A session as tools report it.</summary>
internal record SessionInfo
{
    public required string SessionId { get; init; }

    public string? Name { get; init; }

    public required string Backend { get; init; }

    /// <summary>running, idle, hibernated, lost or stopped.</summary>
    public required string Status { get; init; }

    public string? StatusDetail { get; init; }

    /// <summary>The workspace root as the session's commands see it.</summary>
    public required string Workdir { get; init; }

    public required string Cwd { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset LastActivityAt { get; init; }

    /// <summary>The token that made the session; absent for the server's own (local) user's sessions.</summary>
    public string? Owner { get; init; }

    /// <summary>The session this one was forked from (session_fork), and the event of that session it started at.</summary>
    public string? ForkedFrom { get; init; }

    public long? ForkSeq { get; init; }


    /// <summary>on-failure when a dead or hung container is recreated (in the text line only: the schema stays small).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Restart { get; init; }

    /// <summary>The workspace's disk quota in MiB; absent: none.</summary>
    public long? DiskMb { get; init; }

    /// <param name="status">The status to show (idle is the router's to decide); null: the stored one.</param>
    public static SessionInfo From(SessionRecord s, string? status = null) => new()
    {
        SessionId = s.Id,
        Name = s.Name,
        Backend = s.Backend,
        Status = status ?? s.StatusText,
        Restart = s.RestartPolicy,
        DiskMb = s.DiskMb,
        StatusDetail = s.StatusDetail,
        Workdir = s.WorkspacePath,
        Cwd = s.Cwd,
        CreatedAt = s.CreatedAt,
        LastActivityAt = s.LastActivityAt,
        Owner = s.Owner == SessionRouting.Access.Principal.LocalName ? null : s.Owner,
        ForkedFrom = s.Origin.ParentId,
        ForkSeq = s.Origin.ParentId is null ? null : s.Origin.ForkSeq,
    };

    /// <summary>What a derived view adds to <see cref="Line"/>.</summary>
    protected virtual string Extra() => "";

    /// <summary>The session as session_list shows it, with what it uses and its last health check.</summary>
    public ListedSession Listed(SessionUsage? resources, SessionHealth? health) => new(this) { Resources = resources, Health = health };

    /// <summary>One line: id, name, backend, status, cwd, last activity.</summary>
    public string Line() =>
        string.Create(CultureInfo.InvariantCulture, $"{SessionId} {(Name is null ? "" : $"\"{Name}\" ")}{Backend} {Status}{(StatusDetail is null ? "" : $" ({StatusDetail})")}{(Owner is null ? "" : $", owner {Owner}")}{(DiskMb is null ? "" : $", disk quota {DiskMb} MiB")}{(Restart is null ? "" : $", restart {Restart}")}{(ForkedFrom is null ? "" : $", forked from {ForkedFrom} at event {ForkSeq}")}{Extra()}, cwd {Cwd}, last activity {LastActivityAt:yyyy-MM-dd HH:mm:ss}Z");
}

/// <summary>A session in session_list: what it uses now and its last health check too.</summary>
internal sealed record ListedSession : SessionInfo
{
    [SetsRequiredMembers]
    public ListedSession(SessionInfo session)
        : base(session)
    {
    }

    /// <summary>What it uses now (running sessions): processes, resident memory, CPU seconds in all.</summary>
    public SessionUsage? Resources { get; init; }

    /// <summary>The last health check (docker: the container is there and its helper answers).</summary>
    public SessionHealth? Health { get; init; }

    protected override string Extra() =>
        (Health is { State: not "ok" } h ? $", health {h.State}" : "")
        + (Resources is { } r ? string.Create(CultureInfo.InvariantCulture, $", {r.Processes} processes, {r.MemoryBytes / 1048576.0:0.#} MiB, {r.CpuSeconds:0.##} s CPU") : "");
}

/// <summary>The result of session_create and session_destroy: the session and the event that recorded the call.</summary>
internal sealed record SessionResult : SessionInfo, IToolResult
{
    [SetsRequiredMembers]
    private SessionResult(SessionInfo session)
        : base(session)
    {
    }

    public required long EventSeq { get; init; }

    public static SessionResult From(SessionRecord s) => new(SessionInfo.From(s));

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() => $"session {Line()}, workdir {Workdir}, event_seq {EventSeq}";
}

/// <summary>The result of session_list: the most recently active sessions that fit, and how many did not.</summary>
internal sealed record SessionList(IReadOnlyList<ListedSession> Sessions, int Total, long EventSeq) : IToolResult
{
    public static SessionList Create(IReadOnlyList<ListedSession> sessions, int shown) => new([.. sessions.Take(shown)], sessions.Count, 0);

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = new StringBuilder($"{Total} {(Total == 1 ? "session" : "sessions")}, event_seq {EventSeq}");
        if (Sessions.Count < Total)
        {
            text.Append(CultureInfo.InvariantCulture, $"; the {Sessions.Count} most recently active shown");
        }
        foreach (var session in Sessions)
        {
            text.Append('\n').Append(session.Line());
        }
        return text.ToString();
    }
}
