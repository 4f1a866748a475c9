using System.Globalization;
using System.Numerics;
using System.Text;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>
/// Explains a failed exact match by pointing at the region of the file that most resembles old_string.
/// Only ever used for the error message: the region is never edited.
/// </summary>
internal static class ClosestRegion
{
    /// <summary>Cap on line comparisons in the coarse pass (about 10k lines x 400-line old_string).</summary>
    private const long CoarseBudget = 4_000_000;

    private const int RefinedCandidates = 5;

    /// <summary>Levenshtein is quadratic in line length; longer lines are compared by their first characters.</summary>
    private const int MaxCharsCompared = 200;

    /// <summary>Below this similarity the best window is not worth showing.</summary>
    private const double MinimumSimilarity = 0.4;

    /// <summary>A long old_string's region is shown by its first lines only.</summary>
    private const int MaxLinesShown = 30;

    public static string DescribeMiss(string text, string oldLf, string displayPath)
    {
        var message = new StringBuilder($"old_string was not found in {displayPath}.");
        if (text.Length == 0)
        {
            return message.Append(" The file is empty; use session_write_file to give it content.").ToString();
        }

        var lines = LineIndex.Of(text);
        var region = FindIgnoringWhitespace(text, oldLf, lines) ?? FindMostSimilarWindow(lines, oldLf);
        if (region is null)
        {
            return message.Append(" Nothing in the file resembles it; re-read the file with session_read_file and copy old_string exactly from it.").ToString();
        }

        var (first, last, similarity, hint) = region.Value;
        var shownLast = Math.Min(last, first + MaxLinesShown - 1);
        message.Append(CultureInfo.InvariantCulture, $" The closest region is lines {first}-{last} ({similarity * 100:F0}% similar):\n");
        lines.AppendNumbered(message, first, shownLast, _ => false);
        if (shownLast < last)
        {
            message.Append(CultureInfo.InvariantCulture, $"\n  ... ({last - shownLast} more lines)");
        }

        message.Append("\n\n");
        if (hint is not null)
        {
            message.Append(hint).Append(' ');
        }

        return message.Append("The region above was not changed; copy old_string exactly from the file (re-read it with session_read_file if unsure) and retry.").ToString();
    }

    /// <summary>old_string occurs once whitespace is ignored: the usual indentation or line-ending slip.</summary>
    private static (int First, int Last, double Similarity, string? Hint)? FindIgnoringWhitespace(string text, string oldLf, LineIndex lines)
    {
        var (needle, _) = StripWhitespace(oldLf);
        if (needle.Length == 0)
        {
            return null;
        }

        var (haystack, offsets) = StripWhitespace(text);
        var at = haystack.IndexOf(needle, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var start = offsets[at];
        var end = offsets[at + needle.Length - 1] + 1;
        var found = text[start..end];
        var onlyLineEndings = string.Equals(found.Replace("\r", "", StringComparison.Ordinal), oldLf.Trim().Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        var hint = onlyLineEndings
            ? "It differs from old_string only in line endings (this file mixes CRLF and LF)."
            : "It differs from old_string only in whitespace (indentation, tabs vs spaces, trailing spaces or blank lines): copy the exact whitespace from the file.";
        var similarity = Similarity(Truncate(found), Truncate(oldLf));
        return (lines.LineNumberAt(start), lines.LineNumberAt(end - 1), similarity, hint);
    }

    private static (string Stripped, int[] Offsets) StripWhitespace(string text)
    {
        var stripped = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]))
            {
                stripped.Append(text[i]);
                offsets.Add(i);
            }
        }

        return (stripped.ToString(), offsets.ToArray());
    }

    /// <summary>
    /// Slides a window of old_string's line count over the file. A coarse pass scores every window with cheap
    /// character-bigram fingerprints of trimmed lines; the best few are re-scored with Levenshtein.
    /// </summary>
    private static (int First, int Last, double Similarity, string? Hint)? FindMostSimilarWindow(LineIndex lines, string oldLf)
    {
        var oldLines = oldLf.Split('\n');
        if (oldLines.Length > 1 && oldLines[^1].Length == 0)
        {
            oldLines = oldLines[..^1];
        }

        var oldTrimmed = oldLines.Select(l => l.Trim()).ToArray();
        var fileTrimmed = Enumerable.Range(1, lines.Count).Select(n => lines.Line(n).Trim()).ToArray();
        var window = Math.Min(oldTrimmed.Length, fileTrimmed.Length);
        var windows = fileTrimmed.Length - window + 1;

        var oldPrints = oldTrimmed.Select(Fingerprint.Of).ToArray();
        var filePrints = fileTrimmed.Select(Fingerprint.Of).ToArray();
        var stride = (int)Math.Max(1, (long)windows * window / CoarseBudget + 1);

        var coarse = new List<(int Start, double Score)>();
        for (var start = 0; start < windows; start += stride)
        {
            var sum = 0.0;
            for (var i = 0; i < window; i++)
            {
                sum += string.Equals(fileTrimmed[start + i], oldTrimmed[i], StringComparison.Ordinal)
                    ? 1.0
                    : filePrints[start + i].Dice(oldPrints[i]);
            }

            coarse.Add((start, sum / oldTrimmed.Length));
        }

        var best = coarse
            .OrderByDescending(c => c.Score)
            .Take(RefinedCandidates)
            .Select(c => (c.Start, Score: RefinedScore(fileTrimmed, c.Start, oldTrimmed, window)))
            .OrderByDescending(c => c.Score)
            .ThenBy(c => c.Start)
            .First();

        if (best.Score < MinimumSimilarity)
        {
            return null;
        }

        return (best.Start + 1, best.Start + window, best.Score, null);
    }

    private static double RefinedScore(string[] fileTrimmed, int start, string[] oldTrimmed, int window)
    {
        var sum = 0.0;
        for (var i = 0; i < window; i++)
        {
            sum += Similarity(Truncate(fileTrimmed[start + i]), Truncate(oldTrimmed[i]));
        }

        return sum / oldTrimmed.Length;
    }

    private static string Truncate(string line) => line.Length <= MaxCharsCompared ? line : line[..MaxCharsCompared];

    /// <summary>1 - normalised Levenshtein distance.</summary>
    internal static double Similarity(string a, string b)
    {
        if (a.Length == 0 && b.Length == 0)
        {
            return 1.0;
        }

        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return 1.0 - ((double)previous[b.Length] / Math.Max(a.Length, b.Length));
    }

    /// <summary>A 256-bit set of hashed character bigrams: a cheap stand-in for edit distance between lines.</summary>
    private readonly record struct Fingerprint(ulong A, ulong B, ulong C, ulong D, bool Empty)
    {
        public static Fingerprint Of(string line)
        {
            Span<ulong> bits = stackalloc ulong[4];
            if (line.Length == 1)
            {
                Set(bits, line[0]);
            }

            for (var i = 1; i < line.Length; i++)
            {
                Set(bits, (line[i - 1] * 31) + line[i]);
            }

            return new Fingerprint(bits[0], bits[1], bits[2], bits[3], line.Length == 0);
        }

        private static void Set(Span<ulong> bits, int value)
        {
            var bit = (uint)(value * 2654435761u) >> 24;
            bits[(int)(bit >> 6)] |= 1UL << (int)(bit & 63);
        }

        public double Dice(Fingerprint other)
        {
            if (Empty || other.Empty)
            {
                return Empty && other.Empty ? 1.0 : 0.0;
            }

            var common = BitOperations.PopCount(A & other.A) + BitOperations.PopCount(B & other.B)
                + BitOperations.PopCount(C & other.C) + BitOperations.PopCount(D & other.D);
            var total = BitOperations.PopCount(A) + BitOperations.PopCount(B) + BitOperations.PopCount(C) + BitOperations.PopCount(D)
                + BitOperations.PopCount(other.A) + BitOperations.PopCount(other.B) + BitOperations.PopCount(other.C) + BitOperations.PopCount(other.D);
            return 2.0 * common / total;
        }
    }
}
