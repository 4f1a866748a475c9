using System.Security.Claims;

namespace SessionMcp.SessionRouting.Access;

/// <summary>
/// A <see cref="Principal"/> as claims and back: how an authenticated transport hands the caller to the MCP layer. The
/// HTTP layer's authentication handler turns a token into claims (<see cref="ToClaimsPrincipal"/>); the SDK carries
/// them to every request as its <c>User</c>, and the audit filter reads them back (<see cref="Resolve"/>).
/// </summary>
internal static class PrincipalClaims
{
    /// <summary>The claim that carries the scope (<c>read</c>, <c>full</c>, <c>admin</c>); the name is <see cref="ClaimTypes.Name"/>.</summary>
    public const string ScopeClaim = "session-mcp/scope";

    /// <remarks>
    /// The name is also the <see cref="ClaimTypes.NameIdentifier"/>: the MCP SDK binds an HTTP session to it, so one
    /// token cannot take over another's session by its id.
    /// </remarks>
    public static ClaimsPrincipal ToClaimsPrincipal(Principal principal, string authenticationType) =>
        new(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, principal.Name), new Claim(ClaimTypes.NameIdentifier, principal.Name), new Claim(ScopeClaim, AccessScopes.Name(principal.Scope))],
            authenticationType));

    /// <summary>
    /// The caller of a request whose transport reports <paramref name="user"/>: no user at all is a transport that
    /// carries no identity (stdio, the daemon's owner-only socket), whose caller is the local user; an authenticated user
    /// with a name and a scope is that principal; anything else — an unauthenticated or malformed user — is nobody (null),
    /// and must be refused, never taken for the local user.
    /// </summary>
    public static Principal? Resolve(ClaimsPrincipal? user)
    {
        if (user is null)
        {
            return Principal.Local;
        }
        if (user.Identity is not { IsAuthenticated: true }
            || user.FindFirst(ClaimTypes.Name)?.Value is not { } name
            || TokenStore.NameProblem(name) is not null
            || !AccessScopes.TryParse(user.FindFirst(ScopeClaim)?.Value, out var scope))
        {
            return null;
        }
        return new Principal(name, scope);
    }
}
