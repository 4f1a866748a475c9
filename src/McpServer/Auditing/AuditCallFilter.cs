using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// Wraps every tools/call — unknown tools, rejected arguments and crashes included — and appends exactly one audited
/// event for it before the result leaves the server. It is also the one place where exceptions become error results:
/// messages meant for the model pass through, anything unexpected is logged and replaced by a neutral message.
/// </summary>
internal static partial class AuditCallFilter
{
    public static McpRequestHandler<CallToolRequestParams, CallToolResult> Wrap(McpRequestHandler<CallToolRequestParams, CallToolResult> next) =>
        async (context, cancellationToken) =>
        {
            var services = context.Services ?? throw new InvalidOperationException("no request services");
            var audit = services.GetRequiredService<AuditLog>();
            var time = services.GetRequiredService<TimeProvider>();
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("SessionMcp.Audit");

            var started = Stopwatch.GetTimestamp();
            var name = context.Params?.Name ?? "";
            var arguments = context.Params?.Arguments;
            // One read-only view of the arguments for the checks and the audit record (the SDK gives an IDictionary).
            IReadOnlyDictionary<string, JsonElement>? given = arguments is null ? null : new Dictionary<string, JsonElement>(arguments);
            var budget = services.GetRequiredService<ResultBudget>();
            var principal = CallerOf(context);
            var call = CallAudit.Open(
                context,
                arguments is not null && arguments.TryGetValue("session_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null,
                principal is null ? null : new CallContext(principal, name, ClientOf(context.Server)));

            // Secret values known before the call too: a command may print a secret and unset it in the same call.
            var secretsBefore = SecretValues(services, call.SessionId, arguments);
            string outcome;
            string? error = null;
            string? inFlight = null;
            string? argumentsBefore = null;
            try
            {
                // Sessions of the previous run are re-attached in the background; no call may see them half done.
                await services.GetRequiredService<SessionRouter>().Resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
                if (context.Items.TryGetValue(CallParamsGuard.ProblemKey, out var malformed) && malformed is string problem)
                {
                    (outcome, error) = (AuditOutcomes.Rejected, problem);
                }
                else if (principal is null)
                {
                    (outcome, error) = (AuditOutcomes.Rejected, "this request carries no valid credentials (a live token); nothing was done");
                }
                else if (context.MatchedPrimitive is not McpServerTool tool)
                {
                    var known = string.Join(", ", (context.Server.ServerOptions.ToolCollection?.Select(t => t.ProtocolTool.Name) ?? []).Order());
                    (outcome, error) = (AuditOutcomes.Rejected, $"unknown tool '{name}'; this server's tools are: {known}");
                }
                else if (AccessPolicy.ToolRefusal(principal, name) is { } refusal)
                {
                    // Refused before it runs: no argument is even looked at.
                    (outcome, error) = (AuditOutcomes.Rejected, refusal);
                }
                else if (ArgumentValidator.Validate(tool.ProtocolTool.InputSchema, given) is { Count: > 0 } problems)
                {
                    (outcome, error) = (AuditOutcomes.Rejected, $"{name}: invalid arguments: {string.Join("; ", problems)}. Nothing was done.");
                }
                else if (ArgumentSizeLimits.Check(name, given) is { Count: > 0 } tooLarge)
                {
                    (outcome, error) = (AuditOutcomes.Rejected, $"{name}: {string.Join("; ", tooLarge)}. Nothing was done.");
                }
                else
                {
                    // Noted before it runs: if the server dies now, the next start records the call as interrupted.
                    argumentsBefore = RedactedArguments(secretsBefore);
                    inFlight = audit.BeginCall(time.GetUtcNow(), call.SessionId, name, ClientOf(context.Server), argumentsBefore, principal.Name);
                    var result = await next(context, cancellationToken).ConfigureAwait(false);
                    if (result.IsError != true && call.Result is null)
                    {
                        throw new InvalidOperationException($"{name} returned without a typed result");
                    }
                    outcome = result.IsError == true ? AuditOutcomes.Error : AuditOutcomes.Ok;
                    error = result.IsError == true ? string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text)) : null;
                }
            }
            catch (UnknownSessionException e)
            {
                (outcome, error) = (AuditOutcomes.Rejected, e.Message);
            }
            catch (Exception e) when (e is SessionException or McpException)
            {
                (outcome, error) = (AuditOutcomes.Error, e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Record(AuditOutcomes.Cancelled, "cancelled by the client");
                throw;
            }
            catch (Exception e)
            {
                LogToolCrashed(logger, e, name);
                (outcome, error) = (AuditOutcomes.Error, $"{name} failed inside session-mcp ({e.GetType().Name}); the details are in the server log. Retry, or check the session state with session_list.");
            }

            var seq = Record(outcome, error).Seq;
            return outcome == AuditOutcomes.Ok && call.Result is { } typed
                ? ResultBudget.ToCallToolResult(typed.WithEventSeq(seq))
                : ErrorResult(error ?? "", seq, budget);

            AuditEvent Record(string outcome, string? error)
            {
                // Values of the session's secret-named variables are masked wherever they show up (echo $API_TOKEN).
                // JSON is masked as a tree, so a known value that is also a property name cannot break the event's shape.
                var secretsAfter = SecretValues(services, call.SessionId, arguments);
                var secrets = secretsBefore.Concat(secretsAfter).ToList();
                string? Text(string? text) => text is null ? null : SecretRedactor.RedactValues(SecretRedactor.RedactText(text), secrets);
                string? Json(JsonNode? node) => node is null ? null : SecretRedactor.RedactJson(node, secrets)?.ToJsonString();
                // What the call did to the workspace is recorded with its event, in one transaction.
                using var step = outcome == AuditOutcomes.Rejected ? PendingStep.None : ObserveWorkspace(services, call.SessionId, name, logger);
                var summary = call.Summary;
                if (step.Summary() is { } workspace)
                {
                    summary ??= [];
                    summary["workspace"] = workspace;
                }
                var appended = audit.Append(new AuditEntry(
                    time.GetUtcNow(),
                    call.SessionId,
                    AuditKinds.ToolCall,
                    context.MatchedPrimitive is McpServerTool ? name : Text(name), // an unknown tool's name is whatever the client sent, a pasted token included
                    ClientOf(context.Server),
                    // Redacted once before the call; again only when the call made a new secret known (large writes are costly).
                    argumentsBefore is not null && !secretsAfter.Except(secretsBefore).Any() && call.HiddenArguments.Count == 0 ? argumentsBefore : RedactedArguments(secrets),
                    outcome,
                    Text(error),
                    Json(summary),
                    (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                    Json(call.Output),
                    principal?.Name),
                    endsCall: inFlight,
                    alongside: step.Write);
                step.Committed();
                return appended;
            }

            // A huge string is recorded by its start, end, size and hash, not whole (see ArgumentSizeLimits.ForAudit).
            string? RedactedArguments(IReadOnlyList<string> secrets)
            {
                if (ArgumentSizeLimits.ForAudit(given) is not JsonObject node)
                {
                    return null;
                }
                foreach (var hidden in call.HiddenArguments.Where(node.ContainsKey))
                {
                    node[hidden] = SecretRedactor.Mask;
                }
                return SecretRedactor.RedactJson(node, secrets)?.ToJsonString();
            }
        };

    /// <summary>
    /// Who makes the call — THE place a transport's identity enters. The SDK hands every request the user its transport
    /// authenticated (<c>JsonRpcMessageContext.User</c>; the ASP.NET Core transport copies <c>HttpContext.User</c> there).
    /// stdio and the daemon's owner-only socket carry none: their caller is the local user, trusted as stdio trusts the
    /// process that started it. The HTTP layer only has to authenticate the bearer token (<see cref="TokenStore.Authenticate"/>)
    /// into a user made by <see cref="PrincipalClaims.ToClaimsPrincipal"/>; a request whose user is present but not
    /// authenticated resolves to nobody and is refused, never taken for the local user.
    /// </summary>
    private static Principal? CallerOf(RequestContext<CallToolRequestParams> context) => PrincipalClaims.Resolve(context.User);

    /// <summary>
    /// The workspace change of a call on a running session, to be written with its event. Calls that only read
    /// (and lifecycle calls, which record their own) observe nothing, so changes a running job makes are attributed to the
    /// next call that may change files, its output being read, or its end. A scan that fails never fails the call.
    /// </summary>
    private static PendingStep ObserveWorkspace(IServiceProvider services, string? sessionId, string tool, ILogger logger)
    {
        return sessionId is null || ReadOnlyTools.Contains(tool) || !SessionId.IsWellFormed(sessionId)
            ? PendingStep.None
            : services.GetRequiredService<WorkspaceHistory>().TryObserve(
                services.GetRequiredService<SessionRegistry>().Find(sessionId), e => LogWorkspaceScanFailed(logger, e, sessionId));
    }

    /// <summary>Tools that never change a workspace (or record their own step, as session_create does).</summary>
    private static readonly HashSet<string> ReadOnlyTools = new(StringComparer.Ordinal)
    {
        "session_create", "session_destroy", "session_list", "session_read_file", "session_replay", "session_diff",
        "session_jobs", "session_share", "session_export",
    };

    /// <summary>The values of secret-named variables the call could print: the session's exported ones and the call's own env.</summary>
    private static List<string> SecretValues(IServiceProvider services, string? sessionId, IDictionary<string, JsonElement>? arguments)
    {
        var env = new List<KeyValuePair<string, string>>();
        if (sessionId is not null && SessionId.IsWellFormed(sessionId) && services.GetRequiredService<SessionRegistry>().Find(sessionId) is { } session)
        {
            env.AddRange(session.Env);
        }
        if (arguments is not null && arguments.TryGetValue("env", out var callEnv) && callEnv.ValueKind == JsonValueKind.Object)
        {
            env.AddRange(callEnv.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).Select(p => KeyValuePair.Create(p.Name, p.Value.GetString()!)));
        }
        return [.. env.Where(e => SecretRedactor.IsSecretName(e.Key)).Select(e => e.Value)];
    }

    private static string? ClientOf(ModelContextProtocol.Server.McpServer server) =>
        server.ClientInfo is { } info ? $"{info.Name}/{info.Version}" : null;

    /// <summary>An error as the model sees it: the message and the event that recorded it, within the budget; no structured content.</summary>
    private static CallToolResult ErrorResult(string message, long seq, ResultBudget budget) => new()
    {
        IsError = true,
        Content = [new TextContentBlock { Text = OutputTruncation.Truncate(message, budget.MaxChars / 2).Text + $" (event_seq {seq})" }],
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "The workspace of session {SessionId} could not be scanned; this step's changes are recorded with the next one")]
    private static partial void LogWorkspaceScanFailed(ILogger logger, Exception exception, string sessionId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tool {Tool} crashed")]
    private static partial void LogToolCrashed(ILogger logger, Exception exception, string tool);
}
