using System.Globalization;

namespace SessionMcp.SessionRouting.Text;

/// <summary>The text to return, whether anything was cut, and how many characters were.</summary>
internal sealed record TruncatedText(string Text, bool Truncated, int OmittedChars);

/// <summary>
/// Shortens command output for the model, keeping the start (what ran) and, with more room, the end (how it
/// ended: errors, summaries). The full output stays in the audit log.
/// </summary>
internal static class OutputTruncation
{
    private const double HeadShare = 0.4;

    /// <summary>How far (as a share of each part's budget, at most <see cref="MaxBoundarySearch"/>) a cut may move to land on a line break.</summary>
    private const double BoundarySearchShare = 0.25;

    private const int MaxBoundarySearch = 2000;

    /// <summary>
    /// Returns <paramref name="text"/> unchanged when it fits; otherwise a head and a tail of together at most
    /// <paramref name="maxChars"/> characters with a marker between them saying what was omitted.
    /// </summary>
    public static TruncatedText Truncate(string text, int maxChars)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= maxChars)
        {
            return new TruncatedText(text, false, 0);
        }

        var budget = Math.Max(0, maxChars);
        var headBudget = (int)(budget * HeadShare);
        var tailBudget = budget - headBudget;

        var headEnd = headBudget;
        var search = (int)Math.Min(MaxBoundarySearch, headBudget * BoundarySearchShare);
        if (headEnd > 0 && text[headEnd - 1] != '\n' && search > 0)
        {
            var newline = text.LastIndexOf('\n', headEnd - 1, search);
            if (newline >= 0)
            {
                headEnd = newline + 1;
            }
        }

        if (headEnd > 0 && char.IsHighSurrogate(text[headEnd - 1]))
        {
            headEnd--;
        }

        var tailStart = text.Length - tailBudget;
        search = (int)Math.Min(MaxBoundarySearch, tailBudget * BoundarySearchShare);
        if (tailStart < text.Length && tailStart > 0 && text[tailStart - 1] != '\n' && search > 0)
        {
            var newline = text.IndexOf('\n', tailStart, Math.Min(search, text.Length - tailStart));
            if (newline >= 0)
            {
                tailStart = newline + 1;
            }
        }

        if (tailStart < text.Length && char.IsLowSurrogate(text[tailStart]))
        {
            tailStart++;
        }

        var omitted = tailStart - headEnd;
        var omittedLines = text.AsSpan(headEnd, omitted).Count('\n');
        if (text[tailStart - 1] != '\n')
        {
            omittedLines++; // the partial line the cut went through
        }

        var marker = string.Create(
            CultureInfo.InvariantCulture,
            $"[... {omitted:N0} characters ({omittedLines:N0} {(omittedLines == 1 ? "line" : "lines")}) omitted by session-mcp; all of it is kept in the audit log; to read it all, send it to a file and page with session_read_file ...]\n");
        var lead = headEnd > 0 && text[headEnd - 1] != '\n' ? "\n" : "";
        return new TruncatedText(string.Concat(text.AsSpan(0, headEnd), lead, marker, text.AsSpan(tailStart)), true, omitted);
    }
}
