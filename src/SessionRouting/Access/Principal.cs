namespace SessionMcp.SessionRouting.Access;

/// <summary>What a principal may do.</summary>
internal enum AccessScope
{
    /// <summary>Only the read-only tools, on its own sessions and those shared with it.</summary>
    Read,

    /// <summary>Every tool, on its own sessions and those shared with it.</summary>
    Full,

    /// <summary>Every tool on every session.</summary>
    Admin,
}

/// <summary>The text forms of <see cref="AccessScope"/>, as stored and as typed on the command line.</summary>
internal static class AccessScopes
{
    /// <summary>The choices as a command line shows them.</summary>
    public const string Choices = "full|read|admin";

    public static string Name(AccessScope scope) => scope switch
    {
        AccessScope.Read => "read",
        AccessScope.Full => "full",
        AccessScope.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(scope)),
    };

    public static bool TryParse(string? text, out AccessScope scope)
    {
        switch (text)
        {
            case "read":
                scope = AccessScope.Read;
                return true;
            case "full":
                scope = AccessScope.Full;
                return true;
            case "admin":
                scope = AccessScope.Admin;
                return true;
            default:
                scope = default;
                return false;
        }
    }
}

/// <summary>
/// Who makes a call: the holder of a token (its name and scope), or <see cref="Local"/> — the user of a stdio server or
/// the owner of the daemon's socket, trusted as stdio trusts the process that started it.
/// </summary>
internal sealed record Principal(string Name, AccessScope Scope)
{
    /// <summary>The local user's name; no token can take it (<see cref="TokenStore.NameProblem"/>).</summary>
    public const string LocalName = "local";

    /// <summary>The local user: admin-equivalent, and the owner of every session made before ownership existed.</summary>
    public static readonly Principal Local = new(LocalName, AccessScope.Admin);

    public bool IsLocal => Name == LocalName;

    /// <summary>How messages name the principal: "token 'laptop'", or "the local user".</summary>
    public string Description => IsLocal ? "the local user" : $"token '{Name}'";
}
