using System.Text;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

public sealed class OutputMatcherTests
{
    [Fact]
    public void AMatchInOnePieceReportsItsByteRangeAndText()
    {
        // Given
        var matcher = new OutputMatcher(JobWait.CreatePattern(@"listening on \d+"));

        // When
        var match = matcher.Feed(100, "booting\nlistening on 8080\n"u8);

        // Then
        Assert.Equal(new OutputMatch(108, 125, "listening on 8080"), match);
    }

    [Fact]
    public void AMatchSplitAcrossPiecesIsFoundHoweverTheOutputWasCut()
    {
        // Given output where the match comes late, fed a byte at a time
        var matcher = new OutputMatcher(JobWait.CreatePattern("ready in [0-9]+ms"));
        var output = "starting...\nwarming up\nready in 42ms\n"u8.ToArray();
        OutputMatch? match = null;

        // When
        for (var i = 0; i < output.Length && match is null; i++)
        {
            match = matcher.Feed(i, output.AsSpan(i, 1));
        }

        // Then the match is reported once its last byte arrives, with its range in the output
        Assert.Equal(new OutputMatch(23, 36, "ready in 42ms"), match);
    }

    [Fact]
    public void AMultiByteCharacterSplitBetweenPiecesIsMatchedWholeAndCountedInBytes()
    {
        // Given "é" (2 bytes) and "✓" (3 bytes) cut in the middle
        var matcher = new OutputMatcher(JobWait.CreatePattern("café ✓"));
        var bytes = Encoding.UTF8.GetBytes("> café ✓ done");

        // When
        var first = matcher.Feed(0, bytes.AsSpan(0, 5));
        var second = matcher.Feed(5, bytes.AsSpan(5, 4));
        var third = matcher.Feed(9, bytes.AsSpan(9));

        // Then
        Assert.Null(first);
        Assert.Null(second);
        Assert.Equal(new OutputMatch(2, 11, "café ✓"), third);
    }

    [Fact]
    public void TextOnEitherSideOfAGapDoesNotRunTogether()
    {
        // Given "rea" before a gap and "dy" after it
        var matcher = new OutputMatcher(JobWait.CreatePattern("ready"));
        Assert.Null(matcher.Feed(0, "rea"u8));

        // When output resumes at an offset that does not follow
        var afterGap = matcher.Feed(1000, "dy"u8);

        // Then there is no match across the gap, but one wholly after it is found
        Assert.Null(afterGap);
        Assert.Equal(new OutputMatch(1002, 1007, "ready"), matcher.Feed(1002, "ready"u8));
    }

    [Fact]
    public void AMatchAsLongAsTheOverlapIsFoundAcrossManyPieces()
    {
        // Given a match of OverlapBytes that arrives in 1000-byte pieces after a lot of other output
        var matcher = new OutputMatcher(JobWait.CreatePattern("<x+>"));
        var text = new string('.', 100_000) + "<" + new string('x', OutputMatcher.OverlapBytes - 2) + ">";
        var bytes = Encoding.ASCII.GetBytes(text);
        OutputMatch? match = null;

        // When
        for (var offset = 0; offset < bytes.Length && match is null; offset += 1000)
        {
            match = matcher.Feed(offset, bytes.AsSpan(offset, Math.Min(1000, bytes.Length - offset)));
        }

        // Then
        Assert.NotNull(match);
        Assert.Equal(100_000, match.Offset);
        Assert.Equal(bytes.Length, match.EndOffset);
    }

    [Fact]
    public void InvalidUtf8IsMatchedAsReplacementCharactersWithTrueByteOffsets()
    {
        // Given a stray byte before the match
        var matcher = new OutputMatcher(JobWait.CreatePattern("ok"));

        // When
        var match = matcher.Feed(0, [0xFF, 0xC3, (byte)' ', (byte)'o', (byte)'k']);

        // Then
        Assert.Equal(new OutputMatch(3, 5, "ok"), match);
    }

    [Theory]
    [InlineData("(a)\\1")]
    [InlineData("(?=a)a")]
    [InlineData("x*")]
    [InlineData("[unclosed")]
    public void PatternsTheLinearEngineCannotRunOrThatMatchNothingAreRefused(string pattern)
    {
        // Given / When / Then
        Assert.ThrowsAny<ArgumentException>(() => JobWait.CreatePattern(pattern));
    }
}
