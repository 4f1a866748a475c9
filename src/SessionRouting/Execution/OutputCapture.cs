using System.Text;

namespace SessionMcp.SessionRouting.Execution;

/// <summary>
/// Accumulates one output stream of a command up to a byte cap. When more arrives than fits, the first half of the
/// cap (head) and the most recent half (rolling tail) are kept, so the end of a huge output — usually where the
/// error is — is never lost. Thread-safe: a reader thread appends while progress reporting reads <see cref="LatestLine"/>.
/// </summary>
internal sealed class OutputCapture
{
    private const int MaxLatestLineChars = 200;

    // Enough bytes to decode MaxLatestLineChars characters of any UTF-8 text plus leading whitespace.
    private const int LineBufferBytes = 1024;

    private readonly object _gate = new();
    private readonly int _headCapacity;
    private readonly int _tailCapacity;

    // Buffers grow on demand so a capture with a large cap costs nothing for a command that prints little.
    private byte[] _head = [];
    private int _headLength;
    private byte[] _tail = [];
    private long _tailWritten;

    private long _totalBytes;
    private string? _observedLine;

    // Bytes of the line currently being written (after the last line break), and of the last non-blank line that
    // was completed by a line break. Both keep only the first LineBufferBytes of a line.
    private readonly byte[] _currentLine = new byte[LineBufferBytes];
    private int _currentLineLength;
    private readonly byte[] _completedLine = new byte[LineBufferBytes];
    private int _completedLineLength;

    public OutputCapture(int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        _headCapacity = maxBytes / 2;
        _tailCapacity = maxBytes - _headCapacity;
    }

    public long TotalBytes
    {
        get { lock (_gate) { return _totalBytes; } }
    }

    /// <summary>True when more bytes arrived than were kept.</summary>
    public bool Capped
    {
        get { lock (_gate) { return _totalBytes > (long)_headCapacity + _tailCapacity; } }
    }

    /// <summary>The last non-empty line seen (complete or still being written), trimmed, at most 200 characters.</summary>
    public string? LatestLine
    {
        get
        {
            lock (_gate)
            {
                if (!IsBlank(_currentLine.AsSpan(0, _currentLineLength)))
                {
                    return DecodeLine(_currentLine.AsSpan(0, _currentLineLength));
                }

                return _completedLineLength > 0 ? DecodeLine(_completedLine.AsSpan(0, _completedLineLength)) : _observedLine;
            }
        }
    }

    /// <summary>
    /// For backends that receive a command's output only when it ends: the latest line seen while it runs, shown by
    /// <see cref="LatestLine"/> until real output arrives.
    /// </summary>
    public void ObserveLatestLine(string? line)
    {
        var trimmed = line?.Trim();
        lock (_gate)
        {
            _observedLine = string.IsNullOrEmpty(trimmed) ? _observedLine : trimmed[..Math.Min(trimmed.Length, MaxLatestLineChars)];
        }
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        lock (_gate)
        {
            _totalBytes += data.Length;
            TrackLines(data);

            var headPart = Math.Min(_headCapacity - _headLength, data.Length);
            if (headPart > 0)
            {
                EnsureCapacity(ref _head, _headLength + headPart, _headCapacity);
                data[..headPart].CopyTo(_head.AsSpan(_headLength));
                _headLength += headPart;
                data = data[headPart..];
            }

            if (!data.IsEmpty)
            {
                AppendToTail(data);
            }
        }
    }

    /// <summary>
    /// The captured text, decoded as UTF-8 (invalid sequences become U+FFFD). When capped, a marker line says how
    /// many bytes were dropped between the head and the tail.
    /// </summary>
    public string GetText()
    {
        lock (_gate)
        {
            var tailBytes = GetTailBytes();
            var dropped = _totalBytes - _headLength - tailBytes.Length;
            if (dropped <= 0)
            {
                // Head and tail are contiguous: decode them as one so a character across the seam stays whole.
                if (tailBytes.Length == 0)
                {
                    return Encoding.UTF8.GetString(_head, 0, _headLength);
                }

                var all = new byte[_headLength + tailBytes.Length];
                _head.AsSpan(0, _headLength).CopyTo(all);
                tailBytes.CopyTo(all.AsSpan(_headLength));
                return Encoding.UTF8.GetString(all);
            }

            // The cut points can split a multi-byte character: drop the fragments instead of showing U+FFFD.
            var head = Encoding.UTF8.GetString(WithoutIncompleteEnd(_head.AsSpan(0, _headLength)));
            var tail = WithoutContinuationStart(tailBytes);
            var builder = new StringBuilder(head.Length + tail.Length + 80);
            builder.Append(head);
            if (head.Length > 0 && head[^1] != '\n')
            {
                builder.Append('\n');
            }

            builder.Append("[... ").Append(dropped).Append(" bytes dropped by session-mcp capture limit ...]\n");
            builder.Append(Encoding.UTF8.GetString(tail));
            return builder.ToString();
        }
    }

    private void AppendToTail(ReadOnlySpan<byte> data)
    {
        if (_tailCapacity == 0)
        {
            _tailWritten += data.Length;
            return;
        }

        // Only the last _tailCapacity bytes of this chunk can survive; skip the rest without copying.
        if (data.Length > _tailCapacity)
        {
            _tailWritten += data.Length - _tailCapacity;
            data = data[^_tailCapacity..];
        }

        if (_tailWritten + data.Length <= _tailCapacity)
        {
            // Not wrapped yet: the ring is still a plain growing prefix.
            EnsureCapacity(ref _tail, (int)_tailWritten + data.Length, _tailCapacity);
        }
        else
        {
            EnsureCapacity(ref _tail, _tailCapacity, _tailCapacity);
        }

        var position = (int)(_tailWritten % _tailCapacity);
        var firstPart = Math.Min(data.Length, _tailCapacity - position);
        data[..firstPart].CopyTo(_tail.AsSpan(position));
        data[firstPart..].CopyTo(_tail.AsSpan(0));
        _tailWritten += data.Length;
    }

    private byte[] GetTailBytes()
    {
        if (_tailWritten <= _tailCapacity)
        {
            return _tail.AsSpan(0, (int)_tailWritten).ToArray();
        }

        var position = (int)(_tailWritten % _tailCapacity);
        var result = new byte[_tailCapacity];
        _tail.AsSpan(position).CopyTo(result);
        _tail.AsSpan(0, position).CopyTo(result.AsSpan(_tailCapacity - position));
        return result;
    }

    private static ReadOnlySpan<byte> WithoutIncompleteEnd(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(4, bytes.Length); back++)
        {
            var candidate = bytes[^back];
            if ((candidate & 0xC0) == 0x80)
            {
                continue; // continuation byte: keep looking for the lead byte
            }

            var sequenceLength = candidate switch
            {
                < 0x80 => 1,
                >= 0xF0 => 4,
                >= 0xE0 => 3,
                >= 0xC0 => 2,
                _ => 1,
            };
            return sequenceLength > back ? bytes[..^back] : bytes;
        }

        return bytes;
    }

    private static ReadOnlySpan<byte> WithoutContinuationStart(ReadOnlySpan<byte> bytes)
    {
        var skip = 0;
        while (skip < Math.Min(3, bytes.Length) && (bytes[skip] & 0xC0) == 0x80)
        {
            skip++;
        }

        return bytes[skip..];
    }

    private static void EnsureCapacity(ref byte[] buffer, int needed, int limit)
    {
        if (buffer.Length >= needed)
        {
            return;
        }

        var size = Math.Max(needed, (int)Math.Min((long)buffer.Length * 2, limit));
        size = Math.Max(size, Math.Min(4096, limit));
        Array.Resize(ref buffer, size);
    }

    private void TrackLines(ReadOnlySpan<byte> data)
    {
        var lastBreak = data.LastIndexOfAny((byte)'\n', (byte)'\r');
        if (lastBreak < 0)
        {
            AppendToCurrentLine(data);
            return;
        }

        // Walk back over the lines this chunk completes to find the last non-blank one.
        var completed = data[..lastBreak];
        var end = completed.Length;
        while (true)
        {
            var start = completed[..end].LastIndexOfAny((byte)'\n', (byte)'\r') + 1;
            var line = completed[start..end];
            if (start == 0)
            {
                // The first line of the chunk continues the line that was in progress.
                AppendToCurrentLine(line);
                if (!IsBlank(_currentLine.AsSpan(0, _currentLineLength)))
                {
                    _currentLine.AsSpan(0, _currentLineLength).CopyTo(_completedLine);
                    _completedLineLength = _currentLineLength;
                }

                break;
            }

            if (!IsBlank(line))
            {
                SetCompletedLine(line);
                break;
            }

            end = start - 1;
        }

        _currentLineLength = 0;
        AppendToCurrentLine(data[(lastBreak + 1)..]);
    }

    private void AppendToCurrentLine(ReadOnlySpan<byte> data)
    {
        var room = Math.Min(LineBufferBytes - _currentLineLength, data.Length);
        data[..room].CopyTo(_currentLine.AsSpan(_currentLineLength));
        _currentLineLength += room;
    }

    private void SetCompletedLine(ReadOnlySpan<byte> line)
    {
        var length = Math.Min(LineBufferBytes, line.Length);
        line[..length].CopyTo(_completedLine);
        _completedLineLength = length;
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\f\v"u8) < 0;

    private static string DecodeLine(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line).Trim();
        return text.Length <= MaxLatestLineChars ? text : text[..MaxLatestLineChars];
    }
}
