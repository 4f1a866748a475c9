using Microsoft.AspNetCore.Http;

namespace SessionMcp.McpServer.Http;

/// <summary>
/// Refuses, before authentication, a request whose <c>Host</c> is not a name this daemon is bound to (DNS rebinding: a
/// web page's own domain resolving to 127.0.0.1) or whose <c>Origin</c>, when present, is another host than the one it
/// addresses (a browser page of another site) — 403 either way, as the MCP transport specification asks.
/// </summary>
internal sealed class RequestOriginGuard(HttpSettings settings)
{
    private readonly bool _anyHost = settings.Urls.Any(u => HttpSettings.IsWildcard(u.Host));
    private readonly HashSet<string> _hosts = new(settings.Urls.Select(u => u.Host.Trim('[', ']')), StringComparer.OrdinalIgnoreCase);
    private readonly bool _loopback = settings.Urls.Any(u => HttpSettings.IsLoopback(u.Host));

    /// <summary>Why the request is refused, or null when it may go on.</summary>
    public string? Problem(HttpRequest request)
    {
        var host = request.Host;
        if (!host.HasValue || !HostAllowed(host.Host))
        {
            return $"Host '{host.Value}' is not this server";
        }
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0
            && (!Uri.TryCreate(origin, UriKind.Absolute, out var originUrl)
                || !(originUrl.Host.Trim('[', ']').Equals(host.Host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase)
                     || (HttpSettings.IsLoopback(originUrl.Host) && HttpSettings.IsLoopback(host.Host)))))
        {
            return $"Origin '{origin}' is not allowed";
        }
        return null;
    }

    // A loopback bind answers to every loopback name on any port: an SSH tunnel's local port differs from the daemon's.
    private bool HostAllowed(string host) =>
        _anyHost || _hosts.Contains(host.Trim('[', ']')) || (_loopback && HttpSettings.IsLoopback(host));
}
