using SessionMcp.SessionRouting.Attention;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Attention;

public sealed class AttentionBoardTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly AttentionThresholds Thresholds = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));

    private static long _seq;

    private static AuditEvent Event(string kind, string? tool = null, string? arguments = null, string outcome = AuditOutcomes.Ok, string? summary = null, long durationMs = 5, DateTimeOffset? time = null, string session = "s-aaaaaaaa") =>
        new(++_seq, new AuditEntry(time ?? T0, session, kind, tool, null, arguments, outcome, null, summary, durationMs, null), HashChain.Genesis, "");

    private static AuditEvent Exec(string command, int? exitCode, long durationMs = 5, bool timedOut = false) =>
        Event(AuditKinds.ToolCall, "session_exec", $$"""{"command":"{{command}}"}""", summary: $$"""{"exit_code":{{(exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null")}},"timed_out":{{(timedOut ? "true" : "false")}}}""", durationMs: durationMs);

    [Theory]
    [InlineData(1, 5, AttentionReasons.CommandFailed)]
    [InlineData(0, 45_000, AttentionReasons.LongCommandFinished)]
    [InlineData(0, 5, null)]
    [InlineData(null, 45_000, null)] // still running as a job: its end will tell
    public void ACommandThatFailedOrRanLongRaisesAFlagAndAQuickSuccessDoesNot(int? exitCode, long durationMs, string? reason)
    {
        // Given a finished session_exec
        var e = Exec("make test", exitCode, durationMs);

        // When the rules look at it
        var flag = AttentionRules.FromEvent(e, Thresholds);

        // Then
        Assert.Equal(reason, flag?.Reason);
        if (flag is not null)
        {
            Assert.Contains("make test", flag.Detail, StringComparison.Ordinal);
            Assert.Equal(e.Seq, flag.Seq);
        }
    }

    [Fact]
    public void ALostSessionAFailedJobAndATimeoutAreFlaggedButAKilledJobIsNot()
    {
        // Given the events
        var lost = Event(AuditKinds.SessionLost, summary: """{"detail":"container was OOM-killed"}""");
        var failedJob = Event("job_ended", summary: """{"job_id":"j-abc","command":"npm test","exit_code":2,"killed":false}""");
        var killedJob = Event("job_ended", summary: """{"job_id":"j-def","command":"sleep 100","exit_code":null,"signal":9,"killed":true}""");
        var timedOut = Exec("sleep 999", -1, 120_000, timedOut: true);

        // Then
        Assert.Equal(AttentionReasons.SessionLost, AttentionRules.FromEvent(lost, Thresholds)!.Reason);
        Assert.Contains("OOM", AttentionRules.FromEvent(lost, Thresholds)!.Detail, StringComparison.Ordinal);
        Assert.Equal(AttentionReasons.CommandFailed, AttentionRules.FromEvent(failedJob, Thresholds)!.Reason);
        Assert.Equal("j-abc", AttentionRules.FromEvent(failedJob, Thresholds)!.JobId);
        Assert.Null(AttentionRules.FromEvent(killedJob, Thresholds));
        Assert.Contains("timed out", AttentionRules.FromEvent(timedOut, Thresholds)!.Detail, StringComparison.Ordinal);
        // And an OOM kill the container survived flags the session too
        var oom = Event(AuditKinds.SessionOom, summary: """{"detail":"a process was OOM-killed","oom":true}""");
        Assert.Contains("out of memory", AttentionRules.FromEvent(oom, Thresholds)!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AJobWaitingForInputIsFlaggedOncePerWaitAndClearedWhenItStopsWaiting()
    {
        // Given a board
        var board = new AttentionBoard(Thresholds);
        var raised = new List<AttentionFlag>();
        var cleared = new List<string>();
        board.Raised += raised.Add;
        board.Cleared += cleared.Add;

        // When a job is seen waiting on three polls, then not
        board.ObserveWaiting("s-1", "j-1", "read answer", true, T0);
        board.ObserveWaiting("s-1", "j-1", "read answer", true, T0.AddSeconds(1));
        board.ObserveWaiting("s-1", "j-1", "read answer", true, T0.AddSeconds(2));
        var whileWaiting = board.Of("s-1");
        board.ObserveWaiting("s-1", "j-1", "read answer", false, T0.AddSeconds(3));

        // Then one flag was raised, and dropped once the wait ended
        Assert.Single(raised);
        Assert.Equal(AttentionReasons.WaitingForInput, Assert.Single(whileWaiting).Reason);
        Assert.Empty(board.Of("s-1"));
        Assert.Equal(["s-1"], cleared);
    }

    [Fact]
    public void AnAgentThatWorkedAndWentQuietIsFlaggedIdleOnceAndAPersonLookingClearsIt()
    {
        // Given an agent's tool call in a session
        var board = new AttentionBoard(Thresholds);
        board.Observe(Exec("ls", 0));

        // When time passes: less than the idle time, then more, then more again
        board.Tick(T0.AddSeconds(30));
        var early = board.Of("s-aaaaaaaa").Count;
        board.Tick(T0.AddSeconds(61));
        board.Tick(T0.AddSeconds(200));
        var flags = board.Of("s-aaaaaaaa");
        board.Seen("s-aaaaaaaa");

        // Then it was flagged idle once, and looking cleared the flag
        Assert.Equal(0, early);
        Assert.Equal(AttentionReasons.AgentIdle, Assert.Single(flags).Reason);
        Assert.Empty(board.All());
    }

    [Fact]
    public void ADestroyedSessionLosesItsFlagsAndIsNeverFlaggedIdle()
    {
        // Given a session with a failed command
        var board = new AttentionBoard(Thresholds);
        board.Observe(Exec("false", 1));
        Assert.Single(board.Of("s-aaaaaaaa"));

        // When it is destroyed and time passes
        board.Observe(Event(AuditKinds.SessionDestroyed));
        board.Tick(T0.AddHours(1));

        // Then nothing is left
        Assert.Empty(board.All());
    }
}
