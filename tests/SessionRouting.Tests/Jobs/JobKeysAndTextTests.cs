using System.Text;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

/// <summary>Named keys as bytes or signals, and journal reads as text.</summary>
public sealed class JobKeysAndTextTests
{
    [Fact]
    public void OnATerminalKeysAreWhatATerminalSends()
    {
        var actions = JobKeys.Encode(["Enter", "Ctrl-C", "up", "Esc", "F5", "ctrl+d", "^Z"], terminal: true);

        Assert.Equal(["\r", "\u0003", "\u001b[A", "\u001b", "\u001b[15~", "\u0004", "\u001a"], actions.Select(a => Encoding.ASCII.GetString(a.Bytes!)));
    }

    [Fact]
    public void OnAPipeControlKeysBecomeSignalsOrTheEndOfInput()
    {
        var actions = JobKeys.Encode(["Enter", "Ctrl-C", "Ctrl-\\", "Ctrl-Z", "Ctrl-D", "Tab"], terminal: false);

        Assert.Equal("\n", Encoding.ASCII.GetString(actions[0].Bytes!));
        Assert.Equal(JobSignal.Interrupt, actions[1].Signal);
        Assert.Equal(JobSignal.Quit, actions[2].Signal);
        Assert.Equal(JobSignal.Suspend, actions[3].Signal);
        Assert.True(actions[4].EndOfInput);
        Assert.Equal("\t", Encoding.ASCII.GetString(actions[5].Bytes!));
    }

    [Fact]
    public void AnUnknownKeyIsRefusedWithTheKnownOnes()
    {
        var error = Assert.Throws<SessionException>(() => JobKeys.Encode(["Enter", "Hyper-Q"], terminal: true));

        Assert.Contains("unknown key 'Hyper-Q'", error.Message);
        Assert.Contains("PageDown", error.Message);
    }

    [Fact]
    public void AReadEndingInsideACharacterLeavesItForTheNextRead()
    {
        // Given "é" (C3 A9) cut after its first byte
        var bytes = Encoding.UTF8.GetBytes("caf\u00e9");
        var read = new JournalRead([new JournalChunk(JobStream.Stdout, 0, 0, bytes.AsMemory(0, 4))], null, 0, 4, 5, null);

        // When
        var (text, next) = JobText.Interleaved(read);

        // Then
        Assert.Equal("caf", text);
        Assert.Equal(3, next);
    }

    [Fact]
    public void ADroppedMiddleIsMarkedWhereItWas()
    {
        var read = new JournalRead(
            [new JournalChunk(JobStream.Stdout, 0, 0, "head\n"u8.ToArray()), new JournalChunk(JobStream.Stderr, 100, 5, "tail\n"u8.ToArray())],
            new JournalGap(5, 100), 0, 105, 105, null);

        var (text, next) = JobText.Interleaved(read);

        Assert.Equal("head\n\n[... 95 bytes of output not kept (bytes 5-100) ...]\ntail\n", text);
        Assert.Equal(105, next);
        Assert.Equal(("\n[... 95 bytes of output not kept (bytes 5-100) ...]\nhead\n", "tail\n"), JobText.Separate(read));
    }
}
