using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class TranscriptTests
{
    [Fact]
    public void ALineNamesTheEventsSessionToolOutcomeAndCommand()
    {
        // Given an audited command
        var e = new AuditEvent(7, HashChainTests.Entry(1) with { SessionId = "s-abcdefgh" }, HashChain.Genesis, "hash");

        // When
        var line = Transcript.RenderLine(e);

        // Then
        Assert.StartsWith("#7 ", line, StringComparison.Ordinal);
        Assert.Contains("s-abcdefgh", line, StringComparison.Ordinal);
        Assert.Contains("session_exec", line, StringComparison.Ordinal);
        Assert.Contains(" ok ", line, StringComparison.Ordinal);
        Assert.Contains("exec $ echo 1 => exit 0", line, StringComparison.Ordinal);
    }

    [Fact]
    public void AMultiLineFailureStaysOnOneShortLine()
    {
        // Given a failed call with a two-line command and a long error
        var entry = HashChainTests.Entry(1) with
        {
            Arguments = """{"command":"echo a\necho b"}""",
            Outcome = AuditOutcomes.Error,
            Error = new string('x', 500),
        };

        // When
        var line = Transcript.RenderLine(new AuditEvent(1, entry, HashChain.Genesis, "hash"));

        // Then
        Assert.DoesNotContain('\n', line);
        Assert.Contains(@"echo a\necho b", line, StringComparison.Ordinal);
        Assert.Contains(" error ", line, StringComparison.Ordinal);
        Assert.True(line.Length < 250, line);
        Assert.EndsWith("…", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ALifecycleEventWithoutASessionShowsItsKind()
    {
        // Given an event that belongs to no session
        var entry = HashChainTests.Entry(1) with { SessionId = null, Kind = AuditKinds.SessionLost, Tool = null, Summary = """{"reason":"gone"}""" };

        // When
        var line = Transcript.RenderLine(new AuditEvent(3, entry, HashChain.Genesis, "hash"));

        // Then
        Assert.Contains(" - ", line, StringComparison.Ordinal);
        Assert.Contains("session_lost", line, StringComparison.Ordinal);
        Assert.Contains("""{"reason":"gone"}""", line, StringComparison.Ordinal);
    }
}
