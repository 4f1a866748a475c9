using System.Globalization;
using System.Text;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>A unified diff and how many lines it adds and removes. <see cref="Text"/> is "" when nothing changed.</summary>
internal sealed record DiffResult(string Text, int LinesAdded, int LinesRemoved)
{
    public bool IsEmpty => Text.Length == 0;
}

/// <summary>
/// Line-based unified diff (the format `diff -u` and `git diff` print), computed with Myers' algorithm
/// after trimming the common prefix and suffix, so a small edit in a large file costs little.
/// </summary>
internal static class UnifiedDiff
{
    /// <summary>
    /// Past this many differing lines the shortest edit script is not worth its quadratic memory; the remaining
    /// middle is then shown as one removal plus one addition, which is still a correct, applicable diff.
    /// </summary>
    private const int MaxEditDistance = 2000;

    private const string NoNewlineMarker = "\\ No newline at end of file";

    public static string Create(string oldText, string newText, string displayPath, int context = 3) =>
        Compute(oldText, newText, displayPath, context).Text;

    /// <param name="keepCarriageReturns">Print a CRLF line's CR as part of the line, as `git diff` does, so `git apply`
    /// recreates the bytes; the default shows such a line without it, which reads better in an edit's result.</param>
    public static DiffResult Compute(string oldText, string newText, string displayPath, int context = 3, bool keepCarriageReturns = false)
    {
        ArgumentNullException.ThrowIfNull(oldText);
        ArgumentNullException.ThrowIfNull(newText);
        ArgumentOutOfRangeException.ThrowIfNegative(context);
        if (string.Equals(oldText, newText, StringComparison.Ordinal))
        {
            return new DiffResult("", 0, 0);
        }

        // Lines keep their terminator so that a changed line ending (or a missing final newline) is a real change.
        var oldLines = SplitKeepingTerminators(oldText);
        var newLines = SplitKeepingTerminators(newText);
        var (oldIds, newIds) = Intern(oldLines, newLines);
        var script = EditScript(oldIds, newIds);
        return Render(script, oldLines, newLines, displayPath, context, keepCarriageReturns);
    }

    internal static List<string> SplitKeepingTerminators(string text)
    {
        var lines = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var newline = text.IndexOf('\n', start);
            var end = newline < 0 ? text.Length : newline + 1;
            lines.Add(text[start..end]);
            start = end;
        }

        return lines;
    }

    private static (int[] Old, int[] New) Intern(List<string> oldLines, List<string> newLines)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int IdOf(string line)
        {
            if (!ids.TryGetValue(line, out var id))
            {
                id = ids.Count;
                ids[line] = id;
            }

            return id;
        }

        return (oldLines.Select(IdOf).ToArray(), newLines.Select(IdOf).ToArray());
    }

    private enum OpKind
    {
        Equal,
        Delete,
        Insert,
    }

    /// <summary>One line of the edit script: for Equal/Delete OldIndex is the old line, for Insert NewIndex the new line.</summary>
    private readonly record struct Op(OpKind Kind, int OldIndex, int NewIndex);

    private static List<Op> EditScript(int[] a, int[] b)
    {
        var prefix = 0;
        while (prefix < a.Length && prefix < b.Length && a[prefix] == b[prefix])
        {
            prefix++;
        }

        var suffix = 0;
        while (suffix < a.Length - prefix && suffix < b.Length - prefix && a[a.Length - 1 - suffix] == b[b.Length - 1 - suffix])
        {
            suffix++;
        }

        var ops = new List<Op>(a.Length + b.Length - prefix - suffix);
        for (var i = 0; i < prefix; i++)
        {
            ops.Add(new Op(OpKind.Equal, i, i));
        }

        var middle = Myers(a.AsSpan(prefix, a.Length - prefix - suffix), b.AsSpan(prefix, b.Length - prefix - suffix));
        foreach (var op in middle)
        {
            ops.Add(op with { OldIndex = op.OldIndex + prefix, NewIndex = op.NewIndex + prefix });
        }

        for (var i = 0; i < suffix; i++)
        {
            ops.Add(new Op(OpKind.Equal, a.Length - suffix + i, b.Length - suffix + i));
        }

        return ops;
    }

    /// <summary>Myers' O(ND) shortest edit script, keeping each round's frontier for the backtrack.</summary>
    private static List<Op> Myers(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int n = a.Length, m = b.Length;
        var max = n + m;
        if (max == 0)
        {
            return [];
        }

        var limit = Math.Min(max, MaxEditDistance);
        var offset = limit + 1;
        var v = new int[2 * limit + 3];
        var trace = new List<int[]>();
        var found = -1;

        for (var d = 0; d <= limit && found < 0; d++)
        {
            // Snapshot of the frontier before round d, covering diagonals -(d+1)..(d+1).
            trace.Add(v.AsSpan(offset - d - 1, 2 * d + 3).ToArray());
            for (var k = -d; k <= d; k += 2)
            {
                var x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])
                    ? v[offset + k + 1]
                    : v[offset + k - 1] + 1;
                var y = x - k;
                while (x < n && y < m && a[x] == b[y])
                {
                    x++;
                    y++;
                }

                v[offset + k] = x;
                if (x >= n && y >= m)
                {
                    found = d;
                    break;
                }
            }
        }

        if (found < 0)
        {
            return ReplaceAll(n, m);
        }

        var reversed = new List<Op>(max);
        int cx = n, cy = m;
        for (var d = found; d > 0; d--)
        {
            var before = trace[d];
            int At(int k) => before[k + d + 1];
            var k = cx - cy;
            var previousK = k == -d || (k != d && At(k - 1) < At(k + 1)) ? k + 1 : k - 1;
            var previousX = At(previousK);
            var previousY = previousX - previousK;
            while (cx > previousX && cy > previousY)
            {
                cx--;
                cy--;
                reversed.Add(new Op(OpKind.Equal, cx, cy));
            }

            if (cx == previousX)
            {
                reversed.Add(new Op(OpKind.Insert, cx, previousY));
            }
            else
            {
                reversed.Add(new Op(OpKind.Delete, previousX, cy));
            }

            cx = previousX;
            cy = previousY;
        }

        while (cx > 0 && cy > 0)
        {
            cx--;
            cy--;
            reversed.Add(new Op(OpKind.Equal, cx, cy));
        }

        reversed.Reverse();
        return reversed;
    }

    private static List<Op> ReplaceAll(int n, int m)
    {
        var ops = new List<Op>(n + m);
        for (var i = 0; i < n; i++)
        {
            ops.Add(new Op(OpKind.Delete, i, 0));
        }

        for (var j = 0; j < m; j++)
        {
            ops.Add(new Op(OpKind.Insert, n, j));
        }

        return ops;
    }

    private static DiffResult Render(List<Op> ops, List<string> oldLines, List<string> newLines, string displayPath, int context, bool keepCarriageReturns)
    {
        var path = displayPath.TrimStart('/');
        var output = new StringBuilder();
        output.Append("--- a/").Append(path).Append('\n');
        output.Append("+++ b/").Append(path).Append('\n');

        // Position of every op in old/new line numbering (0-based count of lines before it).
        var oldPos = new int[ops.Count];
        var newPos = new int[ops.Count];
        int oi = 0, ni = 0;
        for (var i = 0; i < ops.Count; i++)
        {
            oldPos[i] = oi;
            newPos[i] = ni;
            if (ops[i].Kind != OpKind.Insert)
            {
                oi++;
            }

            if (ops[i].Kind != OpKind.Delete)
            {
                ni++;
            }
        }

        int added = 0, removed = 0;
        var index = 0;
        while (index < ops.Count)
        {
            if (ops[index].Kind == OpKind.Equal)
            {
                index++;
                continue;
            }

            var hunkStart = Math.Max(0, index - context);

            // Changes separated by at most 2*context unchanged lines share a hunk, as in `diff -u`.
            var lastChange = index;
            for (var j = index + 1; j < ops.Count && j - lastChange - 1 <= 2 * context; j++)
            {
                if (ops[j].Kind != OpKind.Equal)
                {
                    lastChange = j;
                }
            }

            var hunkEnd = Math.Min(ops.Count, lastChange + context + 1);

            int oldCount = 0, newCount = 0;
            for (var j = hunkStart; j < hunkEnd; j++)
            {
                if (ops[j].Kind != OpKind.Insert)
                {
                    oldCount++;
                }

                if (ops[j].Kind != OpKind.Delete)
                {
                    newCount++;
                }
            }

            var oldStart = oldCount == 0 ? oldPos[hunkStart] : oldPos[hunkStart] + 1;
            var newStart = newCount == 0 ? newPos[hunkStart] : newPos[hunkStart] + 1;
            output.Append(CultureInfo.InvariantCulture, $"@@ -{oldStart},{oldCount} +{newStart},{newCount} @@\n");

            for (var j = hunkStart; j < hunkEnd; j++)
            {
                var op = ops[j];
                switch (op.Kind)
                {
                    case OpKind.Equal:
                        AppendLine(output, ' ', oldLines[op.OldIndex], keepCarriageReturns);
                        break;
                    case OpKind.Delete:
                        AppendLine(output, '-', oldLines[op.OldIndex], keepCarriageReturns);
                        removed++;
                        break;
                    default:
                        AppendLine(output, '+', newLines[op.NewIndex], keepCarriageReturns);
                        added++;
                        break;
                }
            }

            index = hunkEnd;
        }

        return new DiffResult(output.ToString(), added, removed);
    }

    private static void AppendLine(StringBuilder output, char prefix, string lineWithTerminator, bool keepCarriageReturns)
    {
        output.Append(prefix);
        if (keepCarriageReturns && lineWithTerminator.EndsWith('\n'))
        {
            output.Append(lineWithTerminator);
        }
        else if (lineWithTerminator.EndsWith('\n'))
        {
            // The diff itself always uses LF; a CRLF line is shown without its CR.
            var content = lineWithTerminator.AsSpan(0, lineWithTerminator.Length - 1).TrimEnd('\r');
            output.Append(content).Append('\n');
        }
        else
        {
            output.Append(lineWithTerminator).Append('\n').Append(NoNewlineMarker).Append('\n');
        }
    }
}
