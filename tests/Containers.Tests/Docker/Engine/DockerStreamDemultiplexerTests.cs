using System.Text;
using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Tests.Docker.Engine;

public sealed class DockerStreamDemultiplexerTests
{
    [Fact]
    public async Task FramesOfEachStreamAreReturnedInOrderThenNullAtTheEnd()
    {
        // Given
        var bytes = Frames((DockerStreamKind.Stdout, "out 1\n"), (DockerStreamKind.Stderr, "err\n"), (DockerStreamKind.Stdout, "out 2\n"));
        var demultiplexer = new DockerStreamDemultiplexer(new MemoryStream(bytes));

        // When
        var frames = await ReadAllAsync(demultiplexer);

        // Then
        Assert.Equal(
            new (DockerStreamKind, string)[] { (DockerStreamKind.Stdout, "out 1\n"), (DockerStreamKind.Stderr, "err\n"), (DockerStreamKind.Stdout, "out 2\n") },
            frames);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(9)]
    public async Task FramesSplitAcrossReadsAreReassembled(int bytesPerRead)
    {
        // Given: headers and payloads arrive in arbitrary small pieces
        var bytes = Frames((DockerStreamKind.Stdout, "hello"), (DockerStreamKind.Stderr, new string('x', 300)), (DockerStreamKind.Stdout, "ü€"));
        var demultiplexer = new DockerStreamDemultiplexer(new TricklingStream(bytes, bytesPerRead));

        // When
        var frames = await ReadAllAsync(demultiplexer);

        // Then
        Assert.Equal(
            new (DockerStreamKind, string)[] { (DockerStreamKind.Stdout, "hello"), (DockerStreamKind.Stderr, new string('x', 300)), (DockerStreamKind.Stdout, "ü€") },
            frames);
    }

    [Fact]
    public async Task AnEmptyStreamHasNoFrames()
    {
        // Given
        var demultiplexer = new DockerStreamDemultiplexer(new MemoryStream());

        // When
        var frame = await demultiplexer.ReadFrameAsync();

        // Then
        Assert.Null(frame);
    }

    [Fact]
    public async Task AZeroLengthFrameIsReturnedWithAnEmptyPayload()
    {
        // Given
        var demultiplexer = new DockerStreamDemultiplexer(new MemoryStream(Frames((DockerStreamKind.Stdout, ""))));

        // When
        var frame = await demultiplexer.ReadFrameAsync();

        // Then
        Assert.NotNull(frame);
        Assert.Equal(DockerStreamKind.Stdout, frame.Stream);
        Assert.True(frame.Payload.IsEmpty);
        Assert.Null(await demultiplexer.ReadFrameAsync());
    }

    [Fact]
    public async Task AStreamThatEndsInsideAPayloadIsReportedAsTruncated()
    {
        // Given: the header promises 10 bytes, only 4 arrive
        var whole = Frames((DockerStreamKind.Stdout, "0123456789"));
        var demultiplexer = new DockerStreamDemultiplexer(new TricklingStream(whole[..(DockerStreamDemultiplexer.HeaderLength + 4)], 3));

        // When
        var exception = await Assert.ThrowsAsync<EndOfStreamException>(async () => await demultiplexer.ReadFrameAsync());

        // Then
        Assert.Contains("4 of 10", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamThatEndsInsideAHeaderIsReportedAsTruncated()
    {
        // Given: one full frame, then 5 bytes of the next header
        var bytes = Frames((DockerStreamKind.Stdout, "ok"), (DockerStreamKind.Stderr, "lost"));
        var demultiplexer = new DockerStreamDemultiplexer(new MemoryStream(bytes[..(DockerStreamDemultiplexer.HeaderLength + 2 + 5)]));

        // When
        var first = await demultiplexer.ReadFrameAsync();
        var exception = await Assert.ThrowsAsync<EndOfStreamException>(async () => await demultiplexer.ReadFrameAsync());

        // Then
        Assert.Equal("ok", Encoding.UTF8.GetString(first!.Payload.Span));
        Assert.Contains("5 of 8", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawTtyOutputIsRejectedAsNotMultiplexed()
    {
        // Given: what a TTY exec sends, no frame headers at all
        var demultiplexer = new DockerStreamDemultiplexer(new MemoryStream("hello world\n"u8.ToArray()));

        // When
        var exception = await Assert.ThrowsAsync<InvalidDataException>(async () => await demultiplexer.ReadFrameAsync());

        // Then
        Assert.Contains("Not a multiplexed Docker stream", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHeaderCarriesTheStreamKindAndABigEndianLength()
    {
        // Given
        byte[] header = [2, 0, 0, 0, 0x00, 0x01, 0x02, 0x03];

        // When
        var (kind, length) = DockerStreamDemultiplexer.ParseHeader(header);

        // Then
        Assert.Equal(DockerStreamKind.Stderr, kind);
        Assert.Equal(0x010203, length);
    }

    internal static byte[] Frames(params (DockerStreamKind Kind, string Text)[] frames)
    {
        var output = new MemoryStream();
        Span<byte> header = stackalloc byte[DockerStreamDemultiplexer.HeaderLength];
        foreach (var (kind, text) in frames)
        {
            var payload = Encoding.UTF8.GetBytes(text);
            DockerStreamDemultiplexer.WriteHeader(header, kind, payload.Length);
            output.Write(header);
            output.Write(payload);
        }

        return output.ToArray();
    }

    private static async Task<List<(DockerStreamKind, string)>> ReadAllAsync(DockerStreamDemultiplexer demultiplexer)
    {
        var frames = new List<(DockerStreamKind, string)>();
        while (await demultiplexer.ReadFrameAsync() is { } frame)
        {
            frames.Add((frame.Stream, Encoding.UTF8.GetString(frame.Payload.Span)));
        }

        return frames;
    }

    /// <summary>Hands out at most a few bytes per read, like a slow socket.</summary>
    private sealed class TricklingStream(byte[] content, int bytesPerRead) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => content.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var count = Math.Min(Math.Min(buffer.Length, bytesPerRead), content.Length - _position);
            content.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
