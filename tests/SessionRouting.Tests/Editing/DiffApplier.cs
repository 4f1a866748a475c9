using System.Text;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Tests.Editing;

/// <summary>Applies a unified diff to LF text, the way `patch` would, so tests can prove a diff is correct.</summary>
internal static partial class DiffApplier
{
    public static string Apply(string oldText, string diff)
    {
        var oldLines = SplitKeepingTerminators(oldText);
        if (diff.Length == 0)
        {
            return oldText;
        }

        var diffLines = diff.Split('\n');
        Assert.StartsWith("--- a/", diffLines[0]);
        Assert.StartsWith("+++ b/", diffLines[1]);
        var result = new StringBuilder();
        var oldIndex = 0;
        var i = 2;
        while (i < diffLines.Length && diffLines[i].Length > 0)
        {
            var header = HunkHeader().Match(diffLines[i]);
            Assert.True(header.Success, $"bad hunk header: {diffLines[i]}");
            var oldStart = int.Parse(header.Groups[1].Value);
            var oldCount = int.Parse(header.Groups[2].Value);
            var newCount = int.Parse(header.Groups[4].Value);
            var copyUntil = oldCount == 0 ? oldStart : oldStart - 1;
            Assert.True(copyUntil >= oldIndex, "hunks out of order");
            while (oldIndex < copyUntil)
            {
                result.Append(oldLines[oldIndex++]);
            }

            i++;
            int seenOld = 0, seenNew = 0;
            while (i < diffLines.Length && diffLines[i].Length > 0 && !diffLines[i].StartsWith("@@", StringComparison.Ordinal))
            {
                var line = diffLines[i];
                var noNewline = i + 1 < diffLines.Length && diffLines[i + 1] == "\\ No newline at end of file";
                var content = line[1..];
                switch (line[0])
                {
                    case ' ':
                        Assert.Equal(oldLines[oldIndex].TrimEnd('\n'), content);
                        result.Append(oldLines[oldIndex++]);
                        seenOld++;
                        seenNew++;
                        break;
                    case '-':
                        Assert.Equal(oldLines[oldIndex].TrimEnd('\n'), content);
                        oldIndex++;
                        seenOld++;
                        break;
                    case '+':
                        result.Append(content).Append(noNewline ? "" : "\n");
                        seenNew++;
                        break;
                    default:
                        Assert.Fail($"unexpected diff line: {line}");
                        break;
                }

                i += noNewline ? 2 : 1;
            }

            Assert.Equal(oldCount, seenOld);
            Assert.Equal(newCount, seenNew);
        }

        while (oldIndex < oldLines.Count)
        {
            result.Append(oldLines[oldIndex++]);
        }

        return result.ToString();
    }

    private static List<string> SplitKeepingTerminators(string text)
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

    [GeneratedRegex(@"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$")]
    private static partial Regex HunkHeader();
}
