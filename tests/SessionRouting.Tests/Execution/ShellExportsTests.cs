using System.Diagnostics;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.SessionRouting.Tests.Execution;

public sealed class ShellExportsTests
{
    [Fact]
    public void DashOutputIsParsed()
    {
        // Given
        const string output = "export A='1'\nexport QUOTE='it'\"'\"'s'\nexport MULTI='l1\nl2\n'\nexport EQ='a=b=c'\nexport EMPTY=''\n";

        // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Equal(
            new Dictionary<string, string> { ["A"] = "1", ["QUOTE"] = "it's", ["MULTI"] = "l1\nl2\n", ["EQ"] = "a=b=c", ["EMPTY"] = "" },
            env);
    }

    [Fact]
    public void BashOutputIsParsed()
    {
        // Given
        const string output = """
            declare -x A="1"
            declare -x B="x\"y\\z\$w\`"
            declare -x C=$'l1\nl2\ttab \'q\' \001 \303\251 \xe2\x82\xac \u00e9'
            declare -x NOVALUE
            declare -rx RO="r"
            declare -ix I="3"
            declare -x PLAIN="back\slash kept"
            """;

        // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Equal("1", env["A"]);
        Assert.Equal("x\"y\\z$w`", env["B"]);
        Assert.Equal("l1\nl2\ttab 'q' \u0001 é € é", env["C"]);
        Assert.False(env.ContainsKey("NOVALUE"));
        Assert.Equal("r", env["RO"]);
        Assert.Equal("3", env["I"]);
        Assert.Equal("back\\slash kept", env["PLAIN"]);
    }

    [Fact]
    public void BashMultiLineDoubleQuotedValueIsParsed()
    {
        // Given
        const string output = "declare -x M=\"line1\nline2\"\ndeclare -x N=\"2\"\n";

        // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Equal("line1\nline2", env["M"]);
        Assert.Equal("2", env["N"]);
    }

    [Fact]
    public void BusyboxAshOutputIsParsed()
    {
        // Given: as printed by busybox 1.35 ash
        const string output = "export A='it'\"'\"'s'\nexport C='l1\nl2'\nexport F\nexport HOME='/root'\n";

        // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["A"] = "it's", ["C"] = "l1\nl2", ["HOME"] = "/root" }, env);
    }

    [Fact]
    public void MalformedLinesAreSkippedAndTheRestIsKept()
    {
        // Given
        const string output = "garbage line\nexport GOOD='1'\ndeclare -x 9BAD=\"x\"\nexport TRAILING='x' junk\ndeclare -r NOTEXPORTED=\"1\"\nexport UNTERMINATED=\"abc\nexport LAST='ok'";

        // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["GOOD"] = "1", ["LAST"] = "ok" }, env);
    }

    [Theory]
    [InlineData("")]
    [InlineData("export")]
    [InlineData("export ")]
    [InlineData("declare -x A=$'\\")]
    [InlineData("export A='")]
    [InlineData("export A=\"\\")]
    [InlineData("declare")]
    [InlineData("declare -")]
    [InlineData("\n\n\r\n")]
    [InlineData("export A=\\")]
    public void DegenerateInputNeverThrows(string output)
    {
        // Given // When
        var env = ShellExports.Parse(output);

        // Then
        Assert.Empty(env);
    }

    [Fact]
    public void QuoteProducesAPosixSingleQuotedLiteral()
    {
        // Given // When // Then
        Assert.Equal("''", ShellExports.Quote(""));
        Assert.Equal("'a b'", ShellExports.Quote("a b"));
        Assert.Equal(@"'it'\''s'", ShellExports.Quote("it's"));
        Assert.Equal("'$HOME `x` \\n'", ShellExports.Quote("$HOME `x` \\n"));
    }

    [Theory]
    [InlineData("A", true)]
    [InlineData("_", true)]
    [InlineData("a_B9", true)]
    [InlineData("9A", false)]
    [InlineData("", false)]
    [InlineData("A-B", false)]
    [InlineData("A=B", false)]
    [InlineData("É", false)]
    public void NamesAreValidatedAsShellIdentifiers(string name, bool valid)
    {
        // Given // When // Then
        Assert.Equal(valid, ShellExports.IsValidName(name));
    }

    [Fact]
    public void ExportScriptSkipsInvalidNamesAndSortsByName()
    {
        // Given
        var env = new Dictionary<string, string> { ["B"] = "it's", ["A"] = "1", ["BAD-NAME"] = "x", ["1X"] = "y" };

        // When
        var script = ShellExports.ExportScript(env);

        // Then
        Assert.Equal("export A='1'\nexport B='it'\\''s'\n", script);
    }

    [Theory]
    [InlineData("/bin/dash")]
    [InlineData("/bin/bash")]
    [InlineData("/bin/busybox")]
    public void ExportScriptRoundTripsThroughARealShell(string shell)
    {
        // Given
        var env = new Dictionary<string, string>
        {
            ["SIMPLE"] = "1",
            ["QUOTES"] = "it's \"quoted\"",
            ["MULTI"] = "line1\nline2\n\nline4",
            ["EQUALS"] = "a=b=c",
            ["SPECIALS"] = "$HOME `x` \\ \\n * ? [a] ~ ; & |",
            ["EMPTY"] = "",
            ["TABS"] = "\t\tx",
            ["CONTROL"] = "bell\u0007esc\u001b",
            ["UNICODE"] = "héllo € 日本",
            ["LOOKS_LIKE_EXPORT"] = "x\nexport EVIL='1'\n",
        };

        // When
        var output = RunShell(shell, ShellExports.ExportScript(env) + "export -p\n");
        var parsed = ShellExports.Parse(output);

        // Then
        foreach (var (name, value) in env)
        {
            Assert.True(parsed.TryGetValue(name, out var actual), $"{shell} lost {name}");
            Assert.Equal(value, actual);
        }

        Assert.False(parsed.ContainsKey("EVIL"));
    }

    private static string RunShell(string shell, string script)
    {
        var startInfo = new ProcessStartInfo(shell)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (shell.EndsWith("busybox", StringComparison.Ordinal))
        {
            startInfo.ArgumentList.Add("ash");
        }

        startInfo.Environment["LC_ALL"] = "C.UTF-8";
        using var process = Process.Start(startInfo)!;
        process.StandardInput.Write(script);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
