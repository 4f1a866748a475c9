using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace SessionMcp.McpServer.Http;

/// <summary>
/// Over HTTP a client cancels a call by dropping its POST (the SDK's client does; it sends no notifications/cancelled).
/// With a stateful (initialize) session the SDK runs the call on the session, not on that request, so nothing would
/// stop it: this filter, outside the audit filter, ends the call when its HTTP request is aborted, as a cancellation.
/// Without HTTP (stdio, the socket) there is no HTTP context and it only passes the call on.
/// </summary>
internal static class HttpRequestAbort
{
    public static McpRequestHandler<CallToolRequestParams, CallToolResult> Wrap(McpRequestHandler<CallToolRequestParams, CallToolResult> next) =>
        async (context, cancellationToken) =>
        {
            var aborted = context.Services?.GetService<IHttpContextAccessor>()?.HttpContext?.RequestAborted ?? CancellationToken.None;
            if (!aborted.CanBeCanceled)
            {
                return await next(context, cancellationToken).ConfigureAwait(false);
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, aborted);
            return await next(context, linked.Token).ConfigureAwait(false);
        };
}
