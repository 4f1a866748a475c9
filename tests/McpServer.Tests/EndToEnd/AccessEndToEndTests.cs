using System.Text;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Storage;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>Tokens, ownership and principals through the real binary: the token commands and the stdio server.</summary>
public sealed class AccessEndToEndTests
{
    [Fact]
    public async Task ATokenIsPrintedOnceListedWithoutItselfAndRevokedForGood()
    {
        // Given an empty data directory
        using var dataDir = new TempDirectory("tokens");

        // When a token is made, listed, revoked, revoked again, and its name asked for again
        var created = await ServerCli.RunAsync(dataDir.Path, ["token", "create", "--name", "laptop", "--scope", "read"]);
        var listed = await ServerCli.RunAsync(dataDir.Path, ["token", "list"]);
        var revoked = await ServerCli.RunAsync(dataDir.Path, ["token", "revoke", "laptop"]);
        var again = await ServerCli.RunAsync(dataDir.Path, ["token", "revoke", "laptop"]);
        var unknown = await ServerCli.RunAsync(dataDir.Path, ["token", "revoke", "desktop"]);
        var reused = await ServerCli.RunAsync(dataDir.Path, ["token", "create", "--name", "laptop"]);
        var listedAfter = await ServerCli.RunAsync(dataDir.Path, ["token", "list"]);

        // Then the token is stdout alone, with a warning that it is shown only now
        Assert.True(created.ExitCode == 0, created.ToString());
        var token = created.Stdout.TrimEnd('\n');
        Assert.Matches("^smcp_[A-Za-z0-9_-]{43}$", token);
        Assert.Contains("shown only now", created.Stderr, StringComparison.Ordinal);

        // And the list names it and its scope, never the token; the database holds only its hash
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Matches(@"(?m)^laptop\s+read\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+never\s+-$", listed.Stdout);
        Assert.DoesNotContain(token[5..], listed.Stdout, StringComparison.Ordinal);
        var files = string.Concat(Directory.GetFiles(dataDir.Path).Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        Assert.DoesNotContain(token[5..], files, StringComparison.Ordinal);

        // And revoking is for good, once; the name is not given out again
        Assert.True(revoked.ExitCode == 0, revoked.ToString());
        Assert.Contains("token 'laptop' revoked", revoked.Stdout, StringComparison.Ordinal);
        Assert.Contains("already revoked", again.Stdout, StringComparison.Ordinal);
        Assert.True(unknown.ExitCode == 1, unknown.ToString());
        Assert.Contains("no token named 'desktop'", unknown.Stderr, StringComparison.Ordinal);
        Assert.True(reused.ExitCode == 1, reused.ToString());
        Assert.Contains("never reused", reused.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^laptop\s+read\s+\S+ \S+\s+never\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", listedAfter.Stdout);

        // And both changes are audited, by the local user, in a chain that verifies
        var export = (await ServerCli.ExportTextAsync(dataDir.Path)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["token_created", "token_revoked"], export.Select(e => e["kind"]!.GetValue<string>()));
        Assert.All(export, e => Assert.Equal("local", e["principal"]!.GetValue<string>()));
        Assert.DoesNotContain(token[5..], string.Join("\n", export.Select(e => e.ToJsonString())), StringComparison.Ordinal);
        Assert.Equal(0, (await ServerCli.VerifyAsync(dataDir.Path)).ExitCode);
    }

    [Fact]
    public async Task AVersionTwoDatabaseStillVerifiesOnceTheServerHasMigratedAndExtendedIt()
    {
        // Given a data directory a version-2 server left: three events, one session
        using var dataDir = new TempDirectory("v2");
        VersionTwoDatabase.Write(Path.Combine(dataDir.Path, "session-mcp.db"), events: 3);

        // When audit verify migrates it, then the server runs on it and makes a session of its own
        var first = await ServerCli.VerifyAsync(dataDir.Path);
        string id;
        JsonNode listed;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            listed = await server.CallAsync("session_list");
            id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo new");
            await server.CallAsync("session_destroy", new { session_id = id });
        }
        var second = await ServerCli.VerifyAsync(dataDir.Path);
        var export = (await ServerCli.ExportTextAsync(dataDir.Path)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

        // Then the old events verify before and after, the old session is there, and only the new events name a principal
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("3 events verified", first.Stdout, StringComparison.Ordinal);
        Assert.Contains(VersionTwoDatabase.SessionId, listed.ToJsonString(), StringComparison.Ordinal);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.All(export.Take(3), e => Assert.Null(e["principal"]));
        Assert.All(export.Skip(3).Where(e => e["session_id"]?.GetValue<string>() == id), e => Assert.Equal("local", e["principal"]!.GetValue<string>()));
    }

    [Fact]
    public async Task OverStdioTheLocalUserSeesEverySessionAndSharesOnlyWithLiveTokens()
    {
        // Given a session another principal made (as an HTTP client will), and a token, before the server starts
        using var dataDir = new TempDirectory("stdio-access");
        using (var database = new SessionDatabase(Path.Combine(dataDir.Path, "session-mcp.db")))
        {
            var now = DateTimeOffset.UtcNow;
            new SessionRegistry(database).Add(new SessionRecord("s-c1c1c1c1", "ci's", "local", SessionStatus.Stopped, "/nonexistent", "/nonexistent", "/nonexistent",
                new Dictionary<string, string>(), now, now, null, "workspace removed") { Owner = "ci" });
            new TokenStore(database, TimeProvider.System).Create("laptop", AccessScope.Read);
        }
        await using var server = await ServerProcess.StartAsync(dataDir.Path);

        // When the local user makes a session, lists, and shares
        var mine = await server.CreateSessionAsync(Backends.Local);
        var listed = await server.CallAsync("session_list");
        var replayOfCi = await server.CallAsync("session_replay", new { session_id = "s-c1c1c1c1" });
        var noToken = await server.CallErrorAsync("session_share", new { session_id = mine, token_name = "desktop", scope = "read" });
        var local = await server.CallErrorAsync("session_share", new { session_id = mine, token_name = "local", scope = "full" });
        var unknownSession = await server.CallErrorAsync("session_share", new { session_id = "s-zzzzzzzz", token_name = "laptop", scope = "read" });
        var shared = await server.CallAsync("session_share", new { session_id = mine, token_name = "LAPTOP", scope = "read" });
        var unshared = await server.CallAsync("session_share", new { session_id = mine, token_name = "laptop", scope = "none" });
        await server.CallAsync("session_destroy", new { session_id = mine });

        // Then the local user sees its own session and ci's
        Assert.Equal(
            new[] { mine, "s-c1c1c1c1" }.Order(StringComparer.Ordinal),
            listed["sessions"]!.AsArray().Select(s => s!["session_id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal("s-c1c1c1c1", replayOfCi["session_id"]!.GetValue<string>());
        var byId = listed["sessions"]!.AsArray().ToDictionary(s => s!["session_id"]!.GetValue<string>(), s => s!["owner"]?.GetValue<string>());
        Assert.Equal(("ci", (string?)null), (byId["s-c1c1c1c1"], byId[mine]));
        var admin = await ServerCli.RunAsync(dataDir.Path, ["sessions"]);
        Assert.Matches(@"(?m)^s-c1c1c1c1\s+local\s+stopped\s+ci\s", admin.Stdout);
        Assert.Matches($@"(?m)^{mine}\s+local\s+\w+\s+local\s", admin.Stdout);

        // And sharing names what is wrong, and works with a live token (by its stored name)
        Assert.Contains("no token named 'desktop'", noToken, StringComparison.Ordinal);
        Assert.Contains("the local user sees every session already", local, StringComparison.Ordinal);
        Assert.Contains("no session 's-zzzzzzzz'", unknownSession, StringComparison.Ordinal);
        Assert.Equal("local", shared["owner"]!.GetValue<string>());
        Assert.Equal("laptop", shared["token_name"]!.GetValue<string>());
        Assert.Equal("read", shared["shared_with"]![0]!["scope"]!.GetValue<string>());
        Assert.Empty(unshared["shared_with"]!.AsArray());
    }

    [Fact]
    public async Task TheReadOnlyToolsOfThePolicyAreExactlyTheToolsAnnotatedReadOnly()
    {
        // Given the server's tool list
        using var dataDir = new TempDirectory("tools");
        await using var server = await ServerProcess.StartAsync(dataDir.Path);
        var tools = await server.Client.ListToolsAsync();

        // When / Then a read token may call exactly the tools that say they change nothing
        Assert.Equal(
            tools.Where(t => t.ProtocolTool.Annotations?.ReadOnlyHint == true).Select(t => t.Name).Order(StringComparer.Ordinal),
            AccessPolicy.ReadOnlyTools.Order(StringComparer.Ordinal));
        Assert.Contains(tools, t => t.Name == "session_share");
    }
}
