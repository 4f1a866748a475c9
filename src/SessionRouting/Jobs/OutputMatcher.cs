using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>Where a pattern matched: output bytes <c>[Offset, EndOffset)</c> and the text they decode to.</summary>
internal sealed record OutputMatch(long Offset, long EndOffset, string Text);

/// <summary>
/// Finds the first match of a pattern in output that arrives in pieces, including a match split across pieces, in
/// time linear in the output: each piece is searched together with the last <see cref="OverlapBytes"/> already
/// searched, not with everything since the start.
/// </summary>
/// <remarks>
/// <para>The bound: a match up to <see cref="OverlapBytes"/> long is found however the output was split; a longer one
/// only if little enough of it came before the piece that completes it. The cut is invisible to shorter matches: for
/// <c>^</c> or <c>\b</c> to see the cut as a line or word start, the match would have to start there and reach the
/// new piece, i.e. be longer than the overlap.</para>
/// <para>Bytes are decoded as UTF-8 (invalid ones as U+FFFD); a character split between pieces waits for its
/// remaining bytes. Deterministic and free of IO and clocks: <see cref="JobWait"/> feeds it.</para>
/// </remarks>
internal sealed class OutputMatcher
{
    /// <summary>Already-searched bytes kept for matches that span pieces (16 KiB).</summary>
    public const int OverlapBytes = 16 * 1024;

    private readonly Regex _pattern;

    // The searched bytes kept (overlap) followed by the bytes of an incomplete last character (not searched yet).
    private byte[] _kept = [];
    private int _keptLength;
    private int _searchedLength;
    private long _keptOffset = -1;

    public OutputMatcher(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        _pattern = pattern;
    }

    /// <summary>
    /// Searches <paramref name="bytes"/>, the output at <paramref name="offset"/>, with what came before it. Output that
    /// does not follow the previous piece (after a gap) starts afresh.
    /// </summary>
    /// <returns>The first match that ends in this piece; null when there is none yet. After a match the matcher has
    /// done its job: a new wait takes a new one.</returns>
    public OutputMatch? Feed(long offset, ReadOnlySpan<byte> bytes)
    {
        if (_keptOffset < 0 || offset != _keptOffset + _keptLength)
        {
            Reset();
            _keptOffset = offset;
        }

        if (bytes.IsEmpty)
        {
            return null;
        }

        var length = _keptLength + bytes.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var chars = ArrayPool<char>.Shared.Rent(length);
        try
        {
            _kept.AsSpan(0, _keptLength).CopyTo(buffer);
            bytes.CopyTo(buffer.AsSpan(_keptLength));
            var all = buffer.AsSpan(0, length);
            var complete = all[..CompleteLength(all)];

            var searchedChars = Encoding.UTF8.GetCharCount(all[.._searchedLength]);
            var text = chars.AsSpan(0, Encoding.UTF8.GetChars(complete, chars));
            foreach (var match in _pattern.EnumerateMatches(text))
            {
                // A match inside the overlap alone was there last time too; only one that reaches new text is new.
                if (match.Index + match.Length > searchedChars || (match.Length == 0 && match.Index >= searchedChars))
                {
                    var start = ByteIndex(complete, match.Index);
                    var end = start + ByteIndex(complete[start..], match.Length);
                    return new OutputMatch(_keptOffset + start, _keptOffset + end, new string(text.Slice(match.Index, match.Length)));
                }
            }

            Keep(all, complete.Length);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>Forgets what came before (the next piece does not follow it).</summary>
    public void Reset()
    {
        _keptLength = 0;
        _searchedLength = 0;
        _keptOffset = -1;
    }

    /// <summary>Keeps the last <see cref="OverlapBytes"/> searched bytes (from a character start) and the unsearched rest.</summary>
    private void Keep(ReadOnlySpan<byte> all, int searched)
    {
        var from = Math.Max(0, searched - OverlapBytes);
        while (from > 0 && from < searched && (all[from] & 0xC0) == 0x80)
        {
            from++; // never start inside a character
        }

        var keep = all[from..];
        if (_kept.Length < keep.Length)
        {
            _kept = new byte[Math.Max(keep.Length, Math.Min(2 * _kept.Length, OverlapBytes + 4))];
        }

        keep.CopyTo(_kept);
        _keptOffset += from;
        _keptLength = keep.Length;
        _searchedLength = searched - from;
    }

    /// <summary>The length without a trailing incomplete (but so far valid) UTF-8 sequence.</summary>
    private static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var candidate = bytes[^back];
            if ((candidate & 0xC0) == 0x80)
            {
                continue; // a continuation byte: look further back for the lead byte
            }

            var needed = candidate switch
            {
                >= 0xF0 and <= 0xF4 => 4,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xC2 and <= 0xDF => 2,
                _ => 1,
            };
            return needed > back ? bytes.Length - back : bytes.Length;
        }

        return bytes.Length;
    }

    /// <summary>How many bytes of <paramref name="bytes"/> decode to the first <paramref name="chars"/> UTF-16 chars.</summary>
    private static int ByteIndex(ReadOnlySpan<byte> bytes, int chars)
    {
        var position = 0;
        while (chars > 0 && position < bytes.Length)
        {
            // Same replacement rules as Encoding.UTF8: an invalid sequence is one U+FFFD of the bytes it spans.
            Rune.DecodeFromUtf8(bytes[position..], out var rune, out var consumed);
            chars -= rune.Utf16SequenceLength;
            position += consumed;
        }

        return position;
    }
}
