using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// <c>token create|list|revoke</c>: the operator's side of bearer tokens. Making and revoking one is audited like a
/// session's lifecycle, by the local user who ran the command.
/// </summary>
internal static class TokenCommands
{
    public static int Create(IServiceProvider services, string name, AccessScope scope, TimeSpan? lifetime, TextWriter stdout, TextWriter stderr)
    {
        string token;
        var tokens = services.GetRequiredService<TokenStore>();
        try
        {
            token = tokens.Create(name, scope, lifetime);
        }
        catch (AccessException e)
        {
            stderr.WriteLine($"session-mcp: {e.Message}");
            return 1;
        }
        var expires = tokens.Find(name)?.ExpiresAt;
        Record(services, AuditKinds.TokenCreated, new { name, scope = AccessScopes.Name(scope), expires_at = expires is { } at ? HashChain.FormatTime(at) : null });
        // The token alone on stdout, so TOKEN=$(session-mcp token create --name ci) works; the warning beside it.
        stdout.WriteLine(token);
        var until = expires is { } end ? $", valid until {end:yyyy-MM-dd HH:mm:ss}Z" : "";
        stderr.WriteLine($"token '{name}' (scope {AccessScopes.Name(scope)}{until}) created. It is shown only now: only its hash is kept, so copy it to the client that will use it.");
        return 0;
    }

    public static int List(IServiceProvider services, TextWriter stdout)
    {
        var tokens = services.GetRequiredService<TokenStore>().List();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        stdout.WriteLine($"{"NAME",-24} {"SCOPE",-6} {"CREATED",-20} {"EXPIRES",-28} REVOKED");
        foreach (var t in tokens)
        {
            var expires = t.ExpiresAt is { } at ? $"{Time(at)}{(t.ExpiredAt(now) ? " (expired)" : "")}" : "never";
            stdout.WriteLine($"{t.Name,-24} {AccessScopes.Name(t.Scope),-6} {Time(t.CreatedAt),-20} {expires,-28} {(t.RevokedAt is { } revoked ? Time(revoked) : "-")}");
        }
        if (tokens.Count == 0)
        {
            stdout.WriteLine("(no tokens; session-mcp token create --name NAME makes one)");
        }
        return 0;
    }

    public static int Revoke(IServiceProvider services, string name, TextWriter stdout, TextWriter stderr)
    {
        switch (services.GetRequiredService<TokenStore>().Revoke(name))
        {
            case RevokeOutcome.Revoked:
                Record(services, AuditKinds.TokenRevoked, new { name });
                stdout.WriteLine($"token '{name}' revoked: it authenticates no more, and its name stays taken");
                return 0;
            case RevokeOutcome.AlreadyRevoked:
                stdout.WriteLine($"token '{name}' was already revoked");
                return 0;
            default:
                stderr.WriteLine($"session-mcp: no token named '{name}'; 'session-mcp token list' shows them");
                return 1;
        }
    }

    private static string Time(DateTimeOffset at) => at.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);

    private static void Record(IServiceProvider services, string kind, object summary) =>
        services.GetRequiredService<AuditLog>().Append(new AuditEntry(
            services.GetRequiredService<TimeProvider>().GetUtcNow(), null, kind, null, null, null, AuditOutcomes.Ok, null,
            JsonSerializer.Serialize(summary), 0, null, Principal.LocalName));
}
