using System.Net;

namespace SessionMcp.McpServer.Http;

/// <summary>
/// <c>daemon --http</c>: where the daemon also serves MCP over Streamable HTTP. Loopback unless
/// <c>--http-allow-remote</c> says otherwise: a token travels in every request, so plain HTTP beyond this machine
/// needs a deliberate choice (an SSH tunnel to a loopback bind is the recommended way; see README).
/// </summary>
/// <param name="Urls">Kestrel URLs (<c>http://127.0.0.1:8765</c>); https ones need a certificate.</param>
/// <param name="AllowRemote">Whether a URL may bind a non-loopback address.</param>
/// <param name="CertificatePath">A PEM certificate (or a PKCS#12 file) for https URLs; null: none.</param>
/// <param name="CertificateKeyPath">The PEM private key of <paramref name="CertificatePath"/>; null: in the same file, or PKCS#12.</param>
internal sealed record HttpSettings(IReadOnlyList<Uri> Urls, bool AllowRemote, string? CertificatePath, string? CertificateKeyPath)
{
    public const string DefaultUrl = "http://127.0.0.1:8765";

    /// <summary>
    /// The HTTP settings of a daemon command line, or null when HTTP is off: on with <c>--http</c>, <c>--urls</c>, or
    /// <c>SESSION_MCP_HTTP_URLS</c>. A bad value is an <see cref="ArgumentException"/> that names its flag or variable.
    /// </summary>
    public static HttpSettings? Resolve(bool http, string? urls, bool allowRemote, Func<string, string?> environment)
    {
        var urlsSource = urls is not null ? "--urls" : "SESSION_MCP_HTTP_URLS";
        urls ??= environment("SESSION_MCP_HTTP_URLS") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        if (!http && urls is null)
        {
            return null;
        }
        allowRemote |= environment("SESSION_MCP_HTTP_ALLOW_REMOTE")?.ToLowerInvariant() is "true" or "1" or "yes";
        var parsed = new List<Uri>();
        foreach (var text in (urls ?? DefaultUrl).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.AbsolutePath != "/" || url.IsDefaultPort && !text.Contains(':', StringComparison.Ordinal))
            {
                throw new ArgumentException($"{urlsSource} must be http(s)://HOST:PORT[;...] (got '{text}')");
            }
            if (!allowRemote && !IsLoopback(url.Host))
            {
                throw new ArgumentException($"{urlsSource} binds {url.Host}, which is not loopback: bind 127.0.0.1 and tunnel (ssh -L), or add --http-allow-remote (see README, \"Running the daemon on a remote machine\")");
            }
            parsed.Add(url);
        }
        if (parsed.Count == 0)
        {
            throw new ArgumentException($"{urlsSource} names no URL");
        }
        var certificate = environment("SESSION_MCP_HTTP_CERT") is { Length: > 0 } cert ? cert : null;
        var key = environment("SESSION_MCP_HTTP_CERT_KEY") is { Length: > 0 } k ? k : null;
        if (parsed.Any(u => u.Scheme == "https") && certificate is null)
        {
            throw new ArgumentException($"{urlsSource} has an https URL but SESSION_MCP_HTTP_CERT names no certificate");
        }
        return new HttpSettings(parsed, allowRemote, certificate, key);
    }

    /// <summary>localhost, 127.0.0.0/8 or ::1.</summary>
    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    /// <summary>0.0.0.0, [::], * or +: every address of the machine.</summary>
    public static bool IsWildcard(string host) => host is "0.0.0.0" or "[::]" or "::" or "*" or "+";
}
