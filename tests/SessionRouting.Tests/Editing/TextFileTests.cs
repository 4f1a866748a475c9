using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.Tests.Editing;

public sealed class TextFileTests
{
    [Theory]
    [InlineData("a\nb\n", LineEnding.Lf, "\n")]
    [InlineData("a\r\nb\r\n", LineEnding.Crlf, "\r\n")]
    [InlineData("a\r\nb\r\nc\n", LineEnding.Mixed, "\r\n")]
    [InlineData("a\nb\nc\r\n", LineEnding.Mixed, "\n")]
    [InlineData("just one line", LineEnding.None, "\n")]
    [InlineData("", LineEnding.None, "\n")]
    public void LineEndingsAreDetected(string text, string expectedEol, string expectedNewLine)
    {
        // Given
        var bytes = Encoding.UTF8.GetBytes(text);

        // When
        var decoded = TextFile.Decode(bytes, "f.txt");

        // Then
        Assert.Equal(text, decoded.Text);
        Assert.Equal(expectedEol, decoded.Eol);
        Assert.Equal(expectedNewLine, decoded.NewLine);
        Assert.False(decoded.Bom);
    }

    [Fact]
    public void ABomIsDetectedAndKeptOutOfTheText()
    {
        // Given
        byte[] bytes = [0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i'];

        // When
        var decoded = TextFile.Decode(bytes, "bom.txt");

        // Then
        Assert.True(decoded.Bom);
        Assert.Equal("hi", decoded.Text);
        Assert.Equal(bytes, TextFile.Encode(decoded.Text, decoded.Bom));
    }

    [Fact]
    public void ANulByteMarksTheFileAsBinary()
    {
        // Given
        var bytes = new byte[200];
        bytes.AsSpan().Fill((byte)'x');
        bytes[123] = 0;

        // When
        var error = Assert.Throws<FileContentException>(() => TextFile.Decode(bytes, "src/x.bin"));

        // Then
        Assert.Equal(
            "src/x.bin looks like a binary file (NUL byte at offset 123); session_read_file and session_edit_file work on text files only. Use session_exec (e.g. xxd, base64) to inspect it.",
            error.Message);
    }

    [Fact]
    public void InvalidUtf8MarksTheFileAsBinaryAndNamesTheOffset()
    {
        // Given
        byte[] bytes = [(byte)'o', (byte)'k', 0xC3, 0x28, (byte)'!'];

        // When
        var error = Assert.Throws<FileContentException>(() => TextFile.Decode(bytes, "latin1.txt"));

        // Then
        Assert.StartsWith("latin1.txt looks like a binary file (invalid UTF-8 at byte offset 2)", error.Message);
    }

    [Fact]
    public void MultibyteTextRoundTrips()
    {
        // Given
        var text = "héllo wörld 😀\n";

        // When
        var decoded = TextFile.Decode(TextFile.Encode(text, bom: false), "u.txt");

        // Then
        Assert.Equal(text, decoded.Text);
    }
}
