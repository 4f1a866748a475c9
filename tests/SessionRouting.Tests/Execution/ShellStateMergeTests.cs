using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.SessionRouting.Tests.Execution;

public sealed class ShellStateMergeTests
{
    private static readonly Dictionary<string, string> NoPerCallEnv = [];

    [Fact]
    public void AVariableTheCommandSetsPersists()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1" };
        var atEnd = new Dictionary<string, string> { ["A"] = "1", ["NEW"] = "x" };

        // When
        var merged = ShellStateMerge.Merge(session, session, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["A"] = "1", ["NEW"] = "x" }, merged);
    }

    [Fact]
    public void AVariableTheCommandChangesPersists()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1" };
        var atEnd = new Dictionary<string, string> { ["A"] = "2" };

        // When
        var merged = ShellStateMerge.Merge(session, session, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["A"] = "2" }, merged);
    }

    [Fact]
    public void AVariableTheCommandUnsetsIsRemoved()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" };
        var atEnd = new Dictionary<string, string> { ["B"] = "2" };

        // When
        var merged = ShellStateMerge.Merge(session, session, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["B"] = "2" }, merged);
    }

    [Fact]
    public void ChangesMadeConcurrentlyByAnotherCommandAreKept()
    {
        // Given: while this command ran, another one set OTHER=9 and changed SHARED
        var atStart = new Dictionary<string, string> { ["SHARED"] = "1", ["MINE"] = "a" };
        var current = new Dictionary<string, string> { ["SHARED"] = "2", ["MINE"] = "a", ["OTHER"] = "9" };
        var atEnd = new Dictionary<string, string> { ["SHARED"] = "1", ["MINE"] = "b" };

        // When
        var merged = ShellStateMerge.Merge(current, atStart, atEnd, NoPerCallEnv);

        // Then: only MINE changed in this command
        Assert.Equal(new Dictionary<string, string> { ["SHARED"] = "2", ["MINE"] = "b", ["OTHER"] = "9" }, merged);
    }

    [Fact]
    public void AVariableAnotherCommandRemovedIsNotResurrected()
    {
        // Given
        var atStart = new Dictionary<string, string> { ["GONE"] = "1" };
        var current = new Dictionary<string, string>();
        var atEnd = new Dictionary<string, string> { ["GONE"] = "1" };

        // When
        var merged = ShellStateMerge.Merge(current, atStart, atEnd, NoPerCallEnv);

        // Then
        Assert.Empty(merged);
    }

    [Fact]
    public void PerCallEnvironmentDoesNotPersist()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1" };
        var perCall = new Dictionary<string, string> { ["TEMP"] = "t", ["A"] = "override" };
        var atStart = new Dictionary<string, string> { ["A"] = "override", ["TEMP"] = "t" };
        var atEnd = new Dictionary<string, string> { ["A"] = "override", ["TEMP"] = "t" };

        // When
        var merged = ShellStateMerge.Merge(session, atStart, atEnd, perCall);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["A"] = "1" }, merged);
    }

    [Fact]
    public void PerCallKeyEndingAtItsPerCallValueCountsAsUnchangedEvenIfStartDiffers()
    {
        // Given: a caller whose atStart lacks the overlay
        var session = new Dictionary<string, string>();
        var perCall = new Dictionary<string, string> { ["TEMP"] = "t" };
        var atEnd = new Dictionary<string, string> { ["TEMP"] = "t" };

        // When
        var merged = ShellStateMerge.Merge(session, session, atEnd, perCall);

        // Then
        Assert.Empty(merged);
    }

    [Fact]
    public void APerCallVariableTheCommandReassignsPersists()
    {
        // Given
        var session = new Dictionary<string, string>();
        var perCall = new Dictionary<string, string> { ["TEMP"] = "t" };
        var atStart = new Dictionary<string, string> { ["TEMP"] = "t" };
        var atEnd = new Dictionary<string, string> { ["TEMP"] = "changed" };

        // When
        var merged = ShellStateMerge.Merge(session, atStart, atEnd, perCall);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["TEMP"] = "changed" }, merged);
    }

    [Fact]
    public void ShellBookkeepingVariablesNeverPersist()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1" };
        var atStart = new Dictionary<string, string> { ["A"] = "1", ["OLDPWD"] = "/old" };
        var atEnd = new Dictionary<string, string> { ["A"] = "1", ["PWD"] = "/tmp", ["SHLVL"] = "2", ["_"] = "/bin/true" };

        // When
        var merged = ShellStateMerge.Merge(session, atStart, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["A"] = "1" }, merged);
    }

    [Fact]
    public void BookkeepingVariablesAlreadyInTheSessionAreLeftAlone()
    {
        // Given
        var session = new Dictionary<string, string> { ["PWD"] = "/home" };
        var atEnd = new Dictionary<string, string>();

        // When
        var merged = ShellStateMerge.Merge(session, session, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal(new Dictionary<string, string> { ["PWD"] = "/home" }, merged);
    }

    [Fact]
    public void InputsAreNotModified()
    {
        // Given
        var session = new Dictionary<string, string> { ["A"] = "1" };
        var atEnd = new Dictionary<string, string> { ["A"] = "2" };

        // When
        _ = ShellStateMerge.Merge(session, session, atEnd, NoPerCallEnv);

        // Then
        Assert.Equal("1", session["A"]);
    }
}
