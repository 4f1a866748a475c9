using SessionMcp.McpServer.Cli;
using SessionMcp.SessionRouting.Access;

namespace SessionMcp.McpServer.Tests.Cli;

/// <summary>The <c>token</c> commands as the strict parser reads them.</summary>
public sealed class TokenCommandLineTests
{
    [Fact]
    public void CreateTakesANameAndAScopeThatDefaultsToFull()
    {
        // Given / When
        var bare = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "create", "--name", "laptop"]));
        var read = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "create", "--name=ci.runner-2", "--scope", "read", "--data-dir", "d"]));

        // Then
        Assert.Equal((CommandLineParser.TokenCreate, "laptop", AccessScope.Full), (bare.Name, bare.TokenName, bare.TokenScope));
        Assert.Equal(("ci.runner-2", AccessScope.Read, "d"), (read.TokenName, read.TokenScope, read.Settings["data-dir"]));
    }

    [Fact]
    public void CreateTakesALifetime()
    {
        // Given / When
        var brief = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "create", "--name", "ci", "--expires-in", "90d"]));
        var forever = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "create", "--name", "ci"]));

        // Then
        Assert.Equal(TimeSpan.FromDays(90), brief.TokenLifetime);
        Assert.Null(forever.TokenLifetime);
    }

    [Fact]
    public void ListTakesNoWordsAndRevokeTakesTheName()
    {
        // Given / When
        var list = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "list"]));
        var revoke = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["token", "revoke", "laptop"]));

        // Then
        Assert.Equal(CommandLineParser.TokenList, list.Name);
        Assert.Equal((CommandLineParser.TokenRevoke, "laptop"), (revoke.Name, Assert.Single(revoke.Arguments)));
    }

    [Theory]
    [InlineData(new[] { "token" }, "token needs a subcommand: token create, token list or token revoke")]
    [InlineData(new[] { "token", "craete" }, "unknown command 'token craete'; did you mean token create?")]
    [InlineData(new[] { "token", "create" }, "token create needs a name: session-mcp token create --name NAME [--scope full|read|admin] [--expires-in AGE]")]
    [InlineData(new[] { "token", "create", "--name", "x", "--expires-in", "soon" }, "--expires-in must be an age: a whole number and s, m, h, d or w, e.g. 90d (got 'soon')")]
    [InlineData(new[] { "token", "create", "--name", "x", "--expires-in", "0d" }, "--expires-in must be an age: a whole number and s, m, h, d or w, e.g. 90d (got '0d')")]
    [InlineData(new[] { "token", "create", "--name", "x", "--expires-in", "600000w" }, "--expires-in must be at most 36525d (100 years; leave it out for a token that lasts until revoked)")]
    [InlineData(new[] { "token", "create", "--name", "a b" }, "token name 'a b' is not allowed: 1 to 64 letters, digits, '-', '_' or '.'")]
    [InlineData(new[] { "token", "create", "--name", "local" }, "token name 'local' is reserved for the local user")]
    [InlineData(new[] { "token", "create", "--name", "x", "--scope", "root" }, "--scope must be full, read or admin (got 'root')")]
    [InlineData(new[] { "token", "create", "laptop" }, "token create takes no word 'laptop'")]
    [InlineData(new[] { "token", "list", "--name", "x" }, "--name is an option of token create, not of token list")]
    [InlineData(new[] { "token", "list", "all" }, "token list takes no word 'all'")]
    [InlineData(new[] { "token", "revoke" }, "token revoke needs the token's name: session-mcp token revoke NAME ('session-mcp token list' shows them)")]
    [InlineData(new[] { "token", "revoke", "a", "b" }, "token revoke needs the token's name: session-mcp token revoke NAME ('session-mcp token list' shows them)")]
    [InlineData(new[] { "sessions", "--scope", "read" }, "--scope is an option of token create, not of sessions")]
    public void AMistakeIsAnErrorThatSaysWhatToType(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }
}
