using System.Text;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.SessionRouting.Tests.Execution;

public sealed class OutputCaptureTests
{
    [Fact]
    public void OutputBelowTheCapIsKeptWhole()
    {
        // Given
        var capture = new OutputCapture(1024);

        // When
        capture.Append("hello\n"u8);
        capture.Append("world"u8);

        // Then
        Assert.Equal("hello\nworld", capture.GetText());
        Assert.Equal(11, capture.TotalBytes);
        Assert.False(capture.Capped);
    }

    [Fact]
    public void OutputExactlyAtTheCapIsNotCapped()
    {
        // Given
        var capture = new OutputCapture(10);

        // When
        capture.Append("0123456789"u8);

        // Then
        Assert.False(capture.Capped);
        Assert.Equal("0123456789", capture.GetText());
    }

    [Fact]
    public void OutputOverTheCapKeepsHeadAndTailWithAMarkerLine()
    {
        // Given
        var capture = new OutputCapture(10);

        // When
        capture.Append("HEAD_"u8);
        capture.Append("middle-middle-middle"u8);
        capture.Append("_TAIL"u8);

        // Then
        Assert.True(capture.Capped);
        Assert.Equal(30, capture.TotalBytes);
        Assert.Equal("HEAD_\n[... 20 bytes dropped by session-mcp capture limit ...]\n_TAIL", capture.GetText());
    }

    [Fact]
    public void TailIsTheLastBytesWhateverTheChunking()
    {
        // Given
        var data = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i:D4}\n")));
        var byteAtATime = new OutputCapture(101);
        var oddChunks = new OutputCapture(101);
        var oneChunk = new OutputCapture(101);

        // When
        foreach (var b in data)
        {
            byteAtATime.Append([b]);
        }

        for (var offset = 0; offset < data.Length; offset += 37)
        {
            oddChunks.Append(data.AsSpan(offset, Math.Min(37, data.Length - offset)));
        }

        oneChunk.Append(data);

        // Then
        var expected = Encoding.ASCII.GetString(data, 0, 50)
            + $"[... {data.Length - 101} bytes dropped by session-mcp capture limit ...]\n"
            + Encoding.ASCII.GetString(data, data.Length - 51, 51);
        Assert.Equal(expected, byteAtATime.GetText());
        Assert.Equal(expected, oddChunks.GetText());
        Assert.Equal(expected, oneChunk.GetText());
    }

    [Fact]
    public void InvalidUtf8BecomesReplacementCharacters()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append([(byte)'a', 0xFF, (byte)'b']);

        // Then
        Assert.Equal("a\uFFFDb", capture.GetText());
    }

    [Fact]
    public void MultiByteCharacterSplitAcrossAppendsDecodesWhole()
    {
        // Given
        var capture = new OutputCapture(100);
        var euro = "€"u8.ToArray();

        // When
        capture.Append(euro.AsSpan(0, 1));
        capture.Append(euro.AsSpan(1));

        // Then
        Assert.Equal("€", capture.GetText());
    }

    [Fact]
    public void MultiByteCharacterAcrossTheHeadTailSeamDecodesWholeWhenNotCapped()
    {
        // Given: the head holds 2 bytes, so the euro sign straddles head and tail
        var capture = new OutputCapture(10);

        // When
        capture.Append("a€"u8);

        // Then
        Assert.Equal("a€", capture.GetText());
    }

    [Fact]
    public void CutPointsInsideCharactersDropTheFragmentsInsteadOfShowingReplacements()
    {
        // Given
        var capture = new OutputCapture(6);

        // When: 10 euro signs, 30 bytes; head 3 bytes cuts nothing, so use an offset
        capture.Append("x€€€€€€€€€€"u8);

        // Then
        var text = capture.GetText();
        Assert.DoesNotContain('\uFFFD', text);
        Assert.StartsWith("x\n[... ", text, StringComparison.Ordinal);
        Assert.EndsWith("...]\n€", text, StringComparison.Ordinal);
    }

    [Fact]
    public void LatestLineIsNullBeforeAnyOutput()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append("\n  \n"u8);

        // Then
        Assert.Null(capture.LatestLine);
    }

    [Fact]
    public void LatestLineIsThePartialLineWhenItHasText()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append("first line\nsecond"u8);
        capture.Append(" half"u8);

        // Then
        Assert.Equal("second half", capture.LatestLine);
    }

    [Fact]
    public void LatestLineSkipsTrailingBlankLines()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append("  compiling  \n"u8);
        capture.Append("\n   \n\r\n"u8);

        // Then
        Assert.Equal("compiling", capture.LatestLine);
    }

    [Fact]
    public void LatestLineFollowsCarriageReturnProgressBars()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append("10%\r20%\r30%\r"u8);

        // Then
        Assert.Equal("30%", capture.LatestLine);
    }

    [Fact]
    public void LatestLineJoinsALineSplitAcrossAppends()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append("build"u8);
        capture.Append("ing done\n\n"u8);

        // Then
        Assert.Equal("building done", capture.LatestLine);
    }

    [Fact]
    public void LatestLineIsCutAt200Characters()
    {
        // Given
        var capture = new OutputCapture(100);

        // When
        capture.Append(Encoding.ASCII.GetBytes(new string('x', 5000) + "\n"));

        // Then
        Assert.Equal(new string('x', 200), capture.LatestLine);
    }

    [Fact]
    public void LatestLineWorksEvenWhenOutputIsCapped()
    {
        // Given
        var capture = new OutputCapture(8);

        // When
        capture.Append("line one is long\nline two is longer\n"u8);

        // Then
        Assert.Equal("line two is longer", capture.LatestLine);
    }

    [Fact]
    public async Task ConcurrentAppendsLoseNoBytes()
    {
        // Given
        var capture = new OutputCapture(1 << 20);

        // When
        var writers = Enumerable.Range(0, 8).Select(writer => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                capture.Append("0123456789\n"u8);
                _ = capture.LatestLine;
            }
        }));
        await Task.WhenAll(writers);

        // Then
        Assert.Equal(88_000, capture.TotalBytes);
        Assert.Equal(88_000, capture.GetText().Length);
        Assert.Equal("0123456789", capture.LatestLine);
    }

    [Fact]
    public void ZeroCapIsRejected()
    {
        // Given // When // Then
        Assert.Throws<ArgumentOutOfRangeException>(() => new OutputCapture(0));
    }
}
