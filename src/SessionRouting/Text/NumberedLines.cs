using System.Globalization;
using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.Text;

/// <summary>
/// A page of a file: <see cref="Content"/> rendered like `cat -n` for a model to read, <see cref="Text"/> the same lines
/// as they are (LF-joined, long lines cut alike). Line numbers are 1-based; both are 0 for an empty file.
/// </summary>
internal sealed record NumberedLinesPage(string Content, string Text, int TotalLines, int FirstLine, int LastLine, bool HasMore);

/// <summary>Renders a slice of a text as numbered lines for session_read_file.</summary>
internal static class NumberedLines
{
    public const int DefaultMaxLineChars = 2000;

    /// <param name="text">The whole file; LF and CRLF breaks are both accepted, a final break does not add a line.</param>
    /// <param name="offset">1-based number of the first line to show.</param>
    /// <param name="limit">Maximum number of lines to show.</param>
    /// <param name="maxLineChars">Longer lines are cut and marked.</param>
    /// <param name="displayPath">Names the file in error messages.</param>
    public static NumberedLinesPage Format(string text, int offset = 1, int limit = 2000, int maxLineChars = DefaultMaxLineChars, string displayPath = "the file")
    {
        ArgumentNullException.ThrowIfNull(text);
        if (offset < 1)
        {
            throw new FileContentException($"offset must be 1 or greater (it is the 1-based number of the first line to read); got {offset}");
        }

        if (limit < 1)
        {
            throw new FileContentException($"limit must be 1 or greater; got {limit}");
        }

        if (maxLineChars < 1)
        {
            throw new FileContentException($"maxLineChars must be 1 or greater; got {maxLineChars}");
        }

        var starts = LineStarts(text);
        var total = starts.Count;
        if (total == 0)
        {
            if (offset == 1)
            {
                return new NumberedLinesPage("", "", 0, 0, 0, false);
            }

            throw new FileContentException($"offset {offset} is past the end of {displayPath} (the file is empty)");
        }

        if (offset > total)
        {
            throw new FileContentException($"offset {offset} is past the end of {displayPath} ({total} {(total == 1 ? "line" : "lines")})");
        }

        var last = (int)Math.Min(total, (long)offset + limit - 1);
        var content = new StringBuilder();
        var plain = new StringBuilder();
        for (var lineNumber = offset; lineNumber <= last; lineNumber++)
        {
            var start = starts[lineNumber - 1];
            var end = lineNumber < total ? starts[lineNumber] : text.Length;
            var line = text.AsSpan(start, end - start);
            if (line.EndsWith("\n"))
            {
                line = line[..^1];
            }

            if (line.EndsWith("\r"))
            {
                line = line[..^1];
            }

            if (lineNumber > offset)
            {
                content.Append('\n');
                plain.Append('\n');
            }

            content.Append(lineNumber.ToString(CultureInfo.InvariantCulture).PadLeft(6)).Append('\t');
            AppendCapped(content, line, maxLineChars);
            AppendCapped(plain, line, maxLineChars);
        }

        return new NumberedLinesPage(content.ToString(), plain.ToString(), total, offset, last, last < total);
    }

    private static List<int> LineStarts(string text)
    {
        var starts = new List<int>();
        if (text.Length == 0)
        {
            return starts;
        }

        starts.Add(0);
        for (var i = text.IndexOf('\n'); i >= 0 && i + 1 < text.Length; i = text.IndexOf('\n', i + 1))
        {
            starts.Add(i + 1);
        }

        return starts;
    }

    private static void AppendCapped(StringBuilder output, ReadOnlySpan<char> line, int maxChars)
    {
        if (line.Length <= maxChars)
        {
            output.Append(line);
            return;
        }

        var keep = maxChars;
        if (char.IsHighSurrogate(line[keep - 1]))
        {
            keep--; // never split a surrogate pair
        }

        output.Append(line[..keep])
            .Append(CultureInfo.InvariantCulture, $"… [line truncated, {line.Length - keep:N0} more characters]");
    }
}
