using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.McpServer.Results;
using SessionMcp.McpServer.Tools;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Attention;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>
/// The dashboard over HTTP. Its page and scripts are public (they hold no data); everything under <c>/dashboard/api</c>
/// and <c>/metrics</c> needs a bearer token and shows only the sessions that token may see, by the same rules as the
/// tools (<see cref="SessionRouter.Get"/>). These endpoints only read: every action a person takes (typing, killing a
/// job, restoring) is an MCP tools/call the page makes on <c>/mcp</c> with the same token, audited and refused like any.
/// Looking at a session (<c>POST .../seen</c>) clears its attention flags and changes nothing else.
/// </summary>
internal static class DashboardEndpoints
{
    public const string Root = "/dashboard";

    private const int EventPage = 200;
    private const int MaxOutputChars = 8000;
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    // The page loads nothing from elsewhere (no CDN) and talks only to its own origin; xterm.js sets inline styles.
    private const string ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", context => Redirect(context));
        // Routing takes /dashboard and /dashboard/ for one path; the page's relative links need the slash.
        app.MapGet(Root, context => context.Request.Path.Value!.EndsWith('/') ? Asset(context, "index.html") : Redirect(context));
        app.MapGet(Root + "/{file}", (HttpContext context, string file) => Asset(context, file));

        var api = app.MapGroup(Root + "/api").RequireAuthorization();
        api.MapGet("/me", Me);
        api.MapGet("/sessions", Sessions);
        api.MapGet("/sessions/{sessionId}/events", Events);
        api.MapGet("/sessions/{sessionId}/jobs/{jobId}/stream", JobStream);
        api.MapGet("/sessions/{sessionId}/terminals/{terminalId}/recording", Recording);
        api.MapGet("/sessions/{sessionId}/report.md", Report);
        api.MapPost("/sessions/{sessionId}/seen", Seen);
        api.MapGet("/feed", Feed);

        // A token is needed here too: the counts describe the daemon's activity, and a daemon may listen beyond loopback.
        // Prometheus sends one with `authorization: {credentials_file: ...}`; a read token is enough.
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.RequestServices.GetRequiredService<DaemonMetrics>().Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }).RequireAuthorization();
    }

    private static Task Redirect(HttpContext context)
    {
        context.Response.Redirect(Root + "/");
        return Task.CompletedTask;
    }

    private static async Task Asset(HttpContext context, string file)
    {
        if (DashboardAssets.Find(file) is not { } asset)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=utf-8";
            var why = DashboardAssets.TerminalFiles.Contains(file)
                ? $"{file} was not built into this session-mcp: its build had no npm (the dashboard works, without its terminal view). Build with Node.js and npm on the PATH to include it."
                : $"no dashboard file {file}";
            await context.Response.WriteAsync(why + "\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        context.Response.ContentType = asset.ContentType;
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.Body.WriteAsync(asset.Bytes, context.RequestAborted).ConfigureAwait(false);
    }

    private static IResult Me(HttpContext context)
    {
        var principal = PrincipalOf(context);
        return Json(new JsonObject
        {
            ["principal"] = principal.Name,
            ["scope"] = AccessScopes.Name(principal.Scope),
            ["terminal_view"] = DashboardAssets.HasTerminal,
        });
    }

    /// <summary>The sessions the token may see, as <c>session_list</c> shows them, with their jobs and attention flags.</summary>
    private static async Task<IResult> Sessions(HttpContext context, SessionRouter router, AttentionBoard board, AuditLog audit)
    {
        var principal = PrincipalOf(context);
        var sessions = await router.ListAsync(new CallContext(principal, "session_list"), context.RequestAborted).ConfigureAwait(false);
        var usage = await router.UsageAsync(sessions, context.RequestAborted).ConfigureAwait(false);
        var list = new JsonArray();
        foreach (var session in sessions.OrderByDescending(s => s.LastActivityAt))
        {
            var info = SessionInfo.From(session, router.DisplayStatus(session)).Listed(usage.GetValueOrDefault(session.Id), router.HealthOf(session.Id));
            var node = JsonSerializer.SerializeToNode(info, ToolJson.Options)!.AsObject();
            node["jobs"] = new JsonArray([.. router.Jobs.List(session.Id).Select(j =>
            {
                var job = JsonSerializer.SerializeToNode(JobResult.Of(router.Jobs.StatusOf(j)), ToolJson.Options)!;
                // A terminal's view is drawn at the terminal's own size.
                job["cols"] = j.Info.Terminal?.Columns;
                job["rows"] = j.Info.Terminal?.Rows;
                return job;
            })]);
            node["attention"] = new JsonArray([.. board.Of(session.Id).Select(f => (JsonNode)DashboardFeed.Describe(f))]);
            list.Add(node);
        }
        return Json(new JsonObject { ["sessions"] = list, ["last_seq"] = audit.LastSeq() });
    }

    /// <summary>
    /// One session's history a page at a time, newest pages first (<c>before_seq</c>: the page before that event), each
    /// page oldest first: every call with its arguments and (cut) output. <c>older</c> is where the next page ends.
    /// </summary>
    private static IResult Events(HttpContext context, string sessionId, SessionRouter router, AuditLog audit, long? before_seq = null)
    {
        if (Visible(context, router, sessionId) is null)
        {
            return Unknown(sessionId);
        }
        var events = audit.ReadLast(EventPage, sessionId, before_seq);
        var list = new JsonArray();
        foreach (var e in events)
        {
            var node = DashboardFeed.Describe(e, withDetails: true);
            if (node["output"] is { } output && output.ToJsonString() is { Length: > MaxOutputChars } text)
            {
                node["output"] = text[..MaxOutputChars] + $"... ({text.Length:N0} characters; session_replay has all of it)";
            }
            list.Add(node);
        }
        return Json(new JsonObject { ["events"] = list, ["older"] = events.Count == EventPage ? events[0].Seq : null });
    }

    /// <summary>A job's or terminal's output as server-sent events: the backlog from <c>from</c> on, then live, then its end.</summary>
    private static async Task JobStream(HttpContext context, string sessionId, string jobId, SessionRouter router, long? from = null)
    {
        if (Visible(context, router, sessionId) is null)
        {
            await Unknown(sessionId).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        SessionRouting.Jobs.JobManager.Job job;
        try
        {
            job = router.Jobs.Get(sessionId, jobId);
        }
        catch (SessionException e)
        {
            await TypedResults.NotFound(new JsonObject { ["error"] = e.Message }).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }
        await StartEventStream(context).ConfigureAwait(false);
        var cancellationToken = context.RequestAborted;
        try
        {
            await foreach (var read in job.Journal.WatchAsync(Math.Clamp(from ?? 0, 0, job.Journal.TotalBytes), cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (read.Gap is { } gap)
                {
                    await WriteEventAsync(context, "gap", new JsonObject { ["from"] = gap.From, ["to"] = gap.To }.ToJsonString(), cancellationToken).ConfigureAwait(false);
                }
                foreach (var chunk in read.Chunks)
                {
                    await WriteEventAsync(context, "output", new JsonObject
                    {
                        ["offset"] = chunk.Offset,
                        ["stream"] = chunk.Stream == SessionRouting.Jobs.JobStream.Stderr ? "stderr" : "stdout",
                        ["data"] = Convert.ToBase64String(chunk.Bytes.Span),
                    }.ToJsonString(), cancellationToken).ConfigureAwait(false);
                }
                if (read.Complete)
                {
                    var status = JobResult.Of(router.Jobs.StatusOf(job));
                    await WriteEventAsync(context, "end", JsonSerializer.Serialize(status, ToolJson.Options), cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The journal closed under us (the job was evicted or the daemon stops): the page reconnects or shows the end.
        }
    }

    /// <summary>A terminal's asciicast recording, as a download.</summary>
    private static IResult Recording(HttpContext context, string sessionId, string terminalId, SessionRouter router)
    {
        if (Visible(context, router, sessionId) is null)
        {
            return Unknown(sessionId);
        }
        var path = router.Jobs.RecordingPath(sessionId, terminalId);
        if (!terminalId.StartsWith("t-", StringComparison.Ordinal) || terminalId.Contains('/', StringComparison.Ordinal) || !File.Exists(path))
        {
            return TypedResults.NotFound(new JsonObject { ["error"] = $"session {sessionId} has no recording of terminal {terminalId}" });
        }
        return TypedResults.PhysicalFile(path, "application/x-asciicast", $"{sessionId}-{terminalId}.cast");
    }

    /// <summary>The session's markdown report, as <c>session-mcp audit export --format markdown --session</c> writes it.</summary>
    private static IResult Report(HttpContext context, string sessionId, SessionRouter router, SessionRegistry registry, AuditLog audit)
    {
        if (Visible(context, router, sessionId) is not { } session)
        {
            return Unknown(sessionId);
        }
        var events = audit.ReadSession(sessionId, 0, int.MaxValue);
        var report = SessionRouting.History.AuditReport.Render(sessionId, registry.Find(sessionId) ?? session, events);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{sessionId}.md\"";
        return TypedResults.Text(report, "text/markdown; charset=utf-8");
    }

    private static IResult Seen(HttpContext context, string sessionId, SessionRouter router, AttentionBoard board)
    {
        if (Visible(context, router, sessionId) is null)
        {
            return Unknown(sessionId);
        }
        board.Seen(sessionId);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The live feed: every audited event and attention change of the sessions the token may see, as server-sent events,
    /// pushed as the audit log commits them. Events of no session (token changes, session_list calls) go to admins only.
    /// </summary>
    private static async Task Feed(HttpContext context, DashboardFeed feed, SessionRouter router, AttentionBoard board, AuditLog audit)
    {
        var principal = PrincipalOf(context);
        var cancellationToken = context.RequestAborted;
        var (reader, leave) = feed.Subscribe();
        using (leave)
        {
            await StartEventStream(context).ConfigureAwait(false);
            var hello = new JsonObject
            {
                ["last_seq"] = audit.LastSeq(),
                ["attention"] = new JsonArray([.. board.All().Where(f => Sees(f.SessionId)).Select(f => (JsonNode)DashboardFeed.Describe(f))]),
            };
            await WriteEventAsync(context, "hello", hello.ToJsonString(), cancellationToken).ConfigureAwait(false);
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    using var beat = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    beat.CancelAfter(Heartbeat);
                    bool more;
                    try
                    {
                        more = await reader.WaitToReadAsync(beat.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // A comment line keeps proxies and the browser from taking a quiet feed for a dead one.
                        await context.Response.WriteAsync(": keep-alive\n\n", cancellationToken).ConfigureAwait(false);
                        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    if (!more)
                    {
                        return;
                    }
                    while (reader.TryRead(out var item))
                    {
                        if (Sees(item.SessionId))
                        {
                            await WriteEventAsync(context, item.Type, item.Json, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }

        bool Sees(string? sessionId) => sessionId is null ? principal.Scope == AccessScope.Admin : Visible(principal, router, sessionId) is not null;
    }

    private static Principal PrincipalOf(HttpContext context) =>
        PrincipalClaims.Resolve(context.User) ?? throw new InvalidOperationException("an authorized request without a principal");

    private static SessionRecord? Visible(HttpContext context, SessionRouter router, string sessionId) => Visible(PrincipalOf(context), router, sessionId);

    /// <summary>The session if the principal may read it (as session_replay would), else null: unknown and hidden look alike.</summary>
    private static SessionRecord? Visible(Principal principal, SessionRouter router, string sessionId)
    {
        try
        {
            return router.Get(new CallContext(principal, "session_replay"), sessionId);
        }
        catch (SessionException)
        {
            return null;
        }
    }

    private static IResult Unknown(string sessionId) =>
        TypedResults.NotFound(new JsonObject { ["error"] = $"no session '{sessionId}' that this token may see" });

    private static IResult Json(JsonNode node) => TypedResults.Text(node.ToJsonString(ToolJson.Options), "application/json; charset=utf-8");

    private static async Task StartEventStream(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache, no-transform";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task WriteEventAsync(HttpContext context, string type, string json, CancellationToken cancellationToken)
    {
        var text = new StringBuilder().Append("event: ").Append(type).Append("\ndata: ").Append(json).Append("\n\n").ToString();
        await context.Response.WriteAsync(text, cancellationToken).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
