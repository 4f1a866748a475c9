using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// The pieces of git's patch format that are not line diffs: a blob's object id, the binary test git uses, and the
/// "GIT binary patch" section (zlib-deflated content in git's own base85 alphabet), as `git diff --binary` writes them
/// and `git apply` reads them.
/// </summary>
internal static class GitBinaryPatch
{
    /// <summary>git looks this far for a NUL byte to call content binary (xdiff's FIRST_FEW_BYTES).</summary>
    private const int BinaryProbeBytes = 8000;

    /// <summary>Bytes per line of a binary hunk; the line's first letter says how many it holds.</summary>
    private const int BytesPerLine = 52;

    private static readonly char[] Alphabet =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~".ToCharArray();

    /// <summary>The SHA-1 object id git gives this content as a blob (in a repository of the default hash).</summary>
    public static string BlobId(ReadOnlySpan<byte> content)
    {
        var header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(header);
        sha1.AppendData(content);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    public const string NullId = "0000000000000000000000000000000000000000";

    /// <summary>git's rule: content is binary when a NUL byte appears in its first 8000 bytes.</summary>
    public static bool LooksBinary(ReadOnlySpan<byte> content) =>
        content[..Math.Min(content.Length, BinaryProbeBytes)].Contains((byte)0);

    /// <summary>
    /// Appends "GIT binary patch" with a forward literal (the new content) and a reverse one (the old), each ended by a
    /// blank line; `git apply` needs only the forward one, `git apply -R` the reverse.
    /// </summary>
    public static void AppendLiterals(StringBuilder output, ReadOnlySpan<byte> oldContent, ReadOnlySpan<byte> newContent)
    {
        output.Append("GIT binary patch\n");
        AppendLiteral(output, newContent);
        AppendLiteral(output, oldContent);
    }

    private static void AppendLiteral(StringBuilder output, ReadOnlySpan<byte> content)
    {
        output.Append("literal ").Append(content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        var deflated = Deflate(content);
        for (var start = 0; start < deflated.Length; start += BytesPerLine)
        {
            var count = Math.Min(BytesPerLine, deflated.Length - start);
            output.Append(count <= 26 ? (char)('A' + count - 1) : (char)('a' + count - 27));
            AppendBase85(output, deflated.AsSpan(start, count));
            output.Append('\n');
        }
        output.Append('\n');
    }

    /// <summary>zlib's stream of no bytes (header, an empty final block, Adler-32 of 1) as git writes it, which .NET does not write for
    /// an empty input; git needs it for "literal 0".</summary>
    private static readonly byte[] EmptyZlibStream = [0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01];

    private static byte[] Deflate(ReadOnlySpan<byte> content)
    {
        if (content.IsEmpty)
        {
            return EmptyZlibStream;
        }
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(content);
        }
        return buffer.ToArray();
    }

    /// <summary>Each group of 4 bytes (the last one padded with zeros) as 5 digits, most significant first.</summary>
    private static void AppendBase85(StringBuilder output, ReadOnlySpan<byte> bytes)
    {
        Span<char> digits = stackalloc char[5];
        for (var i = 0; i < bytes.Length; i += 4)
        {
            uint group = 0;
            for (var j = 0; j < 4; j++)
            {
                group = (group << 8) | (i + j < bytes.Length ? bytes[i + j] : 0u);
            }
            for (var d = 4; d >= 0; d--)
            {
                digits[d] = Alphabet[group % 85];
                group /= 85;
            }
            output.Append(digits);
        }
    }
}
