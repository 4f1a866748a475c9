using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class AuditLogPagingTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void ASessionsHistoryIsReadBackwardsAPageAtATime()
    {
        // Given two sessions' events interleaved: s-aaaaaaaa has seq 1, 3, 5, 7, 9
        var log = new AuditLog(_scratch.Database);
        for (var n = 1; n <= 10; n++)
        {
            log.Append(HashChainTests.Entry(n) with { SessionId = n % 2 == 1 ? "s-aaaaaaaa" : "s-bbbbbbbb" });
        }

        // When its newest two, then the two before those, then the rest are read
        var newest = log.ReadLast(2, "s-aaaaaaaa");
        var before = log.ReadLast(2, "s-aaaaaaaa", newest[0].Seq);
        var rest = log.ReadLast(2, "s-aaaaaaaa", before[0].Seq);

        // Then each page is oldest first and only that session's
        Assert.Equal([7L, 9L], newest.Select(e => e.Seq));
        Assert.Equal([3L, 5L], before.Select(e => e.Seq));
        Assert.Equal([1L], rest.Select(e => e.Seq));
    }

    public void Dispose() => _scratch.Dispose();
}
