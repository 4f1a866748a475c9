using System.Globalization;
using System.Text;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>One exact-match replacement, as the model sends it.</summary>
internal sealed record EditOperation(string OldString, string NewString, bool ReplaceAll = false);

/// <summary>The edited file's bytes plus what the model is told about the change.</summary>
internal sealed record EditOutcome(
    byte[] NewContent,
    string Diff,
    int Replacements,
    string Eol,
    bool Bom,
    int LinesAdded,
    int LinesRemoved);

/// <summary>
/// Applies exact string replacements to a text file. Matching is never fuzzy: when old_string is not found
/// the closest region is shown so the model can retry, but nothing is applied.
/// </summary>
internal static class TextEditor
{
    /// <summary>How many ambiguous matches are shown with context; all of their line numbers are listed regardless.</summary>
    private const int MaxMatchesShown = 10;

    private const int MatchContextLines = 2;

    /// <summary>A long match is shown by its first lines only.</summary>
    private const int MaxMatchLinesShown = 8;

    public static EditOutcome Apply(byte[] original, string displayPath, IReadOnlyList<EditOperation> edits)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(edits);
        if (edits.Count == 0)
        {
            throw new EditException("no edits given; send at least one {old_string, new_string} pair");
        }

        var decoded = TextFile.Decode(original, displayPath);
        var text = decoded.Text;
        var replacements = 0;
        for (var i = 0; i < edits.Count; i++)
        {
            var prefix = edits.Count > 1 ? $"edit {i + 1} of {edits.Count}: " : "";
            try
            {
                (text, var count) = ApplyOne(text, decoded, displayPath, edits[i]);
                replacements += count;
            }
            catch (EditException failure) when (prefix.Length > 0)
            {
                throw new EditException(prefix + failure.Message + "\n\nNo edit was applied; fix this edit and send all edits again.");
            }
        }

        var diff = UnifiedDiff.Compute(decoded.Text, text, displayPath);
        return new EditOutcome(
            TextFile.Encode(text, decoded.Bom),
            diff.Text,
            replacements,
            decoded.Eol,
            decoded.Bom,
            diff.LinesAdded,
            diff.LinesRemoved);
    }

    private static (string Text, int Count) ApplyOne(string text, DecodedText file, string displayPath, EditOperation edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var oldLf = ToLf(edit.OldString ?? "");
        var newLf = ToLf(edit.NewString ?? "");
        if (oldLf.Length == 0)
        {
            throw new EditException("old_string is empty; to create or overwrite a file use session_write_file.");
        }

        if (string.Equals(oldLf, newLf, StringComparison.Ordinal))
        {
            throw new EditException("old_string and new_string are identical; nothing to change.");
        }

        // The model writes "\n"; the file decides. In a mixed file the dominant break is tried first, then the other.
        foreach (var newLine in LineBreaksToTry(file))
        {
            var oldString = WithLineBreak(oldLf, newLine);
            var matches = FindAll(text, oldString);
            if (matches.Count == 0)
            {
                continue;
            }

            if (matches.Count > 1 && !edit.ReplaceAll)
            {
                throw new EditException(DescribeAmbiguity(text, oldString, matches, displayPath));
            }

            var newString = WithLineBreak(newLf, newLine);
            return (ReplaceAt(text, matches, oldString.Length, newString), matches.Count);
        }

        throw new EditException(ClosestRegion.DescribeMiss(text, oldLf, displayPath));
    }

    private static IEnumerable<string> LineBreaksToTry(DecodedText file)
    {
        yield return file.NewLine;
        if (file.Eol == LineEnding.Mixed)
        {
            yield return file.NewLine == "\n" ? "\r\n" : "\n";
        }
    }

    internal static string ToLf(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    private static string WithLineBreak(string lfText, string newLine) =>
        newLine == "\n" ? lfText : lfText.Replace("\n", newLine, StringComparison.Ordinal);

    /// <summary>Non-overlapping ordinal matches, left to right (the same ones a replace-all would replace).</summary>
    private static List<int> FindAll(string text, string value)
    {
        var matches = new List<int>();
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            matches.Add(at);
        }

        return matches;
    }

    private static string ReplaceAt(string text, List<int> matches, int oldLength, string newString)
    {
        var result = new StringBuilder(text.Length + (matches.Count * (newString.Length - oldLength)));
        var copied = 0;
        foreach (var at in matches)
        {
            result.Append(text, copied, at - copied).Append(newString);
            copied = at + oldLength;
        }

        return result.Append(text, copied, text.Length - copied).ToString();
    }

    private static string DescribeAmbiguity(string text, string oldString, List<int> matches, string displayPath)
    {
        var lines = LineIndex.Of(text);
        var startLines = matches.Select(lines.LineNumberAt).ToList();
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"old_string matches {matches.Count} places in {displayPath}: lines ")
            .AppendJoin(", ", startLines)
            .Append(". Add surrounding lines to old_string to make it unique, or set replace_all: true.");

        var oldLineCount = oldString.Count(c => c == '\n') + 1;
        foreach (var startLine in startLines.Take(MaxMatchesShown))
        {
            var endLine = startLine + Math.Min(oldLineCount, MaxMatchLinesShown) - 1;
            message.Append("\n\n");
            lines.AppendNumbered(
                message,
                Math.Max(1, startLine - MatchContextLines),
                Math.Min(lines.Count, endLine + MatchContextLines),
                line => line >= startLine && line <= endLine);
        }

        if (startLines.Count > MaxMatchesShown)
        {
            message.Append(CultureInfo.InvariantCulture, $"\n\n({startLines.Count - MaxMatchesShown} more matches not shown)");
        }

        return message.ToString();
    }
}

/// <summary>Line starts of a text, for turning offsets into 1-based line numbers and rendering numbered excerpts.</summary>
internal sealed class LineIndex
{
    private readonly string _text;
    private readonly List<int> _starts;

    private LineIndex(string text, List<int> starts)
    {
        _text = text;
        _starts = starts;
    }

    /// <summary>Number of lines; a final line break does not start another line.</summary>
    public int Count => _starts.Count;

    public static LineIndex Of(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = text.IndexOf('\n'); i >= 0 && i + 1 < text.Length; i = text.IndexOf('\n', i + 1))
        {
            starts.Add(i + 1);
        }

        return new LineIndex(text, starts);
    }

    public int LineNumberAt(int offset)
    {
        var found = _starts.BinarySearch(offset);
        return (found >= 0 ? found : ~found - 1) + 1;
    }

    /// <summary>The text of a 1-based line, without its line break.</summary>
    public string Line(int lineNumber)
    {
        var start = _starts[lineNumber - 1];
        var end = lineNumber < _starts.Count ? _starts[lineNumber] : _text.Length;
        return _text[start..end].TrimEnd('\n').TrimEnd('\r');
    }

    /// <summary>Renders lines first..last as "  11| text", with "> " marking the highlighted ones.</summary>
    public void AppendNumbered(StringBuilder output, int first, int last, Func<int, bool> highlighted)
    {
        var width = last.ToString(CultureInfo.InvariantCulture).Length;
        for (var line = first; line <= last; line++)
        {
            if (line > first)
            {
                output.Append('\n');
            }

            output.Append(highlighted(line) ? "> " : "  ")
                .Append(line.ToString(CultureInfo.InvariantCulture).PadLeft(width))
                .Append("| ")
                .Append(Line(line));
        }
    }
}
