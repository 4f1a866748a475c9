using System.Text;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.SessionRouting.Tests.Text;

public sealed class OutputTruncationTests
{
    [Fact]
    public void TextThatFitsIsReturnedUnchanged()
    {
        // Given / When
        var result = OutputTruncation.Truncate("short", 100);

        // Then
        Assert.Equal(new TruncatedText("short", false, 0), result);
    }

    [Fact]
    public void LongOutputKeepsHeadAndTailAtLineBoundariesWithACountingMarker()
    {
        // Given: 1000 lines of 10 characters each ("line 0001\n")
        var text = string.Concat(Enumerable.Range(1, 1000).Select(i => $"line {i:D4}\n"));

        // When
        var (truncated, wasTruncated, omitted) = OutputTruncation.Truncate(text, 1000);

        // Then
        Assert.True(wasTruncated);
        Assert.StartsWith("line 0001\n", truncated);
        Assert.EndsWith("line 1000\n", truncated);
        Assert.Contains("line 0040\n[... ", truncated);  // head: 400 chars = 40 whole lines
        Assert.Contains("...]\nline 0941\n", truncated); // tail: 600 chars = 60 whole lines
        Assert.Equal(9000, omitted);
        Assert.Contains(
            "[... 9,000 characters (900 lines) omitted by session-mcp; all of it is kept in the audit log; to read it all, send it to a file and page with session_read_file ...]\n",
            truncated);
        Assert.Equal(text.Length - omitted, truncated.Length - MarkerLength(truncated)); // head ended on a line break: no extra one
    }

    [Fact]
    public void OutputWithoutLineBreaksIsCutMidLineWithinTheBudget()
    {
        // Given
        var text = new string('a', 5000) + new string('b', 5000);

        // When
        var result = OutputTruncation.Truncate(text, 1000);

        // Then
        Assert.True(result.Truncated);
        Assert.Equal(9000, result.OmittedChars);
        Assert.StartsWith(new string('a', 400) + "\n[... 9,000 characters (1 line) omitted", result.Text);
        Assert.EndsWith("...]\n" + new string('b', 600), result.Text);
    }

    [Fact]
    public void TheResultNeverExceedsTheBudgetPlusTheMarker()
    {
        // Given
        var random = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var text = new StringBuilder();
            while (text.Length < 3000)
            {
                text.Append('x', random.Next(0, 120)).Append('\n');
            }

            var max = random.Next(1, 2500);

            // When
            var result = OutputTruncation.Truncate(text.ToString(), max);

            // Then
            var kept = text.Length - result.OmittedChars;
            Assert.True(kept <= max);
            Assert.InRange(result.Text.Length - MarkerLength(result.Text) - kept, 0, 1); // 1 = line break before the marker
        }
    }

    [Fact]
    public void CutsNeverSplitASurrogatePair()
    {
        // Given: emoji everywhere, so any cut position may fall inside a pair
        var text = string.Concat(Enumerable.Repeat("😀", 1000));

        for (var max = 1; max < 60; max++)
        {
            // When
            var result = OutputTruncation.Truncate(text, max);

            // Then
            Assert.True(result.Truncated);
            for (var i = 0; i < result.Text.Length; i++)
            {
                if (char.IsHighSurrogate(result.Text[i]))
                {
                    Assert.True(i + 1 < result.Text.Length && char.IsLowSurrogate(result.Text[i + 1]), $"split pair at {i} for max {max}");
                }
                else if (char.IsLowSurrogate(result.Text[i]))
                {
                    Assert.True(i > 0 && char.IsHighSurrogate(result.Text[i - 1]), $"split pair at {i} for max {max}");
                }
            }
        }
    }

    /// <summary>Length of the "[... ...]\n" marker, without the line break put before it when the head ends mid-line.</summary>
    private static int MarkerLength(string truncated)
    {
        var start = truncated.IndexOf("[... ", StringComparison.Ordinal);
        var end = truncated.IndexOf("...]\n", start, StringComparison.Ordinal) + "...]\n".Length;
        return end - start;
    }
}
