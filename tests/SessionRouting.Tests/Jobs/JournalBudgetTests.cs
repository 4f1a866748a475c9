using Microsoft.Extensions.Logging.Abstractions;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

public sealed class JournalBudgetTests : IDisposable
{
    private static readonly JournalLimits Small = new(4096, 16384);

    /// <summary>What one journal with the small limits may take on disk.</summary>
    private static readonly long Job = Small.MaxDiskBytes;

    private readonly ScratchJournals _scratch = new();
    private readonly List<string> _evicted = [];

    [Fact]
    public void NewJobsGetTheFullLimitsWhileTheyFitAndAreChargedTheirBound()
    {
        // Given
        var budget = Budget(sessionJobs: 3, serverJobs: 5);

        // When
        var reservations = Enumerable.Range(0, 3).Select(i => Reserve(budget, "s", $"j{i}")).ToList();

        // Then
        Assert.All(reservations, r => Assert.Equal(Small, r.Limits));
        Assert.Equal(3 * Job, budget.SessionChargedBytes("s"));
        Assert.Equal(3 * Job, budget.ChargedBytes);
        Assert.Empty(_evicted);
    }

    [Fact]
    public void AnEndedJobIsChargedItsRealSizeAndARemovedOneNothing()
    {
        // Given
        var budget = Budget(sessionJobs: 3, serverJobs: 5);
        var reservation = Reserve(budget, "s", "j1");

        // When / Then
        reservation.Ended(1234);
        Assert.Equal(1234, budget.SessionChargedBytes("s"));
        reservation.Release();
        Assert.Equal(0, budget.SessionChargedBytes("s"));
        Assert.Equal(0, budget.ChargedBytes);
    }

    [Fact]
    public void TheSessionsOldestEndedJournalIsEvictedToMakeRoom()
    {
        // Given a full session where b ended before a
        var budget = Budget(sessionJobs: 3, serverJobs: 10);
        var a = Reserve(budget, "s", "a");
        var b = Reserve(budget, "s", "b");
        Reserve(budget, "s", "c");
        Reserve(budget, "other", "x").Ended(Job); // older than both, but another session's
        b.Ended(Job);
        a.Ended(Job);

        // When
        var d = Reserve(budget, "s", "d");

        // Then only b went, and d got the full limits
        Assert.Equal(["b"], _evicted);
        Assert.Equal(Small, d.Limits);
        Assert.Equal(3 * Job, budget.SessionChargedBytes("s"));
    }

    [Fact]
    public void TheServerCapEvictsTheOldestEndedJournalOfAnySession()
    {
        // Given a server full with s1's ended jobs and s2's running ones
        var budget = Budget(sessionJobs: 3, serverJobs: 5);
        Reserve(budget, "s1", "old").Ended(Job);
        Reserve(budget, "s1", "newer").Ended(Job);
        Enumerable.Range(0, 3).ToList().ForEach(i => Reserve(budget, "s2", $"run{i}"));

        // When a third session starts a job
        var job = Reserve(budget, "s3", "new");

        // Then s1's oldest ended journal made room
        Assert.Equal(["old"], _evicted);
        Assert.Equal(Small, job.Limits);
        Assert.Equal(5 * Job, budget.ChargedBytes);
    }

    [Fact]
    public void RunningJobsAreNeverEvictedANewJobShrinksThenIsRefused()
    {
        // Given two running jobs in a session with room for two and a half
        var budget = Budget(sessionJobs: 2.5, serverJobs: 10);
        Reserve(budget, "s", "a");
        Reserve(budget, "s", "b");

        // When a third and a fourth job start
        var third = Reserve(budget, "s", "c");
        var error = Assert.Throws<JournalBudgetException>(() => Reserve(budget, "s", "d"));

        // Then the third got what was left, the fourth an error that says what to do, and nothing was evicted
        Assert.True(third.Limits.MaxDiskBytes <= Job / 2, $"{third.Limits} takes {third.Limits.MaxDiskBytes}");
        Assert.True(third.Limits.TailBytes > third.Limits.HeadBytes);
        Assert.Contains("Session s", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 running job(s)", error.Message, StringComparison.Ordinal);
        Assert.Contains("kill", error.Message, StringComparison.Ordinal);
        Assert.Empty(_evicted);
        Assert.True(budget.SessionChargedBytes("s") <= (long)(2.5 * Job));
    }

    [Fact]
    public void AJournalFoundAtStartUpIsChargedAndEvictable()
    {
        // Given an ended journal from before a restart, filling the session
        var budget = Budget(sessionJobs: 1, serverJobs: 10);
        budget.Adopt("s", Small, Job, ended: true, () => _evicted.Add("found"));

        // When
        var job = Reserve(budget, "s", "new");

        // Then
        Assert.Equal(["found"], _evicted);
        Assert.Equal(Small, job.Limits);
    }

    [Fact]
    public void EvictionDeletesTheJournalsFiles()
    {
        // Given a real journal that filled its limits and ended
        var budget = Budget(sessionJobs: 1, serverJobs: 10);
        JobJournal? first = null;
        var reservation = budget.Reserve("s", () => first!.Delete());
        first = _scratch.Create("first", reservation.Limits);
        first.Append(JobStream.Stdout, ScratchJournals.Pattern(0, 100_000));
        first.MarkEnded(JobOutcome.Exited(0));
        Assert.InRange(first.DiskBytes, 1, reservation.Limits.MaxDiskBytes);
        reservation.Ended(first.DiskBytes);

        // When another job needs the room
        budget.Reserve("s", () => { });

        // Then
        Assert.Empty(_scratch.FilesOf("first"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1_000L)]
    [InlineData(3_000L)]
    [InlineData(10_000L)]
    [InlineData(1_000_000L)]
    [InlineData(6_000_000L)]
    public void ShrunkLimitsStayWithinTheRoomGiven(long room)
    {
        // Given / When
        var shrunk = JournalLimits.Default.ShrunkToFit(room);

        // Then
        if (shrunk is null)
        {
            Assert.True(room < new JournalLimits(0, JournalLimits.MinTailBytes).MaxDiskBytes);
        }
        else
        {
            Assert.InRange(shrunk.MaxDiskBytes, 1, Math.Max(room, 1));
            Assert.True(shrunk.MaxDiskBytes > room * 0.8 || room > JournalLimits.Default.MaxDiskBytes, $"{shrunk} wastes room");
        }
    }

    [Fact]
    public void SettingsTheBudgetCannotWorkWithAreRejected()
    {
        // Given
        var options = new JournalOptions { TailBytes = 10, SessionBytes = 1L << 30, ServerBytes = 1L << 20 };

        // When
        var result = new JournalOptionsValidator().Validate(null, options);

        // Then
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("TailBytes", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("ServerBytes", StringComparison.Ordinal));
        Assert.True(new JournalOptionsValidator().Validate(null, new JournalOptions()).Succeeded);
    }

    public void Dispose() => _scratch.Dispose();

    private static JournalBudget Budget(double sessionJobs, double serverJobs) => new(
        new JournalOptions
        {
            HeadBytes = Small.HeadBytes,
            TailBytes = Small.TailBytes,
            SessionBytes = (long)(sessionJobs * Job),
            ServerBytes = (long)(serverJobs * Job),
            MinJobBytes = 2000,
        },
        NullLogger<JournalBudget>.Instance);

    private JournalReservation Reserve(JournalBudget budget, string session, string job) =>
        budget.Reserve(session, () => _evicted.Add(job));
}
