using System.Security.Claims;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.SessionRouting.Tests.Access;

public sealed class AccessPolicyTests
{
    private static readonly Principal Reader = new("laptop", AccessScope.Read);
    private static readonly Principal Worker = new("ci", AccessScope.Full);
    private static readonly Principal Operator = new("ops", AccessScope.Admin);

    public static TheoryData<string, bool> Tools() => new()
    {
        // tool, may a read-scoped principal call it
        { "session_list", true },
        { "session_read_file", true },
        { "session_replay", true },
        { "session_job_output", true },
        { "session_jobs", true },
        { "session_terminal_read", true },
        { "session_create", false },
        { "session_destroy", false },
        { "session_exec", false },
        { "session_write_file", false },
        { "session_edit_file", false },
        { "session_job_input", false },
        { "session_job_kill", false },
        { "session_terminal_open", false },
        { "session_terminal_send", false },
        { "session_terminal_resize", false },
        { "session_terminal_close", false },
        { "session_share", false },
        { "a_tool_added_later", false },
    };

    [Theory]
    [MemberData(nameof(Tools))]
    public void AReadScopeMayCallOnlyTheReadOnlyToolsAndTheOtherScopesEveryTool(string tool, bool readScopeMay)
    {
        // Given / When / Then
        Assert.Equal(readScopeMay, AccessPolicy.ToolRefusal(Reader, tool) is null);
        Assert.Null(AccessPolicy.ToolRefusal(Worker, tool));
        Assert.Null(AccessPolicy.ToolRefusal(Operator, tool));
        Assert.Null(AccessPolicy.ToolRefusal(Principal.Local, tool));
        Assert.Equal(readScopeMay ? SessionAccess.Read : SessionAccess.Full, AccessPolicy.Needs(tool));
    }

    [Fact]
    public void ARefusalNamesTheTokenItsScopeAndWhatTheToolNeeds()
    {
        // Given / When
        var refusal = AccessPolicy.ToolRefusal(Reader, "session_exec");

        // Then
        Assert.Equal("token 'laptop' has scope read; session_exec needs full", refusal);
    }

    public static TheoryData<string, string, string?, string> Sessions() => new()
    {
        // principal, owner, shared with it, access
        { "laptop", "laptop", null, "Read" },     // its own, but a read token never writes
        { "laptop", "ci", null, "None" },
        { "laptop", "ci", "Read", "Read" },
        { "laptop", "ci", "Full", "Read" },      // the token's scope caps the share
        { "ci", "ci", null, "Full" },
        { "ci", "local", null, "None" },
        { "ci", "laptop", "Read", "Read" },
        { "ci", "laptop", "Full", "Full" },
        { "ops", "ci", null, "Full" },
        { "local", "ci", null, "Full" },
        { "local", "local", null, "Full" },
    };

    [Theory]
    [MemberData(nameof(Sessions))]
    public void AccessToASessionComesFromOwnershipAShareOrAdminAndNeverExceedsTheScope(string principal, string owner, string? shared, string expected)
    {
        // Given
        var caller = ByName(principal);
        SessionAccess? share = shared is null ? null : Enum.Parse<SessionAccess>(shared);

        // When / Then
        Assert.Equal(Enum.Parse<SessionAccess>(expected), AccessPolicy.AccessTo(caller, owner, share));
    }

    [Fact]
    public void OnlyTheOwnerOrAnAdminMayShare()
    {
        // Given / When / Then
        Assert.True(AccessPolicy.MayShare(Worker, "ci"));
        Assert.False(AccessPolicy.MayShare(Worker, "laptop"));
        Assert.False(AccessPolicy.MayShare(Reader, "laptop")); // a read token changes nothing, its own sessions included
        Assert.True(AccessPolicy.MayShare(Operator, "ci"));
        Assert.True(AccessPolicy.MayShare(Principal.Local, "ci"));
    }

    [Fact]
    public void VisibleKeepsOwnAndSharedSessionsOnly()
    {
        // Given sessions of three owners, one of ci's shared with laptop
        SessionRecord[] sessions = [Session("s-aaaaaaaa", "ci"), Session("s-bbbbbbbb", "ci"), Session("s-cccccccc", "laptop"), Session("s-dddddddd", "local")];
        var sharedWithLaptop = new Dictionary<string, SessionAccess> { ["s-bbbbbbbb"] = SessionAccess.Read };

        // When / Then
        Assert.Equal(["s-bbbbbbbb", "s-cccccccc"], AccessPolicy.Visible(Reader, sessions, sharedWithLaptop).Select(s => s.Id));
        Assert.Equal(["s-aaaaaaaa", "s-bbbbbbbb"], AccessPolicy.Visible(Worker, sessions, new Dictionary<string, SessionAccess>()).Select(s => s.Id));
        Assert.Equal(4, AccessPolicy.Visible(Principal.Local, sessions, new Dictionary<string, SessionAccess>()).Count);
    }

    [Fact]
    public void ATransportWithoutAUserIsTheLocalUser()
    {
        // Given / When / Then (stdio, the daemon's socket)
        Assert.Same(Principal.Local, PrincipalClaims.Resolve(null));
    }

    [Fact]
    public void AnAuthenticatedUserRoundTripsToItsPrincipal()
    {
        // Given a user as the HTTP layer's authentication handler makes it
        var user = PrincipalClaims.ToClaimsPrincipal(Reader, "session-mcp-token");

        // When / Then
        Assert.Equal(Reader, PrincipalClaims.Resolve(user));
    }

    [Fact]
    public void AnUnauthenticatedOrMalformedUserIsNobodyNeverTheLocalUser()
    {
        // Given users a transport may report
        ClaimsPrincipal[] users =
        [
            new(new ClaimsIdentity()), // HttpContext.User without authentication
            new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "ci"), new Claim(PrincipalClaims.ScopeClaim, "full")])), // claims, but not authenticated
            new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "ci")], "test")), // no scope
            new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "ci"), new Claim(PrincipalClaims.ScopeClaim, "root")], "test")),
            new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "local"), new Claim(PrincipalClaims.ScopeClaim, "admin")], "test")), // the local user's name
            new(new ClaimsIdentity([new Claim(PrincipalClaims.ScopeClaim, "admin")], "test")), // no name
        ];

        // When / Then
        Assert.All(users, user => Assert.Null(PrincipalClaims.Resolve(user)));
    }

    private static Principal ByName(string name) => name switch
    {
        "laptop" => Reader,
        "ci" => Worker,
        "ops" => Operator,
        _ => Principal.Local,
    };

    internal static SessionRecord Session(string id, string owner) => new(
        id, null, "local", SessionStatus.Running, $"/data/{id}", $"/data/{id}", $"/data/{id}", new Dictionary<string, string>(),
        new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), null, null)
    {
        Owner = owner,
    };
}
