using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.Tests.Editing;

public sealed class UnifiedDiffTests
{
    [Fact]
    public void EqualTextsGiveAnEmptyDiff()
    {
        // Given
        var text = "a\nb\n";

        // When
        var diff = UnifiedDiff.Compute(text, text, "x.txt");

        // Then
        Assert.Equal("", diff.Text);
        Assert.True(diff.IsEmpty);
        Assert.Equal(0, diff.LinesAdded);
        Assert.Equal(0, diff.LinesRemoved);
    }

    [Fact]
    public void OneChangedLineGivesTheStandardUnifiedFormat()
    {
        // Given
        var oldText = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        var newText = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";

        // When
        var diff = UnifiedDiff.Compute(oldText, newText, "src/a.py");

        // Then
        Assert.Equal(
            "--- a/src/a.py\n+++ b/src/a.py\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
            diff.Text);
        Assert.Equal(1, diff.LinesAdded);
        Assert.Equal(1, diff.LinesRemoved);
    }

    [Fact]
    public void DistantChangesGetSeparateHunksAndCloseOnesShareOne()
    {
        // Given
        var oldLines = Enumerable.Range(1, 30).Select(i => i.ToString()).ToList();
        var newLines = oldLines.ToList();
        newLines[2] = "three";
        newLines[8] = "nine";   // 5 unchanged lines after line 3: within 2*context, same hunk
        newLines[25] = "twenty-six";

        // When
        var diff = UnifiedDiff.Create(string.Join("\n", oldLines) + "\n", string.Join("\n", newLines) + "\n", "n.txt");

        // Then
        var headers = diff.Split('\n').Where(l => l.StartsWith("@@", StringComparison.Ordinal)).ToList();
        Assert.Equal(["@@ -1,12 +1,12 @@", "@@ -23,7 +23,7 @@"], headers);
    }

    [Fact]
    public void PureInsertionAndDeletionUseZeroCounts()
    {
        // Given / When
        var created = UnifiedDiff.Create("", "a\nb\n", "new.txt");
        var emptied = UnifiedDiff.Create("a\nb\n", "", "old.txt");

        // Then
        Assert.Contains("@@ -0,0 +1,2 @@\n+a\n+b\n", created);
        Assert.Contains("@@ -1,2 +0,0 @@\n-a\n-b\n", emptied);
    }

    [Fact]
    public void AMissingFinalNewlineIsMarked()
    {
        // Given
        var oldText = "a\nb";
        var newText = "a\nb\nc\n";

        // When
        var diff = UnifiedDiff.Create(oldText, newText, "f");

        // Then
        Assert.Equal("--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n", diff);
        Assert.Equal(newText, DiffApplier.Apply(oldText, diff));
    }

    [Fact]
    public void CrlfLinesAreShownWithoutTheirCarriageReturn()
    {
        // Given
        var oldText = "a\r\nb\r\n";
        var newText = "a\r\nB\r\n";

        // When
        var diff = UnifiedDiff.Create(oldText, newText, "w.txt");

        // Then
        Assert.DoesNotContain("\r", diff);
        Assert.EndsWith("@@ -1,2 +1,2 @@\n a\n-b\n+B\n", diff);
    }

    [Fact]
    public void RandomDiffsApplyBackToTheNewTextAndAreMinimal()
    {
        // Given
        var random = new Random(20240611);
        for (var round = 0; round < 500; round++)
        {
            var oldText = RandomText(random);
            var newText = random.Next(3) == 0 ? Mutate(random, oldText) : RandomText(random);
            var context = random.Next(0, 4);

            // When
            var diff = UnifiedDiff.Compute(oldText, newText, "r.txt", context);

            // Then
            Assert.Equal(newText, DiffApplier.Apply(oldText, diff.Text));
            var oldCount = UnifiedDiff.SplitKeepingTerminators(oldText).Count;
            var newCount = UnifiedDiff.SplitKeepingTerminators(newText).Count;
            var common = LongestCommonSubsequence(oldText, newText);
            Assert.Equal(oldCount - common, diff.LinesRemoved);
            Assert.Equal(newCount - common, diff.LinesAdded);
        }
    }

    [Fact]
    public void ASmallChangeInATenThousandLineFileIsDiffedCorrectly()
    {
        // Given
        var oldLines = Enumerable.Range(1, 10_000).Select(i => $"line {i} of a large generated file").ToList();
        var newLines = oldLines.ToList();
        newLines[5000] = "changed";
        newLines.Insert(7000, "inserted");
        newLines.RemoveAt(100);
        var oldText = string.Join("\n", oldLines) + "\n";
        var newText = string.Join("\n", newLines) + "\n";

        // When
        var diff = UnifiedDiff.Compute(oldText, newText, "big.txt");

        // Then
        Assert.Equal(2, diff.LinesAdded);
        Assert.Equal(2, diff.LinesRemoved);
        Assert.Equal(newText, DiffApplier.Apply(oldText, diff.Text));
    }

    [Fact]
    public void ACompletelyRewrittenTenThousandLineFileStillGivesAnApplicableDiff()
    {
        // Given
        var oldText = string.Concat(Enumerable.Range(1, 10_000).Select(i => $"old {i}\n"));
        var newText = string.Concat(Enumerable.Range(1, 10_000).Select(i => i % 2 == 0 ? $"old {i}\n" : $"new {i}\n"));

        // When
        var diff = UnifiedDiff.Compute(oldText, newText, "rewrite.txt");

        // Then
        Assert.Equal(newText, DiffApplier.Apply(oldText, diff.Text));
        Assert.Equal(diff.LinesAdded, diff.LinesRemoved);
    }

    private static string RandomText(Random random)
    {
        var text = new StringBuilder();
        var lines = random.Next(0, 15);
        for (var i = 0; i < lines; i++)
        {
            text.Append((char)('a' + random.Next(5))).Append('\n');
        }

        if (text.Length > 0 && random.Next(4) == 0)
        {
            text.Length--; // no final newline
        }

        return text.ToString();
    }

    private static string Mutate(Random random, string text)
    {
        var lines = UnifiedDiff.SplitKeepingTerminators(text);
        if (lines.Count > 0)
        {
            lines[random.Next(lines.Count)] = "z\n";
        }

        lines.Insert(random.Next(lines.Count + 1), "y\n");
        return string.Concat(lines);
    }

    private static int LongestCommonSubsequence(string oldText, string newText)
    {
        var a = UnifiedDiff.SplitKeepingTerminators(oldText);
        var b = UnifiedDiff.SplitKeepingTerminators(newText);
        var table = new int[a.Count + 1, b.Count + 1];
        for (var i = a.Count - 1; i >= 0; i--)
        {
            for (var j = b.Count - 1; j >= 0; j--)
            {
                table[i, j] = a[i] == b[j] ? table[i + 1, j + 1] + 1 : Math.Max(table[i + 1, j], table[i, j + 1]);
            }
        }

        return table[0, 0];
    }
}
