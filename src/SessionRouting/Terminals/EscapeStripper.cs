using System.Text;

namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// Turns a terminal program's raw output into plain text as it streams, for reading output as a log rather than as a
/// screen. It runs the same <see cref="VtParser"/> as <see cref="TerminalScreen"/> and drops every escape sequence.
/// </summary>
/// <remarks>
/// The line being written is kept until a line feed ends it, so that what a terminal would overwrite is overwritten
/// here too: CR returns to the start of the line (so CR LF is just LF, and a progress bar redrawn with CR ends up as
/// its last state), BS steps back one character, EL (<c>CSI K</c>, <c>CSI 2 K</c>) erases to the end of the line or
/// the whole line. Tabs are kept as '\t'. Cursor movement, screen erases and the alternate screen are ignored: a
/// full-screen program's output comes out as the text it drew, in the order it drew it. A line longer than
/// <see cref="MaxLineLength"/> code points is emitted as it stands (without a line feed) and continues afresh.
/// </remarks>
internal sealed class EscapeStripper : IVtPerformer
{
    public const int MaxLineLength = 4096;

    private readonly VtParser _parser;
    private readonly StringBuilder _completed = new();

    // The current line as code points, and where the next one goes (at most _line.Count).
    private readonly List<int> _line = [];
    private int _column;

    public EscapeStripper()
    {
        _parser = new VtParser(this);
    }

    /// <summary>The line being written, not yet ended by a line feed (what a prompt waiting for input looks like).</summary>
    public string PendingLine => Text(_line);

    /// <summary>Applies <paramref name="bytes"/> and returns the text of the lines they completed, each ending in '\n'.</summary>
    public string Feed(ReadOnlySpan<byte> bytes)
    {
        _parser.Feed(bytes);
        if (_completed.Length == 0)
        {
            return "";
        }
        var text = _completed.ToString();
        _completed.Clear();
        if (_completed.Capacity > 64 * 1024)
        {
            _completed.Capacity = 1024; // one big chunk must not keep its buffer
        }
        return text;
    }

    /// <summary>Returns the pending line and starts a new one, for the end of the stream.</summary>
    public string Flush()
    {
        var text = PendingLine;
        _line.Clear();
        _column = 0;
        return text;
    }

    void IVtPerformer.Print(int codePoint) => Put(codePoint);

    void IVtPerformer.Execute(int control)
    {
        switch (control)
        {
            case 0x0A or 0x0B or 0x0C or 0x84 or 0x85: // LF, VT, FF, IND, NEL
                EndLine("\n");
                break;
            case 0x0D:
                _column = 0;
                break;
            case 0x08:
                _column = Math.Max(0, _column - 1);
                break;
            case 0x09:
                Put('\t');
                break;
            default:
                break;
        }
    }

    void IVtPerformer.EscDispatch(int intermediates, char final)
    {
        if (intermediates == 0 && final is 'D' or 'E')
        {
            EndLine("\n");
        }
    }

    void IVtPerformer.CsiDispatch(VtParams parameters, char prefix, int intermediates, char final)
    {
        if (final != 'K' || prefix != '\0' || intermediates != 0)
        {
            return;
        }
        if (parameters[0] == 0 && _column < _line.Count)
        {
            _line.RemoveRange(_column, _line.Count - _column);
        }
        else if (parameters[0] == 2)
        {
            // The cursor has not moved: what follows lands at the same column, after blanks (see Put).
            _line.Clear();
        }
    }

    void IVtPerformer.OscDispatch(ReadOnlySpan<char> data)
    {
    }

    void IVtPerformer.DcsDispatch(VtParams parameters, char prefix, int intermediates, char final, ReadOnlySpan<char> data)
    {
    }

    private void Put(int codePoint)
    {
        while (_line.Count < _column)
        {
            _line.Add(' ');
        }
        if (_column < _line.Count)
        {
            _line[_column] = codePoint;
        }
        else
        {
            _line.Add(codePoint);
        }
        _column++;
        if (_line.Count >= MaxLineLength)
        {
            EndLine("");
        }
    }

    private void EndLine(string terminator)
    {
        foreach (var codePoint in _line)
        {
            Append(_completed, codePoint);
        }
        _completed.Append(terminator);
        _line.Clear();
        _column = 0;
    }

    private static string Text(List<int> codePoints)
    {
        var builder = new StringBuilder(codePoints.Count);
        foreach (var codePoint in codePoints)
        {
            Append(builder, codePoint);
        }
        return builder.ToString();
    }

    private static void Append(StringBuilder builder, int codePoint)
    {
        if (codePoint < 0x10000)
        {
            builder.Append((char)codePoint);
        }
        else
        {
            Span<char> pair = stackalloc char[2];
            builder.Append(pair[..new Rune(codePoint).EncodeToUtf16(pair)]);
        }
    }
}
