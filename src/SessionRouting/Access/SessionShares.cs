using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Storage;

namespace SessionMcp.SessionRouting.Access;

/// <summary>Which sessions are shared with which principals (by token name), and how far: read or full.</summary>
internal sealed class SessionShares(SessionDatabase database, TimeProvider time)
{
    /// <summary>Shares <paramref name="sessionId"/> with <paramref name="principal"/>, replacing an earlier share.</summary>
    public void Share(string sessionId, string principal, SessionAccess access)
    {
        if (access == SessionAccess.None)
        {
            throw new ArgumentOutOfRangeException(nameof(access), "a share gives read or full access; Unshare takes one away");
        }
        database.WriteTransaction((connection, transaction) =>
        {
            using var upsert = connection.CreateCommand();
            upsert.Transaction = transaction;
            upsert.CommandText = """
                INSERT INTO session_shares (session_id, principal, scope, created_at) VALUES ($session, $principal, $scope, $now)
                ON CONFLICT (session_id, principal) DO UPDATE SET scope = excluded.scope, created_at = excluded.created_at
                """;
            upsert.Parameters.AddWithValue("$session", sessionId);
            upsert.Parameters.AddWithValue("$principal", principal);
            upsert.Parameters.AddWithValue("$scope", Name(access));
            upsert.Parameters.AddWithValue("$now", HashChain.FormatTime(time.GetUtcNow()));
            return upsert.ExecuteNonQuery();
        });
    }

    /// <summary>Takes a share away; false when there was none.</summary>
    public bool Unshare(string sessionId, string principal) => database.WriteTransaction((connection, transaction) =>
    {
        using var delete = connection.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM session_shares WHERE session_id = $session AND principal = $principal";
        delete.Parameters.AddWithValue("$session", sessionId);
        delete.Parameters.AddWithValue("$principal", principal);
        return delete.ExecuteNonQuery() > 0;
    });

    /// <summary>What <paramref name="sessionId"/> is shared with <paramref name="principal"/> at, or null.</summary>
    public SessionAccess? Of(string sessionId, string principal) => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT scope FROM session_shares WHERE session_id = $session AND principal = $principal";
        select.Parameters.AddWithValue("$session", sessionId);
        select.Parameters.AddWithValue("$principal", principal);
        return select.ExecuteScalar() is string scope ? Parse(scope) : (SessionAccess?)null;
    });

    /// <summary>Every session shared with <paramref name="principal"/>, by id.</summary>
    public IReadOnlyDictionary<string, SessionAccess> SharedWith(string principal) => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT session_id, scope FROM session_shares WHERE principal = $principal";
        select.Parameters.AddWithValue("$principal", principal);
        using var reader = select.ExecuteReader();
        var shares = new Dictionary<string, SessionAccess>(StringComparer.Ordinal);
        while (reader.Read())
        {
            shares[reader.GetString(0)] = Parse(reader.GetString(1));
        }
        return shares;
    });

    /// <summary>Who <paramref name="sessionId"/> is shared with, by principal name.</summary>
    public IReadOnlyDictionary<string, SessionAccess> Of(string sessionId) => database.Read(connection =>
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT principal, scope FROM session_shares WHERE session_id = $session ORDER BY principal";
        select.Parameters.AddWithValue("$session", sessionId);
        using var reader = select.ExecuteReader();
        var shares = new Dictionary<string, SessionAccess>(StringComparer.Ordinal);
        while (reader.Read())
        {
            shares[reader.GetString(0)] = Parse(reader.GetString(1));
        }
        return shares;
    });

    public static string Name(SessionAccess access) => access switch
    {
        SessionAccess.Read => "read",
        SessionAccess.Full => "full",
        _ => "none",
    };

    // The CHECK constraint allows only read and full.
    private static SessionAccess Parse(string scope) => scope == "full" ? SessionAccess.Full : SessionAccess.Read;
}
