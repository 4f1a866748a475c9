using SessionMcp.McpServer.Cli;

namespace SessionMcp.McpServer.Tests.Cli;

/// <summary><see cref="CommandLineParser.Parse"/> as a plain function: arguments in, a command or an error out.</summary>
public sealed class CommandLineParserTests
{
    [Fact]
    public void NoWordsMeansServe()
    {
        // Given / When
        var parsed = CommandLineParser.Parse([]);

        // Then
        Assert.Equal(CommandLineParser.Serve, Assert.IsType<CommandRequested>(parsed).Name);
    }

    [Fact]
    public void SettingsFlagsInBothFormsReachTheSettingsByName()
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["sessions", "--data-dir", ".data", "--sync=full"]);

        // Then
        var command = Assert.IsType<CommandRequested>(parsed);
        Assert.Equal(CommandLineParser.Sessions, command.Name);
        Assert.Equal(new Dictionary<string, string> { ["data-dir"] = ".data", ["sync"] = "full" }, command.Settings);
    }

    [Fact]
    public void TailTakesACountASessionAndFollow()
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["audit", "tail", "-n", "5", "--session", "s-abcdefgh", "--follow"]);

        // Then
        var command = Assert.IsType<CommandRequested>(parsed);
        Assert.Equal((CommandLineParser.AuditTail, 5, "s-abcdefgh", true), (command.Name, command.Count, command.Session, command.Follow));
    }

    [Fact]
    public void ExportNeedsNoFormatAndTakesFrom()
    {
        // Given / When
        var bare = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["audit", "export"]));
        var explicitFormat = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["audit", "export", "--format", "jsonl", "--from", "42"]));

        // Then
        Assert.Equal((CommandLineParser.AuditExport, 1L), (bare.Name, bare.From));
        Assert.Equal(42, explicitFormat.From);
        Assert.Equal(CommandLineParser.ExportFormat, bare.Format);
    }

    [Fact]
    public void ExportAsMarkdownTakesASession()
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["audit", "export", "--format", "markdown", "--session", "s-abcdefgh"]);

        // Then
        var command = Assert.IsType<CommandRequested>(parsed);
        Assert.Equal((CommandLineParser.AuditExport, CommandLineParser.MarkdownFormat, "s-abcdefgh"), (command.Name, command.Format, command.Session));
    }

    [Fact]
    public void VerifyTakesAnExpectedHeadWithOrWithoutItsNumber()
    {
        // Given
        var hash = new string('A', 64);

        // When
        var bare = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["audit", "verify"]));
        var both = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["audit", "verify", "--expect-seq", "12", $"--expect-head={hash}"]));
        var seqOnly = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["audit", "verify", "--expect-seq", "0"]));

        // Then the hash is kept in the lowercase verify prints
        Assert.Equal((null, null), (bare.ExpectSeq, bare.ExpectHead));
        Assert.Equal((12L, new string('a', 64)), (both.ExpectSeq, both.ExpectHead));
        Assert.Equal((0L, null), (seqOnly.ExpectSeq, seqOnly.ExpectHead));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void HelpWinsOverEverythingElse(string flag)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["audit", "tial", "--data-dri", "x", flag]);

        // Then
        Assert.IsType<HelpRequested>(parsed);
    }

    [Fact]
    public void VersionIsAFlagOfItsOwn()
    {
        // Given / When / Then
        Assert.IsType<VersionRequested>(CommandLineParser.Parse(["--version"]));
    }

    [Theory]
    [InlineData(new[] { "--data-dri", "x" }, "unknown option --data-dri; did you mean --data-dir?")]
    [InlineData(new[] { "-data-dir", "x" }, "unknown option -data-dir; did you mean --data-dir?")]
    [InlineData(new[] { "audit", "tail", "--folow" }, "unknown option --folow; did you mean --follow?")]
    [InlineData(new[] { "audit", "tail", "--sesion=s-1" }, "unknown option --sesion; did you mean --session?")]
    [InlineData(new[] { "--colour" }, "unknown option --colour")]
    [InlineData(new[] { "-x" }, "unknown option -x")]
    public void AnUnknownFlagIsAnErrorThatSuggestsTheClosestKnownOne(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Theory]
    [InlineData(new[] { "--data-dir", "--sync", "full" }, "--data-dir needs a value: --data-dir DIR, but the next word is the option --sync")]
    [InlineData(new[] { "sessions", "--data-dir" }, "--data-dir needs a value: --data-dir DIR")]
    [InlineData(new[] { "--data-dir=" }, "--data-dir needs a value: --data-dir DIR")]
    [InlineData(new[] { "audit", "tail", "-n", "--follow" }, "-n needs a value: -n N, but the next word is the option --follow")]
    public void AValueFlagNeverSwallowsTheNextFlag(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.StartsWith(message, Assert.IsType<CommandLineError>(parsed).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AValueThatStartsWithADashCanBeGivenWithEquals()
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["--shell=-weird"]);

        // Then
        Assert.Equal("-weird", Assert.IsType<CommandRequested>(parsed).Settings["shell"]);
    }

    [Fact]
    public void AWordAfterAFlagWithoutValueIsACommandWord()
    {
        // Given / When
        var followed = CommandLineParser.Parse(["audit", "tail", "--follow", "s-abcdefgh"]);
        var beforeCommand = CommandLineParser.Parse(["audit", "--follow", "tail"]);

        // Then the word after --follow is not its value
        Assert.Equal("audit tail takes no word 's-abcdefgh'", Assert.IsType<CommandLineError>(followed).Message);
        Assert.True(Assert.IsType<CommandRequested>(beforeCommand).Follow);
    }

    [Theory]
    [InlineData(new[] { "sessions", "-n", "5" }, "-n is an option of audit tail, not of sessions")]
    [InlineData(new[] { "audit", "export", "--follow" }, "--follow is an option of audit tail, not of audit export")]
    [InlineData(new[] { "audit", "tail", "--format", "jsonl" }, "--format is an option of audit export, not of audit tail")]
    [InlineData(new[] { "serve", "--session", "s-1" }, "--session is an option of audit tail, not of serve")]
    public void AnOptionOfAnotherCommandIsAnError(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Theory]
    [InlineData(new[] { "audit", "tail", "-n", "0" }, "-n must be a whole number of events, 1 or more (got '0')")]
    [InlineData(new[] { "audit", "tail", "-n", "-5" }, "-n must be a whole number of events, 1 or more (got '-5')")]
    [InlineData(new[] { "audit", "tail", "-n", "ten" }, "-n must be a whole number of events, 1 or more (got 'ten')")]
    [InlineData(new[] { "audit", "export", "--from", "x" }, "--from must be an event sequence number, 1 or more (got 'x')")]
    [InlineData(new[] { "audit", "export", "--format", "csv" }, "--format must be jsonl (events as JSON lines) or markdown (a report per session to review) (got 'csv')")]
    [InlineData(new[] { "audit", "tail", "--follow=yes" }, "--follow takes no value (got 'yes')")]
    [InlineData(new[] { "audit", "verify", "--expect-seq", "x" }, "--expect-seq must be an event sequence number, 0 or more (got 'x')")]
    [InlineData(new[] { "audit", "verify", "--expect-head", "abc" }, "--expect-head must be a head hash as audit verify prints it, 64 hex digits (got 'abc')")]
    [InlineData(new[] { "audit", "export", "--expect-seq", "3" }, "--expect-seq is an option of audit verify, not of audit export")]
    public void ABadValueIsAnErrorNotADefault(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Theory]
    [InlineData(new[] { "audit", "tial" }, "unknown command 'audit tial'; did you mean audit tail?")]
    [InlineData(new[] { "audit" }, "audit needs a subcommand: audit tail, audit export or audit verify")]
    [InlineData(new[] { "launch" }, "unknown command 'launch'")]
    public void AnUnknownCommandIsAnError(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Fact]
    public void AFlagGivenTwiceIsAnError()
    {
        // Given / When
        var parsed = CommandLineParser.Parse(["--data-dir", "a", "--data-dir", "b"]);

        // Then
        Assert.Equal("--data-dir is given twice", Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Fact]
    public void ServeTakesADaemonModeAndTheDaemonHasStopAndStatus()
    {
        // Given / When
        var serve = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["serve", "--daemon", "never"]));
        var bare = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["serve"]));
        var daemon = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["daemon", "--data-dir", "d"]));
        var stop = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["daemon", "stop"]));
        var status = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["daemon", "status"]));

        // Then
        Assert.Equal((CommandLineParser.Serve, "never"), (serve.Name, serve.Daemon));
        Assert.Null(bare.Daemon);
        Assert.Equal((CommandLineParser.Daemon, "d"), (daemon.Name, daemon.Settings["data-dir"]));
        Assert.Equal(CommandLineParser.DaemonStop, stop.Name);
        Assert.Equal(CommandLineParser.DaemonStatus, status.Name);
    }

    [Theory]
    [InlineData(new[] { "serve", "--daemon", "sometimes" }, "--daemon must be auto, never or require (got 'sometimes')")]
    [InlineData(new[] { "daemon", "--daemon", "auto" }, "--daemon is an option of serve, not of daemon")]
    [InlineData(new[] { "daemon", "restart" }, "unknown daemon command 'restart': session-mcp daemon (run it), daemon stop or daemon status")]
    public void BadDaemonCommandLinesAreErrors(string[] args, string message)
    {
        // Given / When
        var parsed = CommandLineParser.Parse(args);

        // Then
        Assert.Equal(message, Assert.IsType<CommandLineError>(parsed).Message);
    }

    [Theory]
    [InlineData(null, null, "Auto")]
    [InlineData(null, "", "Auto")]
    [InlineData(null, "never", "Never")]
    [InlineData("require", "never", "Require")]
    [InlineData("auto", null, "Auto")]
    public void TheDaemonModeComesFromTheFlagThenTheVariableThenAuto(string? flag, string? variable, string expected)
    {
        // Given / When
        var mode = DaemonConnector.ResolveMode(flag, name => name == DaemonConnector.ModeVariable ? variable : null);

        // Then
        Assert.Equal(expected, mode.ToString());
    }

    [Fact]
    public void ABadDaemonVariableNamesTheVariable()
    {
        // Given / When
        var error = Assert.Throws<ArgumentException>(() => DaemonConnector.ResolveMode(null, _ => "always"));

        // Then
        Assert.Equal("SESSION_MCP_DAEMON must be auto, never or require (got 'always')", error.Message);
    }

    [Fact]
    public void AttachTakesASessionAnOptionalTerminalAndWrite()
    {
        var both = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["attach", "s-abcdefgh", "t-12345678", "--write"]));
        var one = Assert.IsType<CommandRequested>(CommandLineParser.Parse(["attach", "s-abcdefgh"]));

        Assert.Equal("attach", both.Name);
        Assert.Equal(["s-abcdefgh", "t-12345678"], both.Arguments);
        Assert.True(both.Write);
        Assert.Equal(["s-abcdefgh"], one.Arguments);
        Assert.False(one.Write);
        Assert.Contains("attach needs the session", Assert.IsType<CommandLineError>(CommandLineParser.Parse(["attach"])).Message);
        Assert.Contains("--write is an option of attach", Assert.IsType<CommandLineError>(CommandLineParser.Parse(["sessions", "--write"])).Message);
    }
}
