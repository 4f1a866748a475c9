using System.Text;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.SessionRouting.Tests.Terminals;

public sealed class TerminalScreenTests
{
    [Fact]
    public void TextLandsAtTheCursorAndLinesAreTrimmed()
    {
        // Given / When
        var screen = Feed(10, 3, "ab  \r\n  cd");

        // Then
        var snapshot = screen.Render();
        Assert.Equal(["ab", "  cd", ""], snapshot.Lines);
        Assert.Equal((1, 4), (snapshot.CursorRow, snapshot.CursorColumn));
        Assert.Equal("ab\n  cd", snapshot.Text);
    }

    [Fact]
    public void TheLastColumnLeavesAWrapPendingThatTheNextCharacterTakes()
    {
        // Given: a full row
        var screen = Feed(10, 3, "0123456789");
        Assert.Equal((0, 9), Cursor(screen)); // still on the row, wrap pending

        // When: the next character
        screen.Feed("x"u8);

        // Then
        Assert.Equal(["0123456789", "x", ""], screen.Render().Lines);
        Assert.Equal((1, 1), Cursor(screen));
    }

    [Fact]
    public void CarriageReturnOrABackspaceCancelsThePendingWrap()
    {
        // When
        var screen = Feed(10, 3, "0123456789\rA", "\r\n0123456789\bB");

        // Then
        Assert.Equal(["A123456789", "01234567B9", ""], screen.Render().Lines);
    }

    [Fact]
    public void EraseToTheEndWithTheWrapPendingKeepsTheLastCharacterAsXtermJsDoes()
    {
        // When
        var screen = Feed(10, 2, "0123456789\e[K");

        // Then
        Assert.Equal("0123456789", screen.Render().Lines[0]);
    }

    [Fact]
    public void WithoutAutoWrapTheLastColumnIsOverwritten()
    {
        // When
        var screen = Feed(10, 2, "\e[?7l0123456789abc\e[?7h");

        // Then
        Assert.Equal(["012345678c", ""], screen.Render().Lines);
    }

    [Fact]
    public void TheBottomLineFeedScrollsTheScreen()
    {
        // When
        var screen = Feed(10, 3, "1\r\n2\r\n3\r\n4");

        // Then: no scrollback, the first line is gone
        Assert.Equal(["2", "3", "4"], screen.Render().Lines);
    }

    [Fact]
    public void AScrollRegionScrollsOnlyItsRows()
    {
        // Given: rows 2..4 of 5 as the region, cursor on its bottom row
        var screen = Feed(10, 5, "a\r\nb\r\nc\r\nd\r\ne\e[2;4r\e[4;1H");

        // When: two line feeds at the region's bottom
        screen.Feed("\n\nX"u8);

        // Then: only b..d moved; a and e stayed
        Assert.Equal(["a", "d", "", "X", "e"], screen.Render().Lines);
    }

    [Fact]
    public void InsertAndDeleteLinesWorkInsideTheScrollRegion()
    {
        // Given
        var screen = Feed(10, 5, "a\r\nb\r\nc\r\nd\r\ne\e[2;4r");

        // When: insert a line at b, then delete one at the new d
        screen.Feed("\e[2;3H\e[Lnew\e[4;1H\e[M"u8);

        // Then: IL pushed d out of the region's bottom, DL pulled a blank in; e is outside the region
        Assert.Equal(["a", "new", "b", "", "e"], screen.Render().Lines);
        Assert.Equal((3, 0), Cursor(screen)); // IL and DL go to the first column
    }

    [Fact]
    public void ScrollUpDownAndReverseIndexMoveTheRegion()
    {
        // Given
        var screen = Feed(10, 4, "a\r\nb\r\nc\r\nd\e[2;3r");

        // When: SU then SD then RI at the region's top
        screen.Feed("\e[S"u8);
        var afterUp = screen.Render().Lines;
        screen.Feed("\e[T\e[2;1H\eM"u8);

        // Then
        Assert.Equal(["a", "c", "", "d"], afterUp);
        Assert.Equal(["a", "", "", "d"], screen.Render().Lines);
    }

    [Fact]
    public void OriginModeAddressesRowsFromTheRegionTop()
    {
        // When
        var screen = Feed(10, 5, "\e[2;4r\e[?6h\e[1;1HX\e[9;3HY\e[?6l\e[1;1HZ");

        // Then: row 1 is the region's first; a row past it stops at its last
        Assert.Equal(["Z", "X", "", "  Y", ""], screen.Render().Lines);
    }

    [Fact]
    public void TheAlternateScreen1049ComesBackWithTheNormalScreenAndCursor()
    {
        // Given: text on the normal screen and the cursor after it
        var screen = Feed(20, 4, "$ vim file");

        // When: a full-screen program draws on the alternate screen and leaves
        screen.Feed("\e[?1049h\e[H\e[2Jediting\e[3;5Hmore"u8);
        var inside = screen.Render();
        screen.Feed("\e[?1049l"u8);

        // Then
        Assert.True(inside.AlternateScreen);
        Assert.Equal(["editing", "", "    more", ""], inside.Lines);
        var after = screen.Render();
        Assert.False(after.AlternateScreen);
        Assert.Equal(["$ vim file", "", "", ""], after.Lines);
        Assert.Equal((0, 10), (after.CursorRow, after.CursorColumn));
    }

    [Fact]
    public void TheAlternateScreen1047And47KeepTheCursorAndStartBlank()
    {
        // When
        var screen = Feed(20, 3, "normal\e[?1047hfirst\e[?1047l\e[?47h");

        // Then: the alternate screen is blank again; the cursor stayed where the last visit left it
        Assert.Equal(["", "", ""], screen.Render().Lines);
        screen.Feed("\e[?47lX"u8);
        Assert.Equal(["normal     X", "", ""], screen.Render().Lines);
    }

    [Theory]
    [InlineData("\e[J", new[] { "abcde", "fg", "" })]
    [InlineData("\e[0J", new[] { "abcde", "fg", "" })]
    [InlineData("\e[1J", new[] { "", "   ij", "klmno" })]
    [InlineData("\e[2J", new[] { "", "", "" })]
    [InlineData("\e[3J", new[] { "abcde", "fghij", "klmno" })]
    [InlineData("\e[K", new[] { "abcde", "fg", "klmno" })]
    [InlineData("\e[1K", new[] { "abcde", "   ij", "klmno" })]
    [InlineData("\e[2K", new[] { "abcde", "", "klmno" })]
    [InlineData("\e[2X", new[] { "abcde", "fg  j", "klmno" })]
    [InlineData("\e[2P", new[] { "abcde", "fgj", "klmno" })]
    [InlineData("\e[2@", new[] { "abcde", "fg  h", "klmno" })]
    public void EraseAndEditSequencesWorkFromTheCursor(string sequence, string[] expected)
    {
        // Given: a full 5x3 screen, cursor on 'h'
        var screen = Feed(5, 3, "abcdefghijklmno\e[2;3H");

        // When
        screen.Feed(Encoding.UTF8.GetBytes(sequence));

        // Then
        Assert.Equal(expected, screen.Render().Lines);
        Assert.Equal((1, 2), Cursor(screen));
    }

    [Fact]
    public void TabsStopEveryEightColumnsAndCanBeSetAndCleared()
    {
        // When: default stops, a stop set at column 3, the one at 8 cleared, then back-tab
        var screen = Feed(30, 4, "a\tb\tc\r\n\e[4G\eH\r\tx\r\n\e[9G\e[g\r\t\ty\r\n\e[20G\e[Zz");

        // Then
        Assert.Equal(["a       b       c", "   x", "                y", "                z"], screen.Render().Lines);
    }

    [Fact]
    public void ATabStopsAtTheLastColumn()
    {
        // When
        var screen = Feed(10, 2, "\t\t\tx");

        // Then
        Assert.Equal("         x", screen.Render().Lines[0]);
    }

    [Fact]
    public void WideCharactersTakeTwoCellsAndRenderOnce()
    {
        // When
        var screen = Feed(10, 2, "中文😀a");

        // Then
        Assert.Equal("中文😀a", screen.Render().Lines[0]);
        Assert.Equal((0, 7), Cursor(screen));
    }

    [Fact]
    public void AWideCharacterThatDoesNotFitWrapsWhole()
    {
        // When
        var screen = Feed(5, 2, "abcd中");

        // Then: the last column stays blank
        Assert.Equal(["abcd", "中"], screen.Render().Lines);
    }

    [Fact]
    public void OverwritingHalfAWideCharacterBlanksTheOtherHalf()
    {
        // When: write over the right half of 中 and the left half of 文
        var screen = Feed(10, 1, "中文字\e[1;2Hx\e[1;4Hy");

        // Then
        Assert.Equal(" x y字", screen.Render().Lines[0]);
    }

    [Fact]
    public void CombiningMarksJoinThePreviousCharacter()
    {
        // When: a base with two marks, a wide base with one, a mark at a pending wrap
        var screen = Feed(10, 2, "e\u0301a\u0300\u0316中\u0301\e[1;10Hz\u0308");

        // Then
        Assert.Equal("e\u0301a\u0300\u0316中\u0301     z\u0308", screen.Render().Lines[0]);
        Assert.Equal((0, 9), Cursor(screen));
    }

    [Fact]
    public void TheDecLineDrawingSetDrawsBoxCharacters()
    {
        // When: through G0, and through G1 with SO/SI
        var screen = Feed(20, 2, "\e(0lqk\e(B x \e)0\u000emqj\u000f q");

        // Then
        Assert.Equal("┌─┐ x └─┘ q", screen.Render().Lines[0]);
    }

    [Fact]
    public void SaveAndRestoreCursorReturnToTheSavedPosition()
    {
        // When: DECSC/DECRC and SCOSC/SCORC
        var screen = Feed(20, 3, "ab\e7\e[3;5Hc\e8d\e[2;2H\e[s\e[3;1He\e[uf");

        // Then
        Assert.Equal(["abd", " f", "e   c"], screen.Render().Lines);
    }

    [Fact]
    public void RepeatPrintsThePrecedingCharacterAgain()
    {
        // When: REP after a character, and REP after something else (ignored)
        var screen = Feed(20, 2, "-\e[4b|\r\n\e[3b");

        // Then
        Assert.Equal(["-----|", ""], screen.Render().Lines);
    }

    [Fact]
    public void InsertModeShiftsTheRestOfTheLine()
    {
        // When
        var screen = Feed(10, 1, "world\r\e[4hhello \e[4lX");

        // Then
        Assert.Equal("hello Xorl", screen.Render().Lines[0]);
    }

    [Fact]
    public void CursorMovesStopAtTheEdges()
    {
        // When: far moves in every direction, then relative ones
        var screen = Feed(10, 5, "\e[99;99H\e[2A\e[3D*\e[H\e[99D\e[99A+\e[3;3H\e[2e\e[2a#\e[1d\e[5G@\e[E!\e[2F?");

        // Then: '?' went to the top row (CPL stops there) over '+'
        Assert.Equal(["?   @", "!", "      *", "", "    #"], screen.Render().Lines);
    }

    [Fact]
    public void OscSetsTheTitleAndALongTitleIsCut()
    {
        // When
        var screen = Feed(10, 1, "\e]0;first\a\e]2;second\e\\\e]1;icon only\a");

        // Then
        Assert.Equal("second", screen.Title);
        screen.Feed(Encoding.UTF8.GetBytes($"\e]2;{new string('t', 1000)}\a"));
        Assert.Equal(new string('t', TerminalScreen.MaxTitleLength), screen.Render().Title);
    }

    [Fact]
    public void TheCursorCanBeHiddenAndShown()
    {
        // When
        var screen = Feed(10, 1, "\e[?25l");

        // Then
        Assert.False(screen.Render().CursorVisible);
        screen.Feed("\e[?25h"u8);
        Assert.True(screen.Render().CursorVisible);
    }

    [Fact]
    public void DeviceQueriesQueueTheirReplies()
    {
        // When: cursor position, status, primary and secondary device attributes
        var screen = Feed(10, 5, "\e[3;4H\e[6n\e[5n\e[c\e[>c");

        // Then
        Assert.Equal("\e[3;4R\e[0n\e[?1;2c\e[>0;276;0c", screen.TakeResponses());
        Assert.Equal("", screen.TakeResponses());
    }

    [Fact]
    public void ResetClearsTheScreenAndModesButKeepsTheTitle()
    {
        // When
        var screen = Feed(10, 2, "\e]2;t\a\e[?25l\e[?1049habc\ec");

        // Then
        var snapshot = screen.Render();
        Assert.Equal(["", ""], snapshot.Lines);
        Assert.True(snapshot.CursorVisible);
        Assert.False(snapshot.AlternateScreen);
        Assert.Equal("t", snapshot.Title);
    }

    [Fact]
    public void ShrinkingKeepsTheCursorLineAndTheCursorInBounds()
    {
        // Given: 5 rows, cursor on the last one at column 8
        var screen = Feed(10, 5, "a\r\nb\r\nc\r\nd\r\ne1234567");

        // When
        screen.Resize(4, 3);

        // Then: lines above the cursor went first; the row is cut at the right
        var snapshot = screen.Render();
        Assert.Equal(["c", "d", "e123"], snapshot.Lines);
        Assert.Equal((2, 3), (snapshot.CursorRow, snapshot.CursorColumn));
        Assert.Equal((4, 3), (snapshot.Columns, snapshot.Rows));
    }

    [Fact]
    public void ShrinkingDropsEmptyRowsBelowTheCursorFirst()
    {
        // When
        var screen = Feed(10, 5, "a\r\nb");
        screen.Resize(10, 3);

        // Then
        Assert.Equal(["a", "b", ""], screen.Render().Lines);
        Assert.Equal((1, 1), Cursor(screen));
    }

    [Fact]
    public void GrowingPadsAndANewColumnGetsTabStops()
    {
        // Given
        var screen = Feed(5, 2, "abcde");

        // When
        screen.Resize(20, 3);
        screen.Feed("\r\n\t\tx"u8);

        // Then
        Assert.Equal(["abcde", "                x", ""], screen.Render().Lines);
    }

    [Fact]
    public void ResizingCutsAWideCharacterInTwoAsBlank()
    {
        // When
        var screen = Feed(6, 1, "ab中d");
        screen.Resize(3, 1);

        // Then
        Assert.Equal("ab", screen.Render().Lines[0]);
    }

    [Fact]
    public void ResizingOnTheAlternateScreenKeepsTheNormalScreenForLater()
    {
        // Given: a prompt on the last row, then a full-screen program
        var screen = Feed(10, 5, "\e[5;1H$ top\e[?1049hTOP");

        // When
        screen.Resize(10, 3);
        screen.Feed("\e[?1049l"u8);

        // Then: the prompt row stayed with the saved cursor
        var snapshot = screen.Render();
        Assert.Equal(["", "", "$ top"], snapshot.Lines);
        Assert.Equal((2, 5), (snapshot.CursorRow, snapshot.CursorColumn));
    }

    [Fact]
    public void InvalidSizesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TerminalScreen(0, 24));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TerminalScreen(80, TerminalScreen.MaxRows + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TerminalScreen(80, 24).Resize(TerminalScreen.MaxColumns + 1, 24));
    }

    [Fact]
    public void ChangedLinesReportsOnlyTheRowsWrittenSinceTheToken()
    {
        // Given
        var screen = Feed(10, 4, "a\r\nb\r\nc");
        var token = screen.Render().Version;

        // When
        screen.Feed("\e[2;1HB\e[4;1HD"u8);
        var changes = screen.ChangedLines(token);

        // Then
        Assert.Equal([new ChangedLine(1, "B"), new ChangedLine(3, "D")], changes.Lines);
        Assert.Equal((3, 1), (changes.CursorRow, changes.CursorColumn));
        Assert.Empty(screen.ChangedLines(changes.Version).Lines);
    }

    [Fact]
    public void ChangedLinesReportsEveryRowAScrollMoved()
    {
        // Given
        var screen = Feed(10, 4, "a\r\nb\r\nc\r\nd\e[1;3r");
        var token = screen.Render().Version;

        // When: a scroll inside rows 1..3
        screen.Feed("\e[3;1H\n"u8);

        // Then: the three region rows, not the fourth
        Assert.Equal([new ChangedLine(0, "b"), new ChangedLine(1, "c"), new ChangedLine(2, "")], screen.ChangedLines(token).Lines);
    }

    [Fact]
    public void ChangedLinesReportsEverythingAfterAScreenSwitchOrResizeOrForAnUnknownToken()
    {
        // Given
        var screen = Feed(10, 3, "a");
        var token = screen.Render().Version;

        // When / Then
        screen.Feed("\e[?1049h"u8);
        var switched = screen.ChangedLines(token);
        Assert.Equal(3, switched.Lines.Count);
        Assert.True(switched.AlternateScreen);
        screen.Resize(10, 2);
        Assert.Equal(2, screen.ChangedLines(switched.Version).Lines.Count);
        Assert.Equal(2, screen.ChangedLines(long.MaxValue).Lines.Count);
        Assert.Equal(2, screen.ChangedLines(0).Lines.Count);
    }

    private static TerminalScreen Feed(int columns, int rows, params string[] chunks)
    {
        var screen = new TerminalScreen(columns, rows);
        foreach (var chunk in chunks)
        {
            screen.Feed(Encoding.UTF8.GetBytes(chunk));
        }
        return screen;
    }

    private static (int Row, int Column) Cursor(TerminalScreen screen)
    {
        var snapshot = screen.Render();
        return (snapshot.CursorRow, snapshot.CursorColumn);
    }
}
