using System.Diagnostics;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Tests.Audit;

public sealed class AuditHeadFileTests : IDisposable
{
    private readonly ScratchDatabase _scratch = new();

    private string HeadPath => Path.Combine(_scratch.Directory, AuditHeadFile.FileName);

    [Fact]
    public void EveryAppendRecordsTheNewHeadOutsideTheDatabase()
    {
        // Given a log that records its head
        using var file = new AuditHeadFile(HeadPath);
        var log = new AuditLog(_scratch.Database, file);
        Assert.Null(file.Read());

        // When events are appended
        log.Append(HashChainTests.Entry(1));
        var last = log.Append(HashChainTests.Entry(2));

        // Then the file holds the newest head, in one line of fixed width
        Assert.Equal(new AuditHead(last.Seq, last.Hash), file.Read());
        Assert.Equal(AuditHeadFile.Format(AuditHead.Empty).Length, new FileInfo(HeadPath).Length);
    }

    [Fact]
    public void TheRecordedHeadNeverMovesBack()
    {
        // Given a head recorded at event 9
        using var file = new AuditHeadFile(HeadPath);
        var newer = new AuditHead(9, new string('b', 64));
        file.Write(newer);

        // When an append that finished later writes an older head
        file.Write(new AuditHead(8, new string('a', 64)));

        // Then the newer one stays
        Assert.Equal(newer, file.Read());
    }

    [Theory]
    [InlineData("")]
    [InlineData("v1 12\n")]
    [InlineData("v2 0000000000000000012 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")]
    [InlineData("v1 0000000000000000012 XYZ\n")]
    public void AFileThatIsNotAHeadLineIsRefusedWithItsContent(string text)
    {
        // Given / When / Then
        var error = Assert.Throws<FormatException>(() => AuditHeadFile.Parse(text));
        Assert.Contains("not an audit head line", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RecordingTheHeadCostsMicroseconds()
    {
        // Given a head file already open (the server keeps it open)
        using var file = new AuditHeadFile(HeadPath);
        file.Write(new AuditHead(1, HashChain.Genesis));

        // When it is overwritten many times
        const int writes = 20_000;
        var started = Stopwatch.GetTimestamp();
        for (var n = 2; n < writes + 2; n++)
        {
            file.Write(new AuditHead(n, HashChain.Genesis));
        }
        var perWrite = Stopwatch.GetElapsedTime(started) / writes;

        // Then each write is far below the 0.1 ms the exec path may spend on it (generous for a loaded machine)
        Assert.True(perWrite < TimeSpan.FromMilliseconds(0.05), $"{perWrite.TotalMicroseconds:0.0} µs per head write");
    }

    public void Dispose() => _scratch.Dispose();
}
