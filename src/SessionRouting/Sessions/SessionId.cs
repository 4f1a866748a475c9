using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Sessions;

/// <summary>
/// Session IDs look like <c>s-7k2m9xq4</c>: short enough to type, lowercase Crockford-style base32 (no i, l, o, u),
/// safe in file paths, URLs, Docker names and labels.
/// </summary>
internal static partial class SessionId
{
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public static string New()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        var chars = new char[10];
        chars[0] = 's';
        chars[1] = '-';
        for (var i = 0; i < 8; i++)
        {
            chars[i + 2] = Alphabet[bytes[i] & 31];
        }
        return new string(chars);
    }

    public static bool IsWellFormed(string? id) => id is not null && Shape().IsMatch(id);

    [GeneratedRegex(@"^s-[0-9a-hjkmnp-tv-z]{8}\z")]
    private static partial Regex Shape();
}
