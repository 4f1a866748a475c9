using System.Buffers.Binary;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>Which standard stream a frame belongs to; the values are the engine's header byte.</summary>
internal enum DockerStreamKind : byte
{
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,

    /// <summary>The engine reporting its own failure inside the stream (newer engines).</summary>
    SystemError = 3,
}

/// <summary>One frame of a multiplexed exec or attach stream. The payload is owned by the frame.</summary>
internal sealed record DockerFrame(DockerStreamKind Stream, ReadOnlyMemory<byte> Payload);

/// <summary>
/// Splits the engine's multiplexed stream (non-TTY exec and attach) into frames. Each frame is an 8-byte header
/// — stream kind, three zero bytes, payload length as big-endian uint32 — followed by the payload.
/// This is the only place that knows that layout.
/// </summary>
internal sealed class DockerStreamDemultiplexer(Stream source)
{
    public const int HeaderLength = 8;

    // The engine writes frames of at most 32 KiB; a far larger length means we are not reading frames at all.
    private const int MaxPayloadLength = 16 * 1024 * 1024;

    private readonly byte[] _header = new byte[HeaderLength];

    /// <summary>Reads the next frame; null when the stream ends cleanly between frames.</summary>
    /// <exception cref="EndOfStreamException">The stream ended inside a frame.</exception>
    /// <exception cref="InvalidDataException">The bytes are not a multiplexed stream (e.g. a TTY stream).</exception>
    public async ValueTask<DockerFrame?> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        var headerRead = await source.ReadAtLeastAsync(_header, HeaderLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (headerRead == 0)
        {
            return null;
        }

        if (headerRead < HeaderLength)
        {
            throw new EndOfStreamException($"Docker stream ended inside a frame header: got {headerRead} of {HeaderLength} bytes.");
        }

        var (kind, payloadLength) = ParseHeader(_header);
        if (payloadLength == 0)
        {
            return new DockerFrame(kind, ReadOnlyMemory<byte>.Empty);
        }

        var payload = new byte[payloadLength];
        var payloadRead = await source.ReadAtLeastAsync(payload, payloadLength, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (payloadRead < payloadLength)
        {
            throw new EndOfStreamException($"Docker stream ended inside a {kind} frame: got {payloadRead} of {payloadLength} payload bytes.");
        }

        return new DockerFrame(kind, payload);
    }

    /// <summary>Decodes one frame header.</summary>
    public static (DockerStreamKind Kind, int PayloadLength) ParseHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderLength)
        {
            throw new ArgumentException($"A frame header is {HeaderLength} bytes.", nameof(header));
        }

        if (header[0] > (byte)DockerStreamKind.SystemError || header[1] != 0 || header[2] != 0 || header[3] != 0)
        {
            throw new InvalidDataException(
                $"Not a multiplexed Docker stream: frame header starts {Convert.ToHexString(header[..4])} (was the exec started with a TTY?).");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (length > MaxPayloadLength)
        {
            throw new InvalidDataException($"Docker stream frame claims {length} payload bytes; more than {MaxPayloadLength} means the stream is not multiplexed.");
        }

        return ((DockerStreamKind)header[0], (int)length);
    }

    /// <summary>Writes a frame header; for tests and for anything that has to fake an engine stream.</summary>
    public static void WriteHeader(Span<byte> destination, DockerStreamKind kind, int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = (byte)kind;
        destination[1] = destination[2] = destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)payloadLength);
    }
}
