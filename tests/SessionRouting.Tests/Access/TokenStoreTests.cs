using System.Security.Cryptography;
using System.Text;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Tests.Audit;

namespace SessionMcp.SessionRouting.Tests.Access;

public sealed class TokenStoreTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();
    private readonly TokenStore _tokens;

    public TokenStoreTests() => _tokens = new TokenStore(_scratch.Database, TimeProvider.System);

    [Fact]
    public void ACreatedTokenAuthenticatesAsItsNameAndScope()
    {
        // Given
        var token = _tokens.Create("laptop", AccessScope.Read);

        // When
        var principal = _tokens.Authenticate(token);

        // Then
        Assert.StartsWith(TokenStore.Prefix, token, StringComparison.Ordinal);
        Assert.Matches("^smcp_[A-Za-z0-9_-]{43}$", token);
        Assert.Equal(new Principal("laptop", AccessScope.Read), principal);
    }

    [Fact]
    public void ATokenWithALifetimeAuthenticatesUntilItEndsAndThenNoMore()
    {
        // Given a clock and a token made to live an hour
        var clock = new ManualClock(DateTimeOffset.Parse("2026-11-30T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var tokens = new TokenStore(_scratch.Database, clock);
        var token = tokens.Create("contractor", AccessScope.Read, TimeSpan.FromHours(1));

        // When / Then: it authenticates a moment before its end, and not at it
        clock.Now += TimeSpan.FromMinutes(59);
        Assert.Equal(new Principal("contractor", AccessScope.Read), tokens.Authenticate(token));
        clock.Now += TimeSpan.FromMinutes(1);
        Assert.Null(tokens.Authenticate(token));
        var listed = Assert.Single(tokens.List());
        Assert.Equal(DateTimeOffset.Parse("2026-11-30T11:00:00Z", System.Globalization.CultureInfo.InvariantCulture), listed.ExpiresAt);
        Assert.True(listed.ExpiredAt(clock.Now));
        Assert.Throws<AccessException>(() => tokens.Create("never-valid", AccessScope.Read, TimeSpan.Zero));
    }

    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void EveryTokenIsDifferent()
    {
        // Given / When
        var tokens = Enumerable.Range(0, 20).Select(i => _tokens.Create($"t{i}", AccessScope.Full)).ToList();

        // Then
        Assert.Equal(20, tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.All(tokens.Select((t, i) => (t, i)), x => Assert.Equal($"t{x.i}", _tokens.Authenticate(x.t)?.Name));
    }

    [Fact]
    public void AnythingButALiveTokenAuthenticatesAsNobody()
    {
        // Given a token
        var token = _tokens.Create("ci", AccessScope.Full);
        var lastChanged = token[..^1] + (token[^1] == 'A' ? 'B' : 'A');

        // When / Then
        Assert.Null(_tokens.Authenticate(lastChanged));
        Assert.Null(_tokens.Authenticate(token + "A"));
        Assert.Null(_tokens.Authenticate(token[..^1]));
        Assert.Null(_tokens.Authenticate(""));
        Assert.Null(_tokens.Authenticate("ci"));
        Assert.Null(_tokens.Authenticate(TokenStore.Hash(token)));
        Assert.Null(_tokens.Authenticate("xxxx_" + token[5..]));
    }

    [Fact]
    public void OnlyTheHashIsStored()
    {
        // Given a token
        var token = _tokens.Create("laptop", AccessScope.Full);
        var secret = token[TokenStore.Prefix.Length..];

        // When the database file and its write-ahead log are read byte for byte
        _scratch.Database.Dispose(); // checkpoints the WAL into the file
        var stored = string.Concat(Directory.GetFiles(_scratch.Directory).Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(f))));

        // Then neither the token nor its secret part is there, only its SHA-256
        Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token))), stored, StringComparison.Ordinal);
        var reopened = new TokenStore(_scratch.OpenAnother(), TimeProvider.System);
        Assert.Equal("laptop", reopened.Authenticate(token)?.Name);
    }

    [Fact]
    public void ATokenPastedIntoAnAuditedTextIsRedacted()
    {
        // Given a token a user pasted into a command
        var token = _tokens.Create("ci", AccessScope.Full);

        // When / Then
        var redacted = SessionMcp.SessionRouting.Text.SecretRedactor.RedactText($"echo {token} > ~/.config/remote");
        Assert.DoesNotContain(token[TokenStore.Prefix.Length..], redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void HashesAreComparedInFixedTimeWhateverTheStoredValue()
    {
        // Given the hash of a token
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes("smcp_x"));
        var hex = Convert.ToHexStringLower(hash);

        // When / Then only the same 32 bytes match; a stored value of another length or not hex is no match, never an error
        Assert.True(TokenStore.HashMatches(hash, hex));
        Assert.True(TokenStore.HashMatches(hash, hex.ToUpperInvariant()));
        Assert.False(TokenStore.HashMatches(hash, hex[..^1] + (hex[^1] == '0' ? '1' : '0')));
        Assert.False(TokenStore.HashMatches(hash, hex[..^2]));
        Assert.False(TokenStore.HashMatches(hash, hex + "00"));
        Assert.False(TokenStore.HashMatches(hash, new string('z', 64)));
        Assert.False(TokenStore.HashMatches(hash, ""));
    }

    [Fact]
    public void ARevokedTokenAuthenticatesNoMoreAndItsNameIsNeverReused()
    {
        // Given a token, revoked
        var token = _tokens.Create("laptop", AccessScope.Admin);
        var revoked = _tokens.Revoke("laptop");

        // When
        var again = _tokens.Revoke("laptop");
        var reuse = Assert.Throws<AccessException>(() => _tokens.Create("laptop", AccessScope.Full));

        // Then
        Assert.Equal(RevokeOutcome.Revoked, revoked);
        Assert.Equal(RevokeOutcome.AlreadyRevoked, again);
        Assert.Equal(RevokeOutcome.Unknown, _tokens.Revoke("nobody"));
        Assert.Null(_tokens.Authenticate(token));
        Assert.Contains("never reused", reuse.Message, StringComparison.Ordinal);
        var listed = Assert.Single(_tokens.List());
        Assert.True(listed.Revoked);
    }

    [Fact]
    public void NamesAreUniqueWithoutRegardToCase()
    {
        // Given
        _tokens.Create("Laptop", AccessScope.Full);

        // When
        var taken = Assert.Throws<AccessException>(() => _tokens.Create("laptop", AccessScope.Read));

        // Then the name as stored is what the token is found by, whatever case is typed
        Assert.Contains("'Laptop' already exists", taken.Message, StringComparison.Ordinal);
        Assert.Equal("Laptop", _tokens.Find("LAPTOP")?.Name);
        Assert.Equal(RevokeOutcome.Revoked, _tokens.Revoke("laptop"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("slash/name")]
    [InlineData("ünïcode")]
    [InlineData("local")]
    [InlineData("LOCAL")]
    public void BadOrReservedNamesAreRefused(string name)
    {
        // Given / When
        var refused = Assert.Throws<AccessException>(() => _tokens.Create(name, AccessScope.Full));

        // Then
        Assert.Equal(TokenStore.NameProblem(name), refused.Message);
        Assert.Empty(_tokens.List());
    }

    [Fact]
    public void NamesOfUpTo64LettersDigitsDashesUnderscoresAndDotsAreAllowed()
    {
        // Given / When / Then
        Assert.Null(TokenStore.NameProblem("ci-runner_2.prod"));
        Assert.Null(TokenStore.NameProblem(new string('a', 64)));
        Assert.NotNull(TokenStore.NameProblem(new string('a', 65)));
    }

    [Fact]
    public void ListShowsNamesScopesAndTimesOldestFirst()
    {
        // Given
        _tokens.Create("a", AccessScope.Read);
        _tokens.Create("b", AccessScope.Admin);

        // When
        var listed = _tokens.List();

        // Then
        Assert.Equal([("a", AccessScope.Read, false), ("b", AccessScope.Admin, false)], listed.Select(t => (t.Name, t.Scope, t.Revoked)));
        Assert.All(listed, t => Assert.True(DateTimeOffset.UtcNow - t.CreatedAt < TimeSpan.FromMinutes(1)));
    }

    public void Dispose() => _scratch.Dispose();
}
