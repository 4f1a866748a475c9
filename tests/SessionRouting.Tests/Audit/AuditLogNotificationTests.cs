using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class AuditLogNotificationTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void ListenersLearnOfEachEventOnceItIsCommittedAndAFailingListenerChangesNothing()
    {
        // Given a log with a listener that throws and one that reads the event back from the database
        var log = new AuditLog(_scratch.Database);
        var seen = new List<(long Seq, bool Stored)>();
        log.Appended += _ => throw new InvalidOperationException("a broken view");
        log.Appended += e => seen.Add((e.Seq, log.ReadRange(e.Seq, 1).SingleOrDefault()?.Hash == e.Hash));

        // When two events are appended
        var first = log.Append(HashChainTests.Entry(1));
        var second = log.Append(HashChainTests.Entry(2));

        // Then both appends succeeded, and the listener saw each, already stored, in order
        Assert.Equal([(first.Seq, true), (second.Seq, true)], seen);
        Assert.Equal((2L, (ChainBreak?)null), log.Verify());
    }

    public void Dispose() => _scratch.Dispose();
}
