using System.Diagnostics;
using System.Text;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.SessionRouting.Tests.Terminals;

public sealed class VtParserTests
{
    [Fact]
    public void Utf8SplitAtEveryByteDecodesAsWhole()
    {
        // Given: 1-, 2-, 3- and 4-byte sequences
        var bytes = Encoding.UTF8.GetBytes("aé中😀z");

        for (var split = 0; split <= bytes.Length; split++)
        {
            // When: fed in two parts at each position
            var performer = new Recorder();
            var parser = new VtParser(performer);
            parser.Feed(bytes.AsSpan(0, split));
            parser.Feed(bytes.AsSpan(split));

            // Then
            Assert.Equal("aé中😀z", performer.Text.ToString());
        }
    }

    [Fact]
    public void InvalidUtf8BecomesReplacementCharactersAsDotNetDecodesIt()
    {
        // Given: random bytes with plenty of high ones, fed a byte at a time and in random chunks
        var random = new Random(3);
        for (var round = 0; round < 200; round++)
        {
            var bytes = new byte[random.Next(1, 64)];
            random.NextBytes(bytes);
            bytes[^1] = (byte)'.'; // ends any sequence: a streaming decoder waits for the rest of one left open
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = bytes[i] < 0x20 ? (byte)(bytes[i] + 0x40) : bytes[i]; // no controls: only text reaches Print
                bytes[i] = bytes[i] == 0x7F ? (byte)'x' : bytes[i];
            }
            if (Encoding.UTF8.GetString(bytes).Any(c => c is >= '\u0080' and <= '\u009F'))
            {
                continue; // a C1 control would start a sequence, not print
            }
            var performer = new Recorder();
            var parser = new VtParser(performer);
            for (var fed = 0; fed < bytes.Length;)
            {
                var chunk = Math.Min(bytes.Length - fed, random.Next(1, 4));
                parser.Feed(bytes.AsSpan(fed, chunk));
                fed += chunk;
            }

            // Then: the same U+FFFD substitution as the framework's decoder
            Assert.Equal(Encoding.UTF8.GetString(bytes), performer.Text.ToString());
        }
    }

    [Fact]
    public void SequencesAreRecognisedAcrossFeeds()
    {
        // Given
        var bytes = "a\e[12;34Hb\e]0;title\a\e(0c\e[?1049h"u8.ToArray();

        // When: one byte at a time
        var performer = new Recorder();
        var parser = new VtParser(performer);
        foreach (var b in bytes)
        {
            parser.Feed([b]);
        }

        // Then
        Assert.Equal("abc", performer.Text.ToString());
        Assert.Equal(["CSI 12;34 H", "OSC 0;title", "ESC ( 0", "CSI ?1049 h"], performer.Events);
    }

    [Fact]
    public void ControlsInsideASequenceRunAndCanAbortIt()
    {
        // When: a LF inside a CSI runs; CAN aborts one; ESC starts over
        var performer = Parse("\e[3\nA\e[5\u0018B\e[1\e[2C");

        // Then
        Assert.Equal(["C0 0A", "CSI 3 A", "C0 18", "CSI 2 C"], performer.Events);
        Assert.Equal("B", performer.Text.ToString());
    }

    [Fact]
    public void ParametersAreClampedAndBounded()
    {
        // When: a huge value, and more parameters than kept
        var performer = Parse($"\e[99999999999999999999;2H\e[{string.Join(';', Enumerable.Range(1, 100))}m");

        // Then
        Assert.Equal($"CSI {VtParams.MaxValue};2 H", performer.Events[0]);
        Assert.Equal($"CSI {string.Join(';', Enumerable.Range(1, VtParams.MaxCount))} m", performer.Events[1]);
    }

    [Fact]
    public void AnOscLongerThanTheLimitIsDroppedWholeAndTheNextOneWorks()
    {
        // When
        var performer = Parse($"\e]0;{new string('x', VtParser.MaxStringLength)}\a\e]2;short\a");

        // Then
        Assert.Equal(["OSC 2;short"], performer.Events);
    }

    [Fact]
    public void DcsApcPmAndSosStringsAreSwallowed()
    {
        // When
        var performer = Parse("a\ePq#0;2;0;0;0#1!14@\e\\b\e_apc\e\\c\e^pm\e\\d\eXsos\e\\e");

        // Then
        Assert.Equal("abcde", performer.Text.ToString());
        Assert.Equal("DCS q", performer.Events[0]);
    }

    [Fact]
    public void SubParametersAndTooManyIntermediatesDropTheSequence()
    {
        // When
        var performer = Parse("\e[38:2:1:2:3mx\e[1!\"#py");

        // Then: neither dispatches, and both end at their final
        Assert.Equal("xy", performer.Text.ToString());
        Assert.Empty(performer.Events);
    }

    [Fact]
    public void TenMegabytesOfRandomBytesNeitherThrowNorGrowAndTakeLinearTime()
    {
        // Given: random bytes, with ESC and '[' made common so sequences of every kind start and break off
        var random = new Random(42);
        var bytes = new byte[10 * 1024 * 1024];
        random.NextBytes(bytes);
        for (var i = 0; i < bytes.Length; i += random.Next(1, 16))
        {
            bytes[i] = (byte)(random.Next(4) switch { 0 => 0x1B, 1 => '[', 2 => ']', _ => ';' });
        }
        var screen = new TerminalScreen(80, 24);

        // When
        var stopwatch = Stopwatch.StartNew();
        for (var fed = 0; fed < bytes.Length; fed += 4096)
        {
            screen.Feed(bytes.AsSpan(fed, Math.Min(4096, bytes.Length - fed)));
        }
        stopwatch.Stop();

        // Then: the screen is intact and small; the time is a few seconds at worst on a busy machine
        var snapshot = screen.Render();
        Assert.Equal(24, snapshot.Lines.Count);
        Assert.All(snapshot.Lines, line => Assert.True(line.Length <= 80 * 33, line));
        Assert.True(snapshot.Title.Length <= TerminalScreen.MaxTitleLength);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"10 MB took {stopwatch.Elapsed}");
        Assert.True(screen.TakeResponses().Length <= TerminalScreen.MaxResponseLength);
    }

    [Theory]
    [InlineData("osc", "\e]0;")]
    [InlineData("dcs", "\eP1;2q")]
    [InlineData("parameters", "\e[")]
    [InlineData("intermediates", "\e[1")]
    [InlineData("combining marks", "a")]
    public void AnEndlessSequenceAllocatesLittle(string what, string start)
    {
        // Given: a start, then a megabyte of what continues it
        var filler = what switch
        {
            "parameters" => "1;"u8.ToArray(),
            "intermediates" => " "u8.ToArray(),
            "combining marks" => "\u0301"u8.ToArray(),
            _ => "x"u8.ToArray(),
        };
        var chunk = Enumerable.Repeat(filler, 4096 / filler.Length).SelectMany(b => b).ToArray();
        var screen = new TerminalScreen(80, 24);
        screen.Feed(Encoding.UTF8.GetBytes(start));

        // When
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 256; i++)
        {
            screen.Feed(chunk);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Then: nothing grew with the input (a cluster of marks stops growing at its limit)
        Assert.True(allocated < 64 * 1024, $"{what}: {allocated:N0} bytes allocated for 1 MiB of input");
        Assert.Equal(24, screen.Render().Lines.Count);
    }

    [Fact]
    public void AHugeRepeatCountCostsAtMostAFewScreenfulsAndEndsWhereTheFullCountWould()
    {
        // Given: the end state of 65,535 repeats computed the slow way: 65,536 'a's
        var expected = new TerminalScreen(10, 4);
        expected.Feed(Encoding.ASCII.GetBytes(new string('a', 65536) + "X"));

        // When
        var screen = new TerminalScreen(80, 24);
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 10_000; i++)
        {
            screen.Feed("a\e[65535b"u8);
        }
        stopwatch.Stop();
        var probe = new TerminalScreen(10, 4);
        probe.Feed("a\e[65535bX"u8);

        // Then
        Assert.Equal(expected.Render().Lines, probe.Render().Lines);
        Assert.Equal(Cursor(expected), Cursor(probe));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"10,000 huge REPs took {stopwatch.Elapsed}");
    }

    private static (int, int) Cursor(TerminalScreen screen)
    {
        var snapshot = screen.Render();
        return (snapshot.CursorRow, snapshot.CursorColumn);
    }

    private static Recorder Parse(string text)
    {
        var performer = new Recorder();
        new VtParser(performer).Feed(Encoding.UTF8.GetBytes(text));
        return performer;
    }

    /// <summary>Writes down what the parser reports.</summary>
    private sealed class Recorder : IVtPerformer
    {
        public StringBuilder Text { get; } = new();

        public List<string> Events { get; } = [];

        public void Print(int codePoint) => Text.Append(char.ConvertFromUtf32(codePoint));

        public void Execute(int control) => Events.Add($"C{(control < 0x80 ? 0 : 1)} {control:X2}");

        public void EscDispatch(int intermediates, char final) =>
            Events.Add($"ESC {Intermediates(intermediates)}{final}");

        public void CsiDispatch(VtParams parameters, char prefix, int intermediates, char final) =>
            Events.Add($"CSI {(prefix == '\0' ? "" : prefix)}{Params(parameters)} {Intermediates(intermediates)}{final}");

        public void OscDispatch(ReadOnlySpan<char> data) => Events.Add($"OSC {data}");

        public void DcsDispatch(VtParams parameters, char prefix, int intermediates, char final, ReadOnlySpan<char> data) =>
            Events.Add($"DCS {final}");

        private static string Params(VtParams parameters) =>
            string.Join(';', Enumerable.Range(0, parameters.Count).Select(i => parameters[i]));

        private static string Intermediates(int packed) =>
            packed == 0 ? "" : $"{(char)(packed & 0xFF)}{(packed > 0xFF ? ((char)(packed >> 8)).ToString() : "")} ";
    }
}
