using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Tests.Access;

/// <summary>
/// Callers other than the local user, through the real tools and filters: the server runs in this process and every
/// message carries the user a token-checking transport would have put there.
/// </summary>
public sealed class CallerAccessTests : IAsyncLifetime
{
    private readonly TempDirectory _dataDir = new("access");
    private InProcessServer? _server;
    private readonly List<string> _sessions = [];

    private InProcessServer Server => _server!;

    public async Task InitializeAsync()
    {
        _server = await InProcessServer.StartAsync(_dataDir.Path);
        var tokens = Server.Services.GetRequiredService<TokenStore>();
        tokens.Create("laptop", AccessScope.Read);
        tokens.Create("ci", AccessScope.Full);
        tokens.Create("other", AccessScope.Full);
    }

    [Fact]
    public async Task AReadTokenCallingAToolThatChangesThingsIsRefusedBeforeItRunsAndTheRefusalIsAudited()
    {
        // Given a read token
        Server.User = As("laptop", AccessScope.Read);

        // When it asks for a session
        var (isError, _, text) = await Server.CallAsync("session_create", new { backend = "local" });

        // Then nothing was made, and the event says who was refused what
        Assert.True(isError, text);
        Assert.StartsWith("token 'laptop' has scope read; session_create needs full", text, StringComparison.Ordinal);
        var refused = LastEvent();
        Assert.Equal(("session_create", AuditOutcomes.Rejected, "laptop"), (refused.Entry.Tool, refused.Entry.Outcome, refused.Entry.Principal));
        Server.User = null;
        Assert.Equal(0, (await Server.CallAsync("session_list")).Content!["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task ASessionIsItsCreatorsAndOthersCannotSeeItUnlessItIsShared()
    {
        // Given a session made by ci
        Server.User = As("ci", AccessScope.Full);
        var id = await CreateAsync();

        // When other lists and uses it, and laptop reads it before and after ci shares it read-only
        Server.User = As("other", AccessScope.Full);
        var otherList = await Server.CallAsync("session_list");
        var otherExec = await Server.CallAsync("session_exec", new { session_id = id, command = "true" });
        var otherMissing = await Server.CallAsync("session_exec", new { session_id = "s-zzzzzzzz", command = "true" });
        Server.User = As("laptop", AccessScope.Read);
        var before = await Server.CallAsync("session_replay", new { session_id = id });
        Server.User = As("ci", AccessScope.Full);
        var shared = await Server.CallAsync("session_share", new { session_id = id, token_name = "laptop", scope = "read" });
        Server.User = As("laptop", AccessScope.Read);
        var after = await Server.CallAsync("session_replay", new { session_id = id });
        var laptopList = await Server.CallAsync("session_list");
        var laptopExec = await Server.CallAsync("session_exec", new { session_id = id, command = "true" });

        // Then a session not shared with a caller is unknown to it, word for word as one that does not exist
        Assert.Equal(0, otherList.Content!["total"]!.GetValue<int>());
        Assert.True(otherExec.IsError);
        Assert.Equal(
            otherMissing.Text.Replace("s-zzzzzzzz", id, StringComparison.Ordinal).Split(" (event_seq")[0],
            otherExec.Text.Split(" (event_seq")[0]);
        Assert.True(before.IsError);
        Assert.Contains($"no session '{id}'", before.Text, StringComparison.Ordinal);

        // And once shared, laptop reads it but may still change nothing
        Assert.False(shared.IsError, shared.Text);
        Assert.Equal("ci", shared.Content!["owner"]!.GetValue<string>());
        Assert.Equal("laptop", shared.Content["shared_with"]![0]!["token_name"]!.GetValue<string>());
        Assert.False(after.IsError, after.Text);
        Assert.Equal([id], laptopList.Content!["sessions"]!.AsArray().Select(s => s!["session_id"]!.GetValue<string>()));
        Assert.StartsWith("token 'laptop' has scope read; session_exec needs full", laptopExec.Text, StringComparison.Ordinal);

        // And the local user sees every session
        Server.User = null;
        var localList = await Server.CallAsync("session_list");
        Assert.Contains(id, localList.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryEventNamesThePrincipalThatMadeTheCall()
    {
        // Given a session made and used by ci
        Server.User = As("ci", AccessScope.Full);
        var id = await CreateAsync();
        await Server.CallAsync("session_exec", new { session_id = id, command = "echo hi" });

        // When its history is replayed
        var replay = await Server.CallAsync("session_replay", new { session_id = id });
        var transcript = await Server.CallAsync("session_replay", new { session_id = id, format = "transcript" });

        // Then the lifecycle event and every call name ci
        var events = replay.Content!["events"]!.AsArray();
        Assert.Equal(["session_created", "tool_call", "tool_call"], events.Select(e => e!["kind"]!.GetValue<string>()));
        Assert.All(events, e => Assert.Equal("ci", e!["principal"]!.GetValue<string>()));
        var headlines = transcript.Content!["transcript"]!.GetValue<string>().Split('\n').Where(l => l.StartsWith('#')).ToList();
        Assert.Equal(4, headlines.Count); // the three events, and the first replay
        Assert.All(headlines, line => Assert.Contains("Z [ci] ", line, StringComparison.Ordinal));
        Assert.Null(Server.Services.GetRequiredService<AuditLog>().Verify().Break);
    }

    [Fact]
    public async Task OnlyTheOwnerMayShareAndOnlyWithALiveToken()
    {
        // Given a session of ci shared in full with other
        Server.User = As("ci", AccessScope.Full);
        var id = await CreateAsync();
        var unknownToken = await Server.CallAsync("session_share", new { session_id = id, token_name = "nobody", scope = "read" });
        await Server.CallAsync("session_share", new { session_id = id, token_name = "other", scope = "full" });

        // When other, who may use it, tries to share it on
        Server.User = As("other", AccessScope.Full);
        var used = await Server.CallAsync("session_exec", new { session_id = id, command = "true" });
        var reshare = await Server.CallAsync("session_share", new { session_id = id, token_name = "laptop", scope = "read" });

        // Then
        Assert.Contains("no token named 'nobody'", unknownToken.Text, StringComparison.Ordinal);
        Assert.False(used.IsError, used.Text);
        Assert.Contains($"only the owner of session {id} (token 'ci') or an admin can share it", reshare.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AUserThatIsPresentButNotAuthenticatedIsRefusedNeverTakenForTheLocalUser()
    {
        // Given what an HTTP transport reports for a request without a valid token
        Server.User = new ClaimsPrincipal(new ClaimsIdentity());

        // When
        var (isError, _, text) = await Server.CallAsync("session_list");

        // Then
        Assert.True(isError);
        Assert.StartsWith("this request carries no valid credentials", text, StringComparison.Ordinal);
        var refused = LastEvent();
        Assert.Equal((AuditOutcomes.Rejected, (string?)null), (refused.Entry.Outcome, refused.Entry.Principal));
    }

    private async Task<string> CreateAsync()
    {
        var (isError, content, text) = await Server.CallAsync("session_create", new { backend = "local" });
        Assert.False(isError, text);
        var id = content!["session_id"]!.GetValue<string>();
        _sessions.Add(id);
        return id;
    }

    private AuditEvent LastEvent() => Server.Services.GetRequiredService<AuditLog>().ReadLast(1).Single();

    private static ClaimsPrincipal As(string name, AccessScope scope) =>
        PrincipalClaims.ToClaimsPrincipal(new Principal(name, scope), "test-token");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            Server.User = null;
            foreach (var id in _sessions)
            {
                await Server.CallAsync("session_destroy", new { session_id = id });
            }
            await _server.DisposeAsync();
        }
        _dataDir.Dispose();
    }
}
