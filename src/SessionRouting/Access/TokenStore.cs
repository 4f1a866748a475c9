using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Access;

/// <summary>A token as listed: never its secret, never its hash.</summary>
internal sealed record TokenInfo(string Name, AccessScope Scope, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, DateTimeOffset? ExpiresAt)
{
    public bool Revoked => RevokedAt is not null;

    public bool ExpiredAt(DateTimeOffset now) => ExpiresAt <= now;
}

/// <summary>What <see cref="TokenStore.Revoke"/> did.</summary>
internal enum RevokeOutcome
{
    Revoked,
    AlreadyRevoked,
    Unknown,
}

/// <summary>
/// Bearer tokens in the session database. A token is shown once, when it is made; only its SHA-256 is stored, so the
/// database (or a backup of it) gives no token away. A token is random (256 bits), so a plain hash is enough: there is
/// nothing to guess, and no salt or slow hash would add anything.
/// </summary>
internal sealed class TokenStore(SessionDatabase database, TimeProvider time)
{
    /// <summary>What every token starts with, so one pasted into a log or a chat is recognisable (and redactable).</summary>
    public const string Prefix = "smcp_";

    public const int MaxNameLength = 64;

    /// <summary>The longest lifetime a token can be given (its end must be a date); without one it lasts until revoked.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(36_525);

    private const int SecretBytes = 32;

    /// <summary>Prefix + 32 bytes in unpadded base64url.</summary>
    private static readonly int TokenLength = Prefix.Length + Base64Url.GetEncodedLength(SecretBytes);

    /// <summary>Why <paramref name="name"/> cannot name a token, or null when it can.</summary>
    public static string? NameProblem(string name)
    {
        if (name.Length is 0 or > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return $"token name '{name}' is not allowed: 1 to {MaxNameLength} letters, digits, '-', '_' or '.'";
        }
        if (string.Equals(name, Principal.LocalName, StringComparison.OrdinalIgnoreCase))
        {
            return $"token name '{name}' is reserved for the local user";
        }
        return null;
    }

    /// <summary>Makes a token and returns it: the only time its text exists outside the caller's hands.</summary>
    /// <param name="lifetime">How long it authenticates (null: until revoked).</param>
    /// <exception cref="AccessException">The name is not allowed, or a token (even a revoked one) already has it.</exception>
    public string Create(string name, AccessScope scope, TimeSpan? lifetime = null)
    {
        if (NameProblem(name) is { } problem)
        {
            throw new AccessException(problem);
        }
        if (lifetime <= TimeSpan.Zero || lifetime > MaxLifetime)
        {
            throw new AccessException($"a token's lifetime must be positive and at most 100 years (got {lifetime})");
        }
        var token = Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));
        var now = time.GetUtcNow();
        try
        {
            database.WriteTransaction((connection, transaction) =>
            {
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO tokens (name, scope, hash, created_at, expires_at) VALUES ($name, $scope, $hash, $created, $expires)";
                insert.Parameters.AddWithValue("$name", name);
                insert.Parameters.AddWithValue("$scope", AccessScopes.Name(scope));
                insert.Parameters.AddWithValue("$hash", Hash(token));
                insert.Parameters.AddWithValue("$created", HashChain.FormatTime(now));
                insert.Parameters.AddWithValue("$expires", lifetime is { } span ? HashChain.FormatTime(now + span) : DBNull.Value);
                return insert.ExecuteNonQuery();
            });
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT: the name is taken */)
        {
            // A revoked token keeps its name: the name owns sessions and signs audit events, so a new token under it
            // would inherit them.
            var existing = Find(name);
            throw new AccessException(existing is { Revoked: true }
                ? $"a revoked token was named '{existing.Name}'; names are never reused (its sessions and audit events keep it), choose another"
                : $"a token named '{existing?.Name ?? name}' already exists; 'session-mcp token list' shows them");
        }
        return token;
    }

    /// <summary>The principal a presented token stands for, or null when it is not a live token (unknown, revoked or expired).</summary>
    public Principal? Authenticate(string presented)
    {
        // The format is public; checking it first only spares a hash and a query on junk.
        if (presented.Length != TokenLength || !presented.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var row = database.Read(connection =>
        {
            // Looked up by the hash, which the caller cannot steer (preimage resistance), so the lookup's timing says
            // nothing about any stored token; the fixed-time compare below is the decision.
            using var select = connection.CreateCommand();
            select.CommandText = "SELECT name, scope, hash, revoked_at, expires_at FROM tokens WHERE hash = $hash";
            select.Parameters.AddWithValue("$hash", Convert.ToHexStringLower(hash));
            using var reader = select.ExecuteReader();
            return reader.Read()
                ? (Name: reader.GetString(0), Scope: reader.GetString(1), Hash: reader.GetString(2), Revoked: !reader.IsDBNull(3),
                   Expires: reader.IsDBNull(4) ? (DateTimeOffset?)null : HashChain.ParseTime(reader.GetString(4)))
                : default;
        });
        if (row.Name is null || !HashMatches(hash, row.Hash) || row.Revoked || row.Expires <= time.GetUtcNow() || !AccessScopes.TryParse(row.Scope, out var scope))
        {
            return null;
        }
        return new Principal(row.Name, scope);
    }

    /// <summary>Whether <paramref name="stored"/> (hex) is <paramref name="computed"/>, in time that depends on neither value.</summary>
    internal static bool HashMatches(ReadOnlySpan<byte> computed, string stored)
    {
        Span<byte> storedBytes = stackalloc byte[SHA256.HashSizeInBytes];
        if (stored.Length != SHA256.HashSizeInBytes * 2 || Convert.FromHexString(stored, storedBytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != storedBytes.Length)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(computed, storedBytes);
    }

    /// <summary>The stored form of a token: its SHA-256 in lowercase hex.</summary>
    internal static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Every token, revoked ones included, oldest first.</summary>
    public IReadOnlyList<TokenInfo> List() => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT name, scope, created_at, revoked_at, expires_at FROM tokens ORDER BY created_at, name";
        using var reader = select.ExecuteReader();
        var tokens = new List<TokenInfo>();
        while (reader.Read())
        {
            tokens.Add(ReadInfo(reader));
        }
        return tokens;
    });

    /// <summary>The token named <paramref name="name"/> (names compare without case), or null.</summary>
    public TokenInfo? Find(string name) => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT name, scope, created_at, revoked_at, expires_at FROM tokens WHERE name = $name";
        select.Parameters.AddWithValue("$name", name);
        using var reader = select.ExecuteReader();
        return reader.Read() ? ReadInfo(reader) : null;
    });

    /// <summary>Revokes a token for good: it authenticates no more, and its name is never given to another.</summary>
    public RevokeOutcome Revoke(string name) => database.WriteTransaction((connection, transaction) =>
    {
        using var update = connection.CreateCommand();
        update.Transaction = transaction;
        update.CommandText = "UPDATE tokens SET revoked_at = $now WHERE name = $name AND revoked_at IS NULL";
        update.Parameters.AddWithValue("$name", name);
        update.Parameters.AddWithValue("$now", HashChain.FormatTime(time.GetUtcNow()));
        if (update.ExecuteNonQuery() == 1)
        {
            return RevokeOutcome.Revoked;
        }
        using var exists = connection.CreateCommand();
        exists.Transaction = transaction;
        exists.CommandText = "SELECT 1 FROM tokens WHERE name = $name";
        exists.Parameters.AddWithValue("$name", name);
        return exists.ExecuteScalar() is null ? RevokeOutcome.Unknown : RevokeOutcome.AlreadyRevoked;
    });

    private static TokenInfo ReadInfo(SqliteDataReader reader) => new(
        reader.GetString(0),
        AccessScopes.TryParse(reader.GetString(1), out var scope) ? scope : AccessScope.Read, // the CHECK constraint allows no other
        HashChain.ParseTime(reader.GetString(2)),
        reader.IsDBNull(3) ? null : HashChain.ParseTime(reader.GetString(3)),
        reader.IsDBNull(4) ? null : HashChain.ParseTime(reader.GetString(4)));
}
