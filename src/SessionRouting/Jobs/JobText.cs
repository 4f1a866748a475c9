using System.Text;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>A journal read as text for a model: what tools return of a job's output.</summary>
internal static class JobText
{
    /// <summary>
    /// stdout and stderr interleaved in write order, decoded as UTF-8, with a marker where output was dropped. A
    /// character cut by the end of the read is left for the next one: the returned cursor stops before it.
    /// </summary>
    public static (string Text, long NextCursor) Interleaved(JournalRead read)
    {
        // The journal reports one gap per read; chunks before it were written before the dropped middle.
        var before = new List<byte>();
        var after = new List<byte>();
        foreach (var chunk in read.Chunks)
        {
            (read.Gap is { } gap && chunk.Offset >= gap.To ? after : before).AddRange(chunk.Bytes.Span);
        }
        var last = read.Gap is null ? before : after;
        var cut = read.Complete ? 0 : IncompleteTail(last);
        last.RemoveRange(last.Count - cut, cut);
        var text = Encoding.UTF8.GetString([.. before]);
        if (read.Gap is { } dropped)
        {
            text += GapMarker(dropped) + Encoding.UTF8.GetString([.. after]);
        }
        return (text, read.NextCursor - cut);
    }

    /// <summary>stdout and stderr apart, each decoded as UTF-8 (for a call that returns them as a command's result).</summary>
    public static (string Stdout, string Stderr) Separate(JournalRead read)
    {
        var stdout = new List<byte>();
        var stderr = new List<byte>();
        foreach (var chunk in read.Chunks)
        {
            (chunk.Stream == JobStream.Stdout ? stdout : stderr).AddRange(chunk.Bytes.Span);
        }
        var marker = read.Gap is { } gap ? GapMarker(gap) : "";
        return (marker + Encoding.UTF8.GetString([.. stdout]), Encoding.UTF8.GetString([.. stderr]));
    }

    /// <summary>How many bytes at the end start a UTF-8 sequence that is not complete yet (0-3).</summary>
    public static int IncompleteTail(IReadOnlyList<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(3, bytes.Count); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue; // a continuation byte: look further back for the lead
            }
            var length = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return length > back ? back : 0;
        }
        return 0;
    }

    private static string GapMarker(JournalGap gap) =>
        FormattableString.Invariant($"\n[... {gap.Length:N0} bytes of output not kept (bytes {gap.From:N0}-{gap.To:N0}) ...]\n");
}
