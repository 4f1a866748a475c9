using System.Text;
using SessionMcp.SessionRouting.Terminals;
using Xunit.Abstractions;

namespace SessionMcp.SessionRouting.Tests.Terminals;

/// <summary>
/// What an idle terminal costs: a session keeps one screen per PTY, so 200 sessions must stay cheap. Measured as the
/// bytes allocated on this thread to build a screen and fill it (everything it holds was allocated then; transient
/// garbage only makes the figure larger).
/// </summary>
public sealed class TerminalScreenMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void An80By24ScreenCostsAboutTenKilobytes()
    {
        // Given: warm-up, so type initialisation is not counted
        _ = new TerminalScreen(80, 24).Render();
        var content = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(1, 30).Select(i => $"\e[32mline {i}\e[0m: {new string('x', 60)}\r\n"))
            + "\e]0;a title\a$ ");

        // When
        var before = GC.GetAllocatedBytesForCurrentThread();
        var blank = new TerminalScreen(80, 24);
        var empty = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        var used = new TerminalScreen(80, 24);
        used.Feed(content);
        var filled = GC.GetAllocatedBytesForCurrentThread() - before;

        // Then: far below the 200 KB budget per idle terminal
        output.WriteLine($"80x24 blank: {empty:N0} bytes; after 30 coloured lines and a title: {filled:N0} bytes");
        Assert.True(empty < 16 * 1024, $"a blank 80x24 screen took {empty:N0} bytes");
        Assert.True(filled < 24 * 1024, $"a used 80x24 screen took {filled:N0} bytes");
        GC.KeepAlive(blank);
    }
}
