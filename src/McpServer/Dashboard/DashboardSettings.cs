using SessionMcp.McpServer.Http;
using SessionMcp.SessionRouting.Attention;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>
/// The dashboard's options, from the daemon's environment: <c>SESSION_MCP_ATTENTION_WEBHOOK</c> (a URL the daemon POSTs
/// each new attention flag to, as JSON), <c>SESSION_MCP_ATTENTION_LONG_MS</c> (a command this long is worth a look when
/// it finishes; default 30 s) and <c>SESSION_MCP_ATTENTION_IDLE_MS</c> (an agent silent this long after working is
/// idle; default 60 s).
/// </summary>
internal sealed record DashboardSettings(Uri? Webhook, AttentionThresholds Thresholds)
{
    /// <summary>The settings, or an <see cref="ArgumentException"/> naming the variable that is wrong.</summary>
    public static DashboardSettings Resolve(Func<string, string?> environment)
    {
        Uri? webhook = null;
        if (environment("SESSION_MCP_ATTENTION_WEBHOOK") is { Length: > 0 } text)
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out webhook) || webhook.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"SESSION_MCP_ATTENTION_WEBHOOK must be an http(s) URL (got '{text}')");
            }
            // The same rule as the listener: flags name sessions and commands, so plain HTTP stays on this machine.
            if (webhook.Scheme == "http" && !HttpSettings.IsLoopback(webhook.Host))
            {
                throw new ArgumentException($"SESSION_MCP_ATTENTION_WEBHOOK is plain http to {webhook.Host}, which is not loopback: use https, or a loopback relay");
            }
        }
        var defaults = AttentionThresholds.Default;
        return new DashboardSettings(webhook, new AttentionThresholds(
            Milliseconds(environment, "SESSION_MCP_ATTENTION_LONG_MS") ?? defaults.LongCommand,
            Milliseconds(environment, "SESSION_MCP_ATTENTION_IDLE_MS") ?? defaults.IdleAfter));
    }

    private static TimeSpan? Milliseconds(Func<string, string?> environment, string name) =>
        environment(name) is not { Length: > 0 } text ? null
        : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms > 0 ? TimeSpan.FromMilliseconds(ms)
        : throw new ArgumentException($"{name} must be a positive number of milliseconds (got '{text}')");
}
