using System.Buffers.Binary;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>The kinds of frame on disk: the two output streams and the job's end.</summary>
internal enum FrameKind : byte
{
    Stdout = JobStream.Stdout,
    Stderr = JobStream.Stderr,
    End = 3,
}

/// <summary>One frame's header as read from disk.</summary>
internal readonly record struct FrameHeader(FrameKind Kind, int Length, long Offset, long TimeMs)
{
    public int FrameSize => JournalFormat.FrameHeaderSize + Length;
}

/// <summary>
/// The journal's on-disk encoding (all integers little-endian). Pure: no IO.
/// </summary>
/// <remarks>
/// <para>The head file <c>&lt;path&gt;</c> starts with a 32-byte header: magic <c>SMJRNL01</c>, i64 job start (Unix
/// ms), i64 head bytes, i64 tail bytes (the limits it was created with, so a reopened journal keeps them). Each tail
/// segment <c>&lt;path&gt;.tail.&lt;n&gt;</c> starts with a 24-byte header: magic <c>SMJSEG01</c>, i64 n, i64 the
/// output offset of its first byte (known even while it holds no frame).</para>
/// <para>Then frames, each a 24-byte header and a payload: u8 kind (1 stdout, 2 stderr, 3 end), u8 and u16 zero,
/// i32 payload length, i64 offset (of the payload's first byte in the job's combined output; for the end frame the
/// total output), i64 time (ms since the job started). The end frame's 16-byte payload: i32 exit code
/// (<see cref="int.MinValue"/>: none), i32 signal (0: none), i32 flags (1 killed, 2 lost), i32 zero.</para>
/// <para>No checksum: a frame is written with one <c>pwrite</c>, so a server killed mid-append leaves at worst a short
/// last frame, which the length finds. Structure is checked instead (kind, zero bytes, length, offsets contiguous),
/// which also rejects the zero-filled tail a power loss can leave.</para>
/// </remarks>
internal static class JournalFormat
{
    public const int FileHeaderSize = 32;
    public const int SegmentHeaderSize = 24;
    public const int FrameHeaderSize = 24;
    public const int EndPayloadSize = 16;
    public const int EndFrameSize = FrameHeaderSize + EndPayloadSize;

    /// <summary>Larger appends are split: a frame then always fits the reader's block buffer.</summary>
    public const int MaxFramePayload = 64 * 1024;

    /// <summary>The largest frame; the size of the block a reader scans with.</summary>
    public const int MaxFrameSize = FrameHeaderSize + MaxFramePayload;

    private const int NoExitCode = int.MinValue;
    private const int KilledFlag = 1;
    private const int LostFlag = 2;

    public static ReadOnlySpan<byte> FileMagic => "SMJRNL01"u8;

    public static ReadOnlySpan<byte> SegmentMagic => "SMJSEG01"u8;

    public static void WriteFileHeader(Span<byte> destination, long startUnixMs, JournalLimits limits)
    {
        FileMagic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], startUnixMs);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], limits.HeadBytes);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], limits.TailBytes);
    }

    /// <returns>False when the bytes are not a journal head file's header.</returns>
    public static bool TryReadFileHeader(ReadOnlySpan<byte> source, out long startUnixMs, out JournalLimits? limits)
    {
        startUnixMs = 0;
        limits = null;
        if (source.Length < FileHeaderSize || !source.StartsWith(FileMagic))
        {
            return false;
        }

        startUnixMs = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        var head = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        var tail = BinaryPrimitives.ReadInt64LittleEndian(source[24..]);
        if (head is < 0 or > JournalLimits.MaxBytes || tail is < JournalLimits.MinTailBytes or > JournalLimits.MaxBytes)
        {
            return false;
        }

        limits = new JournalLimits(head, tail);
        return true;
    }

    public static void WriteSegmentHeader(Span<byte> destination, long number, long startOffset)
    {
        SegmentMagic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], number);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], startOffset);
    }

    public static bool TryReadSegmentHeader(ReadOnlySpan<byte> source, out long number, out long startOffset)
    {
        number = 0;
        startOffset = 0;
        if (source.Length < SegmentHeaderSize || !source.StartsWith(SegmentMagic))
        {
            return false;
        }

        number = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        startOffset = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        return number > 0 && startOffset >= 0;
    }

    public static void WriteFrameHeader(Span<byte> destination, FrameKind kind, int length, long offset, long timeMs)
    {
        destination[0] = (byte)kind;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], length);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], offset);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], timeMs);
    }

    /// <returns>False when the bytes cannot be a frame header this format writes.</returns>
    public static bool TryReadFrameHeader(ReadOnlySpan<byte> source, out FrameHeader header)
    {
        header = default;
        if (source.Length < FrameHeaderSize || source[1] != 0 || BinaryPrimitives.ReadUInt16LittleEndian(source[2..]) != 0)
        {
            return false;
        }

        var kind = (FrameKind)source[0];
        var length = BinaryPrimitives.ReadInt32LittleEndian(source[4..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(source[8..]);
        var time = BinaryPrimitives.ReadInt64LittleEndian(source[16..]);
        var lengthFits = kind switch
        {
            FrameKind.Stdout or FrameKind.Stderr => length is > 0 and <= MaxFramePayload,
            FrameKind.End => length == EndPayloadSize,
            _ => false,
        };
        if (!lengthFits || offset < 0 || time < 0)
        {
            return false;
        }

        header = new FrameHeader(kind, length, offset, time);
        return true;
    }

    public static void WriteEndPayload(Span<byte> destination, JobOutcome outcome)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, outcome.ExitCode ?? NoExitCode);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], outcome.Signal ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[8..], (outcome.Killed ? KilledFlag : 0) | (outcome.Lost ? LostFlag : 0));
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], 0);
    }

    public static JobOutcome ReadEndPayload(ReadOnlySpan<byte> source)
    {
        var exitCode = BinaryPrimitives.ReadInt32LittleEndian(source);
        var signal = BinaryPrimitives.ReadInt32LittleEndian(source[4..]);
        var flags = BinaryPrimitives.ReadInt32LittleEndian(source[8..]);
        return new JobOutcome(
            exitCode == NoExitCode ? null : exitCode,
            signal == 0 ? null : signal,
            (flags & KilledFlag) != 0,
            (flags & LostFlag) != 0);
    }
}
