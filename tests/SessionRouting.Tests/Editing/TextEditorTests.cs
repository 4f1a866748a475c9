using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.Tests.Editing;

public sealed class TextEditorTests
{
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static EditOperation Edit(string oldString, string newString, bool replaceAll = false) => new(oldString, newString, replaceAll);

    [Fact]
    public void AUniqueMatchIsReplacedAndDiffed()
    {
        // Given
        var original = Bytes("def f():\n    return 1\n");

        // When
        var outcome = TextEditor.Apply(original, "src/a.py", [Edit("return 1", "return 2")]);

        // Then
        Assert.Equal("def f():\n    return 2\n", Text(outcome.NewContent));
        Assert.Equal(1, outcome.Replacements);
        Assert.Equal(1, outcome.LinesAdded);
        Assert.Equal(1, outcome.LinesRemoved);
        Assert.Equal(LineEnding.Lf, outcome.Eol);
        Assert.False(outcome.Bom);
        Assert.Equal("--- a/src/a.py\n+++ b/src/a.py\n@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n", outcome.Diff);
    }

    [Fact]
    public void ReplaceAllReplacesEveryMatchAndCountsThem()
    {
        // Given
        var original = Bytes("x = 1\ny = x\nz = x + x\n");

        // When
        var outcome = TextEditor.Apply(original, "m.py", [Edit("x", "value", replaceAll: true)]);

        // Then
        Assert.Equal("value = 1\ny = value\nz = value + value\n", Text(outcome.NewContent));
        Assert.Equal(4, outcome.Replacements);
    }

    [Fact]
    public void SeveralMatchesWithoutReplaceAllListEveryLineWithContext()
    {
        // Given
        var lines = Enumerable.Range(1, 80).Select(i => $"line {i}").ToArray();
        lines[11] = lines[39] = lines[76] = "    retry()";
        var original = Bytes(string.Join("\n", lines) + "\n");

        // When
        var error = Assert.Throws<EditException>(() => TextEditor.Apply(original, "src/a.py", [Edit("retry()", "retry(3)")]));

        // Then
        Assert.StartsWith(
            "old_string matches 3 places in src/a.py: lines 12, 40, 77. Add surrounding lines to old_string to make it unique, or set replace_all: true.",
            error.Message);
        Assert.Contains("  10| line 10\n  11| line 11\n> 12|     retry()\n  13| line 13\n  14| line 14", error.Message);
        Assert.Contains("> 40|     retry()", error.Message);
        Assert.Contains("> 77|     retry()\n  78| line 78\n  79| line 79", error.Message);
    }

    [Fact]
    public void NoMatchShowsTheClosestRegionWithLineNumbersAndChangesNothing()
    {
        // Given
        var lines = Enumerable.Range(1, 50).Select(i => $"value_{i} = compute({i})").ToArray();
        lines[29] = "total = sum(values)";
        lines[30] = "print(total)";
        var original = Bytes(string.Join("\n", lines) + "\n");

        // When
        var error = Assert.Throws<EditException>(() =>
            TextEditor.Apply(original, "src/a.py", [Edit("total = sum(vals)\nprint(totl)\n", "x")]));

        // Then
        Assert.StartsWith("old_string was not found in src/a.py. The closest region is lines 30-31", error.Message);
        Assert.Contains("  30| total = sum(values)\n  31| print(total)", error.Message);
        Assert.Contains("was not changed", error.Message);
    }

    [Fact]
    public void NoMatchThatDiffersOnlyInIndentationSaysSo()
    {
        // Given
        var original = Bytes("class A:\n\tdef f(self):\n\t\treturn 1\n");

        // When
        var error = Assert.Throws<EditException>(() =>
            TextEditor.Apply(original, "a.py", [Edit("    def f(self):\n        return 1", "x")]));

        // Then
        Assert.Contains("lines 2-3", error.Message);
        Assert.Contains("only in whitespace", error.Message);
    }

    [Fact]
    public void NoMatchInAFileWithNothingSimilarSaysSo()
    {
        // Given
        var original = Bytes("aaaa\nbbbb\n");

        // When
        var error = Assert.Throws<EditException>(() => TextEditor.Apply(original, "a.txt", [Edit("zzzz qqqq 1234", "x")]));

        // Then
        Assert.StartsWith("old_string was not found in a.txt. Nothing in the file resembles it", error.Message);
    }

    [Fact]
    public void FindingTheClosestRegionInALargeFileCompletes()
    {
        // Given
        var original = Bytes(string.Concat(Enumerable.Range(1, 10_000).Select(i => $"    statement_{i}(argument_{i % 97});\n")));
        var oldString = string.Concat(Enumerable.Range(5000, 50).Select(i => $"    statement_{i}(argumnt_{i % 97});\n"));

        // When
        var error = Assert.Throws<EditException>(() => TextEditor.Apply(original, "big.c", [Edit(oldString, "x")]));

        // Then
        Assert.Contains("The closest region is lines 5000-5049", error.Message);
    }

    [Fact]
    public void ACrlfFileStaysCrlfWhenEditsUseLf()
    {
        // Given
        var original = Bytes("one\r\ntwo\r\nthree\r\n");

        // When
        var outcome = TextEditor.Apply(original, "w.txt", [Edit("one\ntwo\n", "one\n2a\n2b\n")]);

        // Then
        Assert.Equal(Bytes("one\r\n2a\r\n2b\r\nthree\r\n"), outcome.NewContent);
        Assert.Equal(LineEnding.Crlf, outcome.Eol);
        Assert.Equal(2, outcome.LinesAdded);
        Assert.Equal(1, outcome.LinesRemoved);
    }

    [Fact]
    public void AnLfFileStaysLfWhenEditsUseCrlf()
    {
        // Given
        var original = Bytes("one\ntwo\n");

        // When
        var outcome = TextEditor.Apply(original, "u.txt", [Edit("one\r\ntwo", "1\r\n2")]);

        // Then
        Assert.Equal(Bytes("1\n2\n"), outcome.NewContent);
    }

    [Fact]
    public void TheBomIsPreserved()
    {
        // Given
        var original = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Bytes("key=old\n")).ToArray();

        // When
        var outcome = TextEditor.Apply(original, "bom.ini", [Edit("old", "new")]);

        // Then
        Assert.True(outcome.Bom);
        Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Bytes("key=new\n")).ToArray(), outcome.NewContent);
    }

    [Fact]
    public void AMixedFileUsesItsDominantEndingAndStillMatchesTheMinorityOne()
    {
        // Given: mostly CRLF, with one LF-terminated region
        var original = Bytes("a\r\nb\r\nc\r\nx\ny\n");

        // When
        var dominant = TextEditor.Apply(original, "m.txt", [Edit("a\nb", "a\nB\nB2")]);
        var minority = TextEditor.Apply(original, "m.txt", [Edit("x\ny", "x\nY")]);

        // Then
        Assert.Equal(LineEnding.Mixed, dominant.Eol);
        Assert.Equal(Bytes("a\r\nB\r\nB2\r\nc\r\nx\ny\n"), dominant.NewContent);
        Assert.Equal(Bytes("a\r\nb\r\nc\r\nx\nY\n"), minority.NewContent);
    }

    [Fact]
    public void EditsApplyInOrderOnTheResultOfThePreviousOne()
    {
        // Given
        var original = Bytes("alpha\nbeta\n");

        // When
        var outcome = TextEditor.Apply(original, "o.txt", [Edit("alpha", "gamma"), Edit("gamma\nbeta", "delta")]);

        // Then
        Assert.Equal("delta\n", Text(outcome.NewContent));
        Assert.Equal(2, outcome.Replacements);
    }

    [Fact]
    public void AFailingLaterEditRejectsTheWholeListWithItsPosition()
    {
        // Given
        var original = Bytes("alpha\nbeta\n");

        // When
        var error = Assert.Throws<EditException>(() =>
            TextEditor.Apply(original, "o.txt", [Edit("alpha", "gamma"), Edit("missing", "x"), Edit("beta", "b")]));

        // Then
        Assert.StartsWith("edit 2 of 3: old_string was not found in o.txt.", error.Message);
        Assert.Contains("No edit was applied", error.Message);
        Assert.Equal("alpha\nbeta\n", Text(original)); // the input is never mutated
    }

    [Fact]
    public void AnEmptyOldStringIsRejected()
    {
        // Given / When
        var error = Assert.Throws<EditException>(() => TextEditor.Apply(Bytes("x\n"), "f", [Edit("", "y")]));

        // Then
        Assert.StartsWith("old_string is empty; to create or overwrite a file use session_write_file", error.Message);
    }

    [Fact]
    public void IdenticalOldAndNewStringsAreRejected()
    {
        // Given / When
        var error = Assert.Throws<EditException>(() => TextEditor.Apply(Bytes("x\n"), "f", [Edit("x", "x")]));

        // Then
        Assert.StartsWith("old_string and new_string are identical; nothing to change", error.Message);
    }

    [Fact]
    public void ABinaryFileIsRefused()
    {
        // Given
        byte[] original = [1, 2, 0, 3];

        // When / Then
        Assert.Throws<FileContentException>(() => TextEditor.Apply(original, "b.bin", [Edit("a", "b")]));
    }
}
