using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.SessionRouting.Access;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// <c>tools/list</c> as the caller's scope allows: a read token sees only the read-only tools, so a model is not offered
/// what it would be refused (the audit filter still refuses a call to any other, by name).
/// </summary>
internal static class ScopedToolList
{
    public static McpRequestHandler<ListToolsRequestParams, ListToolsResult> Wrap(McpRequestHandler<ListToolsRequestParams, ListToolsResult> next) =>
        async (context, cancellationToken) =>
        {
            var result = await next(context, cancellationToken).ConfigureAwait(false);
            var principal = PrincipalClaims.Resolve(context.User);
            var allowed = principal is null ? [] : result.Tools.Where(t => AccessPolicy.ToolRefusal(principal, t.Name) is null).ToList();
            if (allowed.Count != result.Tools.Count)
            {
                result.Tools = allowed;
            }
            return result;
        };
}
