using System.Text;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.SessionRouting.Tests.Terminals;

public sealed class EscapeStripperTests
{
    [Fact]
    public void ColoursAndOtherSequencesAreRemoved()
    {
        // When
        var text = Strip("\e[1;31merror\e[0m: \e]0;title\a\e[?25lfile not found\e[K\r\n");

        // Then
        Assert.Equal("error: file not found\n", text);
    }

    [Fact]
    public void CarriageReturnLineFeedBecomesLineFeedAndTabsStay()
    {
        // When
        var text = Strip("a\tb\r\nc\n\r\nd\r\n");

        // Then
        Assert.Equal("a\tb\nc\n\nd\n", text);
    }

    [Fact]
    public void AProgressBarRedrawnWithCarriageReturnsEndsAsItsLastState()
    {
        // When: redraws over the same line, one shorter and cleaned with EL
        var text = Strip("progress 10%\rprogress 50%\rdone\e[K\r\n");

        // Then
        Assert.Equal("done\n", text);
    }

    [Fact]
    public void BackspaceStepsBackOverWhatWasTyped()
    {
        // When: a shell echoing "lss", backspace, space-backspace erase
        var text = Strip("$ lss\b \bx\r\n");

        // Then
        Assert.Equal("$ lsx\n", text);
    }

    [Fact]
    public void EraseLineBlanksTheLineAndTheCursorStaysPut()
    {
        // When
        var text = Strip("abcdef\e[2Kgh\r\n");

        // Then
        Assert.Equal("      gh\n", text);
    }

    [Fact]
    public void SequencesAndCharactersSplitAcrossFeedsComeOutWhole()
    {
        // Given
        var bytes = Encoding.UTF8.GetBytes("\e[32mgrün\e[0m 中\r\n");
        var stripper = new EscapeStripper();
        var text = new StringBuilder();

        // When: a byte at a time
        foreach (var b in bytes)
        {
            text.Append(stripper.Feed([b]));
        }

        // Then
        Assert.Equal("grün 中\n", text.ToString());
    }

    [Fact]
    public void AnUnfinishedLineWaitsAsThePendingLineUntilFlushed()
    {
        // Given
        var stripper = new EscapeStripper();

        // When
        var completed = stripper.Feed("line\r\n\e[1m$ \e[0m"u8);

        // Then
        Assert.Equal("line\n", completed);
        Assert.Equal("$ ", stripper.PendingLine);
        Assert.Equal("$ ", stripper.Flush());
        Assert.Equal("", stripper.PendingLine);
    }

    [Fact]
    public void AVeryLongLineIsEmittedInPieces()
    {
        // Given
        var stripper = new EscapeStripper();

        // When
        var text = stripper.Feed(Encoding.ASCII.GetBytes(new string('x', EscapeStripper.MaxLineLength * 2 + 5)));

        // Then: two full pieces out, the rest pending
        Assert.Equal(new string('x', EscapeStripper.MaxLineLength * 2), text);
        Assert.Equal("xxxxx", stripper.PendingLine);
    }

    [Fact]
    public void AFullScreenProgramComesOutAsTheTextItDrew()
    {
        // When: cursor addressing and the alternate screen are dropped, the text kept in order
        var text = Strip("\e[?1049h\e[H\e[2Jtitle\e[2;1Hbody\e[?1049l\n");

        // Then
        Assert.Equal("titlebody\n", text);
    }

    private static string Strip(string output)
    {
        var stripper = new EscapeStripper();
        return stripper.Feed(Encoding.UTF8.GetBytes(output)) + stripper.Flush();
    }
}
