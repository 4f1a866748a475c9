using SessionMcp.SessionRouting.History;
using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Tests.Audit;

namespace SessionMcp.SessionRouting.Tests.Access;

/// <summary>
/// Where sessions are resolved, the caller decides what exists. The router runs here without backends: resolving,
/// listing and sharing never reach one (a session whose backend is not enabled is not probed).
/// </summary>
public sealed class SessionRouterAccessTests : IAsyncDisposable
{
    private static readonly Principal Laptop = new("laptop", AccessScope.Read);
    private static readonly Principal Ci = new("ci", AccessScope.Full);
    private static readonly Principal Other = new("other", AccessScope.Full);
    private static readonly Principal Ops = new("ops", AccessScope.Admin);

    private readonly ScratchDatabase _scratch = new();
    private readonly SessionRegistry _registry;
    private readonly TokenStore _tokens;
    private readonly JobManager _jobs;
    private readonly SessionRouter _router;

    public SessionRouterAccessTests()
    {
        var database = _scratch.Database;
        var audit = new AuditLog(database);
        _registry = new SessionRegistry(database);
        _tokens = new TokenStore(database, TimeProvider.System);
        _jobs = new JobManager(_scratch.Directory, new JournalBudget(new JournalOptions(), NullLogger<JournalBudget>.Instance), audit, TimeProvider.System, NullLogger<JobManager>.Instance);
        _router = new SessionRouter(_registry, audit, [], new SessionRouterOptions(), TimeProvider.System, _jobs,
            new SessionShares(database, TimeProvider.System), _tokens, new WorkspaceHistory(new HistoryStore(database), new HistoryOptions()), NullLogger<SessionRouter>.Instance);
        foreach (var name in new[] { "laptop", "ci", "other", "ops" })
        {
            _tokens.Create(name, name switch { "laptop" => AccessScope.Read, "ops" => AccessScope.Admin, _ => AccessScope.Full });
        }
        _registry.Add(AccessPolicyTests.Session("s-aaaaaaaa", "ci"));
        _registry.Add(AccessPolicyTests.Session("s-bbbbbbbb", "local"));
    }

    [Fact]
    public void ASessionTheCallerMayNotSeeIsUnknownWordForWordAsOneThatDoesNotExist()
    {
        // Given / When
        var hidden = Assert.Throws<UnknownSessionException>(() => _router.Get(Call(Laptop, "session_read_file"), "s-aaaaaaaa"));
        var missing = Assert.Throws<UnknownSessionException>(() => _router.Get(Call(Laptop, "session_read_file"), "s-zzzzzzzz"));

        // Then
        Assert.Equal(missing.Message.Replace("s-zzzzzzzz", "s-aaaaaaaa", StringComparison.Ordinal), hidden.Message);
        Assert.Throws<UnknownSessionException>(() => _router.Get(Call(Other, "session_exec"), "s-aaaaaaaa"));
        Assert.Throws<UnknownSessionException>(() => _router.Get(Call(Ci, "session_exec"), "s-bbbbbbbb"));
    }

    [Fact]
    public void TheOwnerAnAdminAndTheLocalUserMayUseASession()
    {
        // Given / When / Then
        Assert.Equal("s-aaaaaaaa", _router.Get(Call(Ci, "session_exec"), "s-aaaaaaaa").Id);
        Assert.Equal("s-aaaaaaaa", _router.Get(Call(Ops, "session_exec"), "s-aaaaaaaa").Id);
        Assert.Equal("s-aaaaaaaa", _router.Get(Call(Principal.Local, "session_exec"), "s-aaaaaaaa").Id);
        Assert.Equal("s-aaaaaaaa", _router.GetRunning(CallContext.Local, "s-aaaaaaaa").Id);
    }

    [Fact]
    public async Task ListShowsEachCallerOnlyWhatItMaySee()
    {
        // Given a session of ci shared read-only with laptop
        _router.Share(Call(Ci, "session_share"), "s-aaaaaaaa", "laptop", SessionAccess.Read);

        // When / Then
        Assert.Equal(["s-aaaaaaaa"], await Ids(Laptop));
        Assert.Equal(["s-aaaaaaaa"], await Ids(Ci));
        Assert.Empty(await Ids(Other));
        Assert.Equal(["s-aaaaaaaa", "s-bbbbbbbb"], await Ids(Ops));
        Assert.Equal(["s-aaaaaaaa", "s-bbbbbbbb"], await Ids(Principal.Local));

        async Task<string[]> Ids(Principal principal) =>
            [.. (await _router.ListAsync(Call(principal, "session_list"), CancellationToken.None)).Select(s => s.Id).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void AReadShareAllowsReadingAndRefusesChangesByName()
    {
        // Given ci's session shared read-only with other (a full token)
        _router.Share(Call(Ci, "session_share"), "s-aaaaaaaa", "other", SessionAccess.Read);

        // When
        var read = _router.Get(Call(Other, "session_replay"), "s-aaaaaaaa");
        var write = Assert.Throws<SessionException>(() => _router.Get(Call(Other, "session_exec"), "s-aaaaaaaa"));

        // Then
        Assert.Equal("s-aaaaaaaa", read.Id);
        Assert.Equal("session s-aaaaaaaa is shared with token 'other' read-only; session_exec needs full access", write.Message);
    }

    [Fact]
    public void AFullShareAllowsEverythingButSharingAndCanBeTakenBack()
    {
        // Given ci's session shared in full with other
        var (_, principal, sharedWith) = _router.Share(Call(Ci, "session_share"), "s-aaaaaaaa", "OTHER", SessionAccess.Full);

        // When other uses it, then tries to share it on, then ci takes the share back
        var used = _router.Get(Call(Other, "session_exec"), "s-aaaaaaaa");
        var reshare = Assert.Throws<AccessException>(() => _router.Share(Call(Other, "session_share"), "s-aaaaaaaa", "laptop", SessionAccess.Read));
        var (_, _, after) = _router.Share(Call(Ci, "session_share"), "s-aaaaaaaa", "other", SessionAccess.None);

        // Then
        Assert.Equal("other", principal); // the token's name as stored
        Assert.Equal(SessionAccess.Full, sharedWith["other"]);
        Assert.Equal("s-aaaaaaaa", used.Id);
        Assert.Equal("only the owner of session s-aaaaaaaa (token 'ci') or an admin can share it", reshare.Message);
        Assert.Empty(after);
        Assert.Throws<UnknownSessionException>(() => _router.Get(Call(Other, "session_exec"), "s-aaaaaaaa"));
    }

    [Fact]
    public void AReadTokenOnItsOwnSessionIsRefusedChangesForItsScope()
    {
        // Given a session owned by the read token laptop
        _registry.Add(AccessPolicyTests.Session("s-cccccccc", "laptop"));

        // When
        var refused = Assert.Throws<SessionException>(() => _router.Get(Call(Laptop, "session_exec"), "s-cccccccc"));

        // Then
        Assert.Equal("token 'laptop' has scope read; session_exec needs full", refused.Message);
        Assert.Equal("s-cccccccc", _router.Get(Call(Laptop, "session_read_file"), "s-cccccccc").Id);
    }

    [Fact]
    public void SharingValidatesTheTokenTheOwnerAndTheScope()
    {
        // Given a revoked token
        _tokens.Create("gone", AccessScope.Full);
        _tokens.Revoke("gone");
        var owner = Call(Ci, "session_share");

        // When / Then
        Assert.Contains("no token named 'nobody'", Refusal(() => _router.Share(owner, "s-aaaaaaaa", "nobody", SessionAccess.Read)), StringComparison.Ordinal);
        Assert.Contains("token 'gone' was revoked", Refusal(() => _router.Share(owner, "s-aaaaaaaa", "gone", SessionAccess.Read)), StringComparison.Ordinal);
        Assert.Contains("owns session s-aaaaaaaa already", Refusal(() => _router.Share(owner, "s-aaaaaaaa", "ci", SessionAccess.Read)), StringComparison.Ordinal);
        Assert.Contains("the local user sees every session already", Refusal(() => _router.Share(owner, "s-aaaaaaaa", "local", SessionAccess.Read)), StringComparison.Ordinal);
        Assert.Contains("is not shared with token 'laptop'", Refusal(() => _router.Share(owner, "s-aaaaaaaa", "laptop", SessionAccess.None)), StringComparison.Ordinal);
        Assert.Throws<UnknownSessionException>(() => _router.Share(Call(Other, "session_share"), "s-aaaaaaaa", "laptop", SessionAccess.Read));
        Assert.Throws<UnknownSessionException>(() => _router.Share(owner, "s-zzzzzzzz", "laptop", SessionAccess.Read));
    }

    [Fact]
    public void AnAdminMayShareAnySession()
    {
        // Given / When
        _router.Share(Call(Ops, "session_share"), "s-bbbbbbbb", "ci", SessionAccess.Full);

        // Then
        Assert.Equal("s-bbbbbbbb", _router.Get(Call(Ci, "session_exec"), "s-bbbbbbbb").Id);
    }

    private static CallContext Call(Principal principal, string tool) => new(principal, tool, "tests/1");

    private static string Refusal(Action share) => Assert.Throws<AccessException>(share).Message;

    public async ValueTask DisposeAsync()
    {
        await _jobs.DisposeAsync();
        _scratch.Dispose();
    }
}
