using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionMcp.SessionRouting.Access;

namespace SessionMcp.McpServer.Http;

/// <summary>
/// <c>Authorization: Bearer smcp_...</c> checked against the token store on every request (a revoked token fails at
/// once); success is the token's principal as claims, which the MCP transport hands to the audit filter as the
/// message's <c>User</c>.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TokenStore tokens) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("the Authorization header is not a bearer token"));
        }
        var principal = tokens.Authenticate(header["Bearer ".Length..].Trim());
        if (principal is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("unknown or revoked token"));
        }
        var user = PrincipalClaims.ToClaimsPrincipal(principal, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(user, SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync().ConfigureAwait(false);
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        // RFC 6750: a presented token that failed is invalid_token; none at all gets the bare challenge.
        Response.Headers.WWWAuthenticate = result.Failure is null ? "Bearer realm=\"session-mcp\"" : "Bearer realm=\"session-mcp\", error=\"invalid_token\"";
    }
}
