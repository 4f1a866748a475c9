using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>
/// One file of a journal (the head file or a tail segment): frames appended with one <c>pwrite</c> each, read back by
/// output offset. Not thread-safe: <see cref="JobJournal"/> calls it under its lock.
/// </summary>
/// <remarks>
/// Finding a cursor's frame uses a sparse index: the first frame at or after every <see cref="CheckpointStride"/>
/// bytes of file, so a read scans at most that much to reach its cursor, and the index costs 16 bytes per 32 KiB kept.
/// </remarks>
internal sealed class JournalFile : IDisposable
{
    private const int CheckpointStride = 32 * 1024;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly FileStream _stream;
    private readonly List<(long Offset, long Position)> _checkpoints = [];
    private long _nextCheckpoint;

    private JournalFile(string path, FileStream stream, int headerSize, long number, long startOffset)
    {
        Path = path;
        _stream = stream;
        HeaderSize = headerSize;
        Number = number;
        StartOffset = startOffset;
        EndOffset = startOffset;
        Length = headerSize;
        _nextCheckpoint = headerSize + CheckpointStride;
    }

    /// <summary>Where an end frame found on recovery sits, and what it says.</summary>
    internal readonly record struct RecoveredEnd(JobOutcome Outcome, long Offset, long TimeMs);

    /// <summary>Frames in order; return false to stop.</summary>
    private delegate bool FrameVisitor(in FrameHeader header, long position, ReadOnlySpan<byte> payload);

    public string Path { get; }

    private SafeFileHandle Handle => _stream.SafeFileHandle;

    /// <summary>0 for the head file, the segment's number otherwise.</summary>
    public long Number { get; }

    public int HeaderSize { get; }

    /// <summary>The output offset of the first byte this file holds (or will hold).</summary>
    public long StartOffset { get; }

    /// <summary>The output offset after the last byte this file holds.</summary>
    public long EndOffset { get; private set; }

    /// <summary>The file's size: everything written and recovered, nothing torn.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes of frames (what the limits count).</summary>
    public long DataBytes => Length - HeaderSize;

    /// <summary>The largest frame time recovered (for a reopened journal's clock, which never runs backwards).</summary>
    public long LastTimeMs { get; private set; }

    public static JournalFile CreateHead(string path, long startUnixMs, JournalLimits limits)
    {
        Span<byte> header = stackalloc byte[JournalFormat.FileHeaderSize];
        JournalFormat.WriteFileHeader(header, startUnixMs, limits);
        return Create(path, header, 0, 0);
    }

    public static JournalFile CreateSegment(string path, long number, long startOffset)
    {
        Span<byte> header = stackalloc byte[JournalFormat.SegmentHeaderSize];
        JournalFormat.WriteSegmentHeader(header, number, startOffset);
        return Create(path, header, number, startOffset);
    }

    /// <summary>
    /// Opens a head file and recovers it: frames after the last whole, consistent one (a write torn by a kill) are
    /// truncated away.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a journal.</exception>
    public static JournalFile OpenHead(string path, out long startUnixMs, out JournalLimits limits, out RecoveredEnd? end)
    {
        var stream = OpenExisting(path);
        try
        {
            Span<byte> header = stackalloc byte[JournalFormat.FileHeaderSize];
            if (RandomAccess.Read(stream.SafeFileHandle, header, 0) < header.Length
                || !JournalFormat.TryReadFileHeader(header, out startUnixMs, out var read))
            {
                throw new InvalidDataException($"{path} is not a job journal (no valid header)");
            }

            limits = read!;
            var file = new JournalFile(path, stream, JournalFormat.FileHeaderSize, 0, 0);
            end = file.Recover(allowEnd: true);
            return file;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens and recovers a tail segment; null (the file closed) when its header is torn or not a segment's.</summary>
    public static JournalFile? OpenSegment(string path)
    {
        var stream = OpenExisting(path);
        Span<byte> header = stackalloc byte[JournalFormat.SegmentHeaderSize];
        if (RandomAccess.Read(stream.SafeFileHandle, header, 0) < header.Length
            || !JournalFormat.TryReadSegmentHeader(header, out var number, out var startOffset))
        {
            stream.Dispose();
            return null;
        }

        var file = new JournalFile(path, stream, JournalFormat.SegmentHeaderSize, number, startOffset);
        file.Recover(allowEnd: false);
        return file;
    }

    /// <summary>Appends one output frame. The caller keeps <paramref name="payload"/> within the limits.</summary>
    public void AppendOutput(JobStream stream, ReadOnlySpan<byte> payload, long offset, long timeMs)
    {
        WriteFrame((FrameKind)stream, payload, offset, timeMs);
        AddCheckpoint(offset, Length);
        EndOffset = offset + payload.Length;
        Length += JournalFormat.FrameHeaderSize + payload.Length;
    }

    /// <summary>Appends the end frame; <paramref name="totalBytes"/> is the job's whole output, kept or not.</summary>
    public void AppendEnd(JobOutcome outcome, long totalBytes, long timeMs)
    {
        Span<byte> payload = stackalloc byte[JournalFormat.EndPayloadSize];
        JournalFormat.WriteEndPayload(payload, outcome);
        WriteFrame(FrameKind.End, payload, totalBytes, timeMs);
        Length += JournalFormat.EndFrameSize;
    }

    /// <summary>
    /// Adds the bytes from <paramref name="cursor"/> on (within this file) to <paramref name="collector"/> until it is
    /// full or the file ends.
    /// </summary>
    public void Read(long cursor, ChunkCollector collector)
    {
        var start = FindCheckpoint(cursor);
        Scan(start, Length, (in FrameHeader header, long _, ReadOnlySpan<byte> payload) =>
        {
            if (header.Kind == FrameKind.End || header.Offset + header.Length <= cursor)
            {
                return true;
            }

            var skip = (int)Math.Max(0, cursor - header.Offset);
            return collector.Add((JobStream)header.Kind, header.Offset + skip, header.TimeMs, payload[skip..]);
        });
    }

    /// <summary>Pushes what was written from the page cache to the disk (survives a power loss, not only a kill).</summary>
    public void FlushToDisk() => RandomAccess.FlushToDisk(Handle);

    public void Delete()
    {
        _stream.Dispose();
        File.Delete(Path);
    }

    public void Dispose() => _stream.Dispose();

    private static JournalFile Create(string path, ReadOnlySpan<byte> header, long number, long startOffset)
    {
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 0, // every frame goes to the kernel at once: nothing to lose in a user-space buffer
            UnixCreateMode = OwnerOnly, // command output can hold secrets
        });
        try
        {
            RandomAccess.Write(stream.SafeFileHandle, header, 0);
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }

        return new JournalFile(path, stream, header.Length, number, startOffset);
    }

    private static FileStream OpenExisting(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.Open,
        Access = FileAccess.ReadWrite,
        Share = FileShare.Read | FileShare.Delete,
        BufferSize = 0,
    });

    private void WriteFrame(FrameKind kind, ReadOnlySpan<byte> payload, long offset, long timeMs)
    {
        // Header and payload in one buffer and one pwrite: a kill can shorten the last frame but never split it
        // into a header without its bytes at a position where the next frame would then start.
        var size = JournalFormat.FrameHeaderSize + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            JournalFormat.WriteFrameHeader(buffer, kind, payload.Length, offset, timeMs);
            payload.CopyTo(buffer.AsSpan(JournalFormat.FrameHeaderSize));
            RandomAccess.Write(Handle, buffer.AsSpan(0, size), Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Walks the frames on disk, keeps the whole and consistent ones (offsets contiguous from <see cref="StartOffset"/>,
    /// at most one end frame and nothing after it), rebuilds the index and truncates the rest.
    /// </summary>
    private RecoveredEnd? Recover(bool allowEnd)
    {
        var size = RandomAccess.GetLength(Handle);
        var expected = StartOffset;
        var lastTime = 0L;
        RecoveredEnd? end = null;
        var valid = Scan(HeaderSize, size, (in FrameHeader header, long position, ReadOnlySpan<byte> payload) =>
        {
            if (end is not null || header.TimeMs < lastTime)
            {
                return false;
            }

            if (header.Kind == FrameKind.End)
            {
                if (!allowEnd || header.Offset < expected)
                {
                    return false;
                }

                end = new RecoveredEnd(JournalFormat.ReadEndPayload(payload), header.Offset, header.TimeMs);
                lastTime = header.TimeMs;
                return true;
            }

            if (header.Offset != expected)
            {
                return false;
            }

            AddCheckpoint(header.Offset, position);
            expected += header.Length;
            lastTime = header.TimeMs;
            return true;
        });

        if (valid < size)
        {
            RandomAccess.SetLength(Handle, valid);
        }

        Length = valid;
        EndOffset = expected;
        LastTimeMs = lastTime;
        return end;
    }

    private void AddCheckpoint(long offset, long position)
    {
        if (position < _nextCheckpoint)
        {
            return;
        }

        _checkpoints.Add((offset, position));
        _nextCheckpoint = position + CheckpointStride;
    }

    /// <summary>The position of the last indexed frame that starts at or before <paramref name="cursor"/>.</summary>
    private long FindCheckpoint(long cursor)
    {
        int low = 0, high = _checkpoints.Count - 1;
        var position = (long)HeaderSize;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            if (_checkpoints[middle].Offset <= cursor)
            {
                position = _checkpoints[middle].Position;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return position;
    }

    /// <summary>
    /// Reads frames from <paramref name="from"/> up to <paramref name="limit"/> a block at a time.
    /// </summary>
    /// <returns>Where the first frame not visited starts: the visitor stopped there, it is torn or malformed, or the limit.</returns>
    private long Scan(long from, long limit, FrameVisitor visit)
    {
        var block = ArrayPool<byte>.Shared.Rent(JournalFormat.MaxFrameSize);
        try
        {
            var blockStart = from;
            var blockLength = 0;
            var position = from;
            while (position < limit)
            {
                var at = (int)(position - blockStart);
                if (!TryFrame(block, at, blockLength, out var header))
                {
                    // The frame is not (whole) in the block: refill from it. A frame always fits a block, so if it
                    // is still not whole, the file ends inside it.
                    blockStart = position;
                    blockLength = ReadBlock(block, position, limit);
                    at = 0;
                    if (!TryFrame(block, at, blockLength, out header))
                    {
                        return position;
                    }
                }

                var payload = block.AsSpan(at + JournalFormat.FrameHeaderSize, header.Length);
                if (!visit(header, position, payload))
                {
                    return position;
                }

                position += header.FrameSize;
            }

            return position;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }
    }

    private static bool TryFrame(byte[] block, int at, int blockLength, out FrameHeader header)
    {
        header = default;
        return blockLength - at >= JournalFormat.FrameHeaderSize
            && JournalFormat.TryReadFrameHeader(block.AsSpan(at, JournalFormat.FrameHeaderSize), out header)
            && blockLength - at >= header.FrameSize;
    }

    private int ReadBlock(byte[] block, long position, long limit)
    {
        var wanted = (int)Math.Min(JournalFormat.MaxFrameSize, limit - position);
        var total = 0;
        while (total < wanted)
        {
            var read = RandomAccess.Read(Handle, block.AsSpan(total, wanted - total), position + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}

/// <summary>
/// Gathers the bytes of one read into one buffer of at most the bytes asked for, merging consecutive bytes of the same
/// stream into one chunk (a frame split at a file boundary, or many small writes, read back as one run).
/// </summary>
internal sealed class ChunkCollector(int capacity)
{
    private readonly byte[] _buffer = capacity == 0 ? [] : new byte[capacity];
    private readonly List<(JobStream Stream, long Offset, long TimeMs, int Start, int Length)> _runs = [];
    private int _used;

    public bool HasRoom => _used < _buffer.Length;

    /// <summary>The output offset after the last byte gathered; null before the first.</summary>
    public long? EndOffset => _runs.Count == 0 ? null : _runs[^1].Offset + _runs[^1].Length;

    /// <summary>Takes as much of <paramref name="bytes"/> as fits.</summary>
    /// <returns>Whether there is room for more.</returns>
    public bool Add(JobStream stream, long offset, long timeMs, ReadOnlySpan<byte> bytes)
    {
        var count = Math.Min(bytes.Length, _buffer.Length - _used);
        if (count == 0)
        {
            return HasRoom;
        }

        bytes[..count].CopyTo(_buffer.AsSpan(_used));
        if (_runs.Count > 0 && _runs[^1] is var last && last.Stream == stream && last.Offset + last.Length == offset)
        {
            _runs[^1] = last with { Length = last.Length + count };
        }
        else
        {
            _runs.Add((stream, offset, timeMs, _used, count));
        }

        _used += count;
        return HasRoom;
    }

    public IReadOnlyList<JournalChunk> ToChunks() =>
        _runs.Select(r => new JournalChunk(r.Stream, r.Offset, r.TimeMs, _buffer.AsMemory(r.Start, r.Length))).ToArray();
}
