using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>The line-ending style of a text file, as reported to the model.</summary>
internal static class LineEnding
{
    public const string Lf = "lf";
    public const string Crlf = "crlf";

    /// <summary>Both CRLF and lone LF occur; edits use whichever is more frequent.</summary>
    public const string Mixed = "mixed";

    /// <summary>No line break at all; edits that add lines use LF.</summary>
    public const string None = "none";
}

/// <summary>
/// A file's text without its BOM. <see cref="Eol"/> is one of the <see cref="LineEnding"/> values;
/// <see cref="NewLine"/> is the break that new or edited lines get ("\n" or "\r\n").
/// </summary>
internal sealed record DecodedText(string Text, bool Bom, string Eol)
{
    public string NewLine { get; init; } = Eol == LineEnding.Crlf ? "\r\n" : "\n";
}

/// <summary>Decodes file bytes for reading and editing, refusing anything that is not UTF-8 text.</summary>
internal static class TextFile
{
    /// <summary>Only this much of the file is scanned for NUL bytes, like git and grep do.</summary>
    public const int BinaryProbeLength = 8 * 1024;

    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static DecodedText Decode(byte[] bytes, string displayPath)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var bom = bytes.AsSpan().StartsWith(Utf8Bom);
        var body = bytes.AsSpan(bom ? Utf8Bom.Length : 0);

        var probe = body[..Math.Min(body.Length, BinaryProbeLength)];
        var nul = probe.IndexOf((byte)0);
        if (nul >= 0)
        {
            throw NotText(displayPath, $"NUL byte at offset {nul + (bom ? Utf8Bom.Length : 0)}");
        }

        var invalidAt = FindInvalidUtf8(body);
        if (invalidAt >= 0)
        {
            throw NotText(displayPath, $"invalid UTF-8 at byte offset {invalidAt + (bom ? Utf8Bom.Length : 0)}");
        }

        var text = Utf8NoBom.GetString(body);
        var (eol, newLine) = DetectLineEnding(text);
        return new DecodedText(text, bom, eol) { NewLine = newLine };
    }

    public static byte[] Encode(string text, bool bom)
    {
        ArgumentNullException.ThrowIfNull(text);
        var length = Utf8NoBom.GetByteCount(text);
        var bytes = new byte[length + (bom ? Utf8Bom.Length : 0)];
        if (bom)
        {
            Utf8Bom.CopyTo(bytes, 0);
        }

        Utf8NoBom.GetBytes(text, 0, text.Length, bytes, bom ? Utf8Bom.Length : 0);
        return bytes;
    }

    /// <summary>Returns the line-ending style and the break to use for new lines (the dominant one when mixed).</summary>
    public static (string Eol, string NewLine) DetectLineEnding(string text)
    {
        var crlf = 0;
        var lf = 0;
        for (var i = text.IndexOf('\n'); i >= 0; i = text.IndexOf('\n', i + 1))
        {
            if (i > 0 && text[i - 1] == '\r')
            {
                crlf++;
            }
            else
            {
                lf++;
            }
        }

        return (crlf, lf) switch
        {
            (0, 0) => (LineEnding.None, "\n"),
            (> 0, 0) => (LineEnding.Crlf, "\r\n"),
            (0, > 0) => (LineEnding.Lf, "\n"),
            _ => (LineEnding.Mixed, crlf > lf ? "\r\n" : "\n"),
        };
    }

    private static int FindInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            return -1;
        }

        // Decode in chunks only to learn where the first bad sequence starts; the message names the offset.
        Span<char> scratch = stackalloc char[1024];
        var consumed = 0;
        while (consumed < bytes.Length)
        {
            var status = Utf8.ToUtf16(bytes[consumed..], scratch, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
            if (status == OperationStatus.InvalidData)
            {
                return consumed + read;
            }

            consumed += read;
            if (status == OperationStatus.Done)
            {
                break;
            }
        }

        return consumed;
    }

    private static FileContentException NotText(string displayPath, string reason) =>
        new($"{displayPath} looks like a binary file ({reason}); session_read_file and session_edit_file work on text files only. " +
            "Use session_exec (e.g. xxd, base64) to inspect it.");
}
