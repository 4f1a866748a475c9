using SessionMcp.SessionRouting.Editing;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.SessionRouting.Tests.Text;

public sealed class NumberedLinesTests
{
    private static readonly string TenLines = string.Concat(Enumerable.Range(1, 10).Select(i => $"line {i}\n"));

    [Fact]
    public void LinesAreNumberedLikeCatN()
    {
        // Given / When
        var page = NumberedLines.Format("a\r\nb\n", 1, 100);

        // Then
        Assert.Equal("     1\ta\n     2\tb", page.Content);
        Assert.Equal(2, page.TotalLines);
        Assert.Equal(1, page.FirstLine);
        Assert.Equal(2, page.LastLine);
        Assert.False(page.HasMore);
    }

    [Fact]
    public void OffsetAndLimitSelectAWindow()
    {
        // Given / When
        var page = NumberedLines.Format(TenLines, offset: 4, limit: 3);

        // Then
        Assert.Equal("     4\tline 4\n     5\tline 5\n     6\tline 6", page.Content);
        Assert.Equal(10, page.TotalLines);
        Assert.Equal(4, page.FirstLine);
        Assert.Equal(6, page.LastLine);
        Assert.True(page.HasMore);
    }

    [Fact]
    public void ALimitPastTheEndStopsAtTheLastLine()
    {
        // Given / When
        var page = NumberedLines.Format("a\nb\nc", offset: 2, limit: int.MaxValue);

        // Then
        Assert.Equal("     2\tb\n     3\tc", page.Content);
        Assert.Equal(3, page.LastLine);
        Assert.False(page.HasMore);
    }

    [Fact]
    public void LongLinesAreCutWithAMarker()
    {
        // Given
        var text = new string('x', 2500) + "\nshort\n";

        // When
        var page = NumberedLines.Format(text, 1, 10);

        // Then
        Assert.Equal("     1\t" + new string('x', 2000) + "… [line truncated, 500 more characters]\n     2\tshort", page.Content);
    }

    [Fact]
    public void ACutNeverSplitsASurrogatePair()
    {
        // Given
        var text = "ab😀cd";

        // When
        var page = NumberedLines.Format(text, 1, 10, maxLineChars: 3);

        // Then
        Assert.Equal("     1\tab… [line truncated, 4 more characters]", page.Content);
    }

    [Fact]
    public void AnOffsetPastTheEndIsAnActionableError()
    {
        // Given
        var text = string.Concat(Enumerable.Range(1, 120).Select(i => $"{i}\n"));

        // When
        var error = Assert.Throws<FileContentException>(() => NumberedLines.Format(text, 500, 10, displayPath: "src/a.py"));

        // Then
        Assert.Equal("offset 500 is past the end of src/a.py (120 lines)", error.Message);
    }

    [Fact]
    public void AnEmptyFileReadsAsNoLines()
    {
        // Given / When
        var page = NumberedLines.Format("", 1, 10);

        // Then
        Assert.Equal("", page.Content);
        Assert.Equal(0, page.TotalLines);
        Assert.False(page.HasMore);
    }
}
