using System.Globalization;
using System.Text;

namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// A VT100/xterm screen fed with a program's raw output, for showing an agent what a person would see in the
/// terminal. It is the <see cref="IVtPerformer"/> of its own <see cref="VtParser"/>, and follows xterm.js (the
/// reference its tests compare with) where terminals disagree.
/// </summary>
/// <remarks>
/// Text only: SGR attributes are parsed and dropped. No scrollback (what scrolls off the top is gone; the stream read
/// mode keeps the history) and no reflow on resize. Not thread-safe: the owner serialises calls.
/// Memory: one <c>int</c> per cell and one small object per row (about 10 KB for 80×24); the alternate screen exists
/// only while it is shown.
/// </remarks>
internal sealed partial class TerminalScreen : IVtPerformer
{
    public const int MaxColumns = 1000;
    public const int MaxRows = 500;

    /// <summary>Longer window titles are cut: the title is shown to a model, not stored for its own sake.</summary>
    public const int MaxTitleLength = 256;

    /// <summary>Replies to device queries (DSR, DA) kept for a caller that writes them back; more are dropped.</summary>
    public const int MaxResponseLength = 1024;

    // A cell: 0 when empty, else a code point with flags. A wide character takes two cells: the lead (Wide) and a
    // spacer; a base with combining marks keeps its text in its line's Clusters, the cell holding the index.
    private const int CodePointMask = 0x1FFFFF;
    private const int WideFlag = 0x200000;
    private const int SpacerFlag = 0x400000;
    private const int ClusterFlag = 0x800000;

    // Combining marks a cell takes before further ones are dropped (zalgo text must not grow a cell without bound).
    private const int MaxClusterLength = 32;

    // DEC Special Graphics for 0x60..0x7E (ESC ( 0): the VT100 line-drawing set as Unicode.
    private const string DecSpecialGraphics = "◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·";

    private readonly VtParser _parser;
    private int _columns;
    private int _rows;

    private Grid _normal;
    private Grid? _alternate;

    // xterm.js keeps the alternate screen's saved cursor across visits, though not its contents.
    private SavedCursor _alternateSaved = SavedCursor.Home;

    // One cursor for both screens, as in xterm. Column is at most _columns - 1; after a character in the last column
    // the cursor stays there with _pendingWrap set, and the next character wraps first.
    private int _x;
    private int _y;
    private bool _pendingWrap;

    private bool _autoWrap = true;
    private bool _originMode;
    private bool _insertMode;
    private bool _cursorVisible = true;

    // Character sets G0..G3 as their designating final ('B' ASCII, '0' DEC Special Graphics), which one is invoked
    // into GL, and the set printing uses.
    private Charsets _charsets = Charsets.Default;

    // The last graphic character printed (with the combining marks it got), for REP; -1 after anything else.
    private int _lastGraphic = -1;
    private string? _lastMarks;

    private StringBuilder? _responses;

    // Change tracking: a row changed after token T when its line's Version > T. Touching a line stamps it with
    // _version; handing out a token moves _version past it.
    private long _version = 1;

    /// <summary>A blank screen of <paramref name="columns"/>×<paramref name="rows"/> cells.</summary>
    public TerminalScreen(int columns, int rows)
    {
        CheckSize(columns, rows);
        _columns = columns;
        _rows = rows;
        _normal = new Grid(columns, rows);
        _parser = new VtParser(this);
    }

    public int Columns => _columns;

    public int Rows => _rows;

    /// <summary>The window title last set by OSC 0 or OSC 2 (at most <see cref="MaxTitleLength"/> characters).</summary>
    public string Title { get; private set; } = "";

    private Grid Active => _alternate ?? _normal;

    /// <summary>Applies a chunk of the program's output; a UTF-8 sequence or escape sequence may continue in the next chunk.</summary>
    public void Feed(ReadOnlySpan<byte> bytes) => _parser.Feed(bytes);

    /// <summary>
    /// Replies the terminal owes the program (cursor position reports, device attributes), in order, since the last
    /// call; empty when there are none.
    /// </summary>
    public string TakeResponses()
    {
        if (_responses is null)
        {
            return "";
        }
        var text = _responses.ToString();
        _responses = null;
        return text;
    }

    /// <summary>
    /// Changes the size without reflow: rows are cut at the right or padded. When rows shrink, rows below the cursor go
    /// first, then rows above it, so the cursor's row stays on screen (for the normal screen while the alternate one is
    /// shown, the row of the cursor it will restore). The scroll regions reset and the cursor is kept inside.
    /// </summary>
    public void Resize(int columns, int rows)
    {
        CheckSize(columns, rows);
        if (columns == _columns && rows == _rows)
        {
            return;
        }
        _y = _normal.Resize(columns, rows, _alternate is null ? _y : _normal.Saved.Y, _alternate is null, _y);
        if (_alternate is not null)
        {
            _y = _alternate.Resize(columns, rows, _y, true, _y);
        }
        _columns = columns;
        _rows = rows;
        _x = Math.Min(_x, columns - 1);
        _y = Math.Clamp(_y, 0, rows - 1);
        _pendingWrap = false;
        TouchAll(_normal);
        if (_alternate is not null)
        {
            TouchAll(_alternate);
        }
    }

    /// <summary>The visible screen now, and a version token for <see cref="ChangedLines"/>.</summary>
    public ScreenSnapshot Render()
    {
        var lines = new string[_rows];
        var builder = new StringBuilder(_columns);
        for (var row = 0; row < _rows; row++)
        {
            lines[row] = LineText(Active.Lines[row], builder);
        }
        return new ScreenSnapshot(lines, _y, _x, _cursorVisible, _alternate is not null, Title, _columns, _rows, TakeVersion());
    }

    /// <summary>
    /// The rows whose text may have changed after <paramref name="sinceVersion"/> (a token from <see cref="Render"/>
    /// or an earlier call; 0 for since the start), with a new token. Scrolling reports every moved row; switching
    /// screens or resizing reports them all. A row rewritten with the same text may be reported.
    /// </summary>
    public ScreenChanges ChangedLines(long sinceVersion)
    {
        var changed = new List<ChangedLine>();
        var builder = new StringBuilder(_columns);
        for (var row = 0; row < _rows; row++)
        {
            var line = Active.Lines[row];
            // A token from the future (another screen, a restart) cannot be trusted: report everything.
            if (line.Version > sinceVersion || sinceVersion >= _version)
            {
                changed.Add(new ChangedLine(row, LineText(line, builder)));
            }
        }
        return new ScreenChanges(changed, _y, _x, _cursorVisible, _alternate is not null, Title, TakeVersion());
    }

    private long TakeVersion() => _version++;

    private static void CheckSize(int columns, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(columns, MaxColumns);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, MaxRows);
    }

    private static bool[] DefaultTabStops(int columns, bool[]? previous)
    {
        var stops = new bool[columns];
        for (var x = 0; x < columns; x++)
        {
            stops[x] = previous is not null && x < previous.Length ? previous[x] : x % 8 == 0 && x > 0;
        }
        return stops;
    }

    private static string LineText(Line line, StringBuilder builder)
    {
        builder.Clear();
        var cells = line.Cells;
        for (var x = 0; x < cells.Length; x++)
        {
            var cell = cells[x];
            if ((cell & ClusterFlag) != 0)
            {
                builder.Append(line.Clusters![cell & CodePointMask]);
            }
            else if ((cell & CodePointMask) == 0)
            {
                builder.Append(' ');
            }
            else
            {
                AppendCodePoint(builder, cell & CodePointMask);
            }
            if ((cell & WideFlag) != 0)
            {
                x++; // its spacer
            }
        }
        var length = builder.Length;
        while (length > 0 && builder[length - 1] == ' ')
        {
            length--;
        }
        return builder.ToString(0, length);
    }

    private static void AppendCodePoint(StringBuilder builder, int codePoint)
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

    // ---- Printing ----

    void IVtPerformer.Print(int codePoint)
    {
        if (Print(codePoint))
        {
            _lastGraphic = codePoint;
            _lastMarks = null;
        }
    }

    // False when the code point only added a combining mark to the previous character.
    private bool Print(int codePoint)
    {
        if (codePoint is >= 0x60 and <= 0x7E && _charsets.Mapping == '0')
        {
            codePoint = DecSpecialGraphics[codePoint - 0x60];
        }
        var width = CharWidth.Of(codePoint);
        if (width == 0)
        {
            if (Combine(codePoint))
            {
                return false;
            }
            width = 1; // nothing to combine with: it stands alone, as in xterm.js
        }
        if (width > _columns)
        {
            return true;
        }

        if (_pendingWrap)
        {
            _pendingWrap = false;
            if (_autoWrap)
            {
                _x = 0;
                Index();
            }
        }
        var line = Active.Lines[_y];
        if (_x + width > _columns)
        {
            // A wide character in the last column: it moves to the next line, leaving the column blank; without
            // auto-wrap it is dropped.
            if (!_autoWrap)
            {
                return true;
            }
            Erase(line, _x, _columns);
            _x = 0;
            Index();
            line = Active.Lines[_y];
        }
        if (_insertMode)
        {
            InsertCells(line, _x, width);
        }

        SplitWide(line, _x, _x + width);
        line.Cells[_x] = codePoint | (width == 2 ? WideFlag : 0);
        if (width == 2)
        {
            line.Cells[_x + 1] = SpacerFlag;
        }
        Touch(line);
        _x += width;
        if (_x >= _columns)
        {
            _x = _columns - 1;
            _pendingWrap = true;
        }
        return true;
    }

    // Adds a zero-width code point to the character before the cursor; false when there is none.
    private bool Combine(int codePoint)
    {
        var x = _pendingWrap ? _x : _x - 1;
        if (x < 0)
        {
            return false;
        }
        var line = Active.Lines[_y];
        if ((line.Cells[x] & SpacerFlag) != 0 && x > 0)
        {
            x--;
        }
        var cell = line.Cells[x];
        if ((cell & (CodePointMask | ClusterFlag)) == 0)
        {
            return false;
        }
        var text = (cell & ClusterFlag) != 0 ? line.Clusters![cell & CodePointMask] : char.ConvertFromUtf32(cell & CodePointMask);
        if (text.Length + 2 > MaxClusterLength)
        {
            return true; // dropped
        }
        var mark = char.ConvertFromUtf32(codePoint);
        line.Cells[x] = (cell & WideFlag) | ClusterFlag | line.AddCluster(text + mark, (cell & ClusterFlag) != 0 ? cell & CodePointMask : -1);
        Touch(line);
        if (_lastGraphic >= 0 && (_lastMarks?.Length ?? 0) + 2 <= MaxClusterLength)
        {
            _lastMarks += mark;
        }
        return true;
    }

    // ---- Controls ----

    void IVtPerformer.Execute(int control)
    {
        _lastGraphic = -1;
        switch (control)
        {
            case 0x08: // BS
                _pendingWrap = false;
                _x = Math.Max(0, _x - 1);
                break;
            case 0x09: // HT
                TabForward(1);
                break;
            case 0x0A or 0x0B or 0x0C: // LF, VT, FF
                _pendingWrap = false;
                Index();
                break;
            case 0x0D: // CR
                _pendingWrap = false;
                _x = 0;
                break;
            case 0x0E: // SO: G1 into GL
                _charsets.Invoke(1);
                break;
            case 0x0F: // SI: G0 into GL
                _charsets.Invoke(0);
                break;
            case 0x84: // IND
                _pendingWrap = false;
                Index();
                break;
            case 0x85: // NEL
                _pendingWrap = false;
                _x = 0;
                Index();
                break;
            case 0x88: // HTS (with the wrap pending, xterm.js's cursor is past the last stop it could set)
                if (!_pendingWrap)
                {
                    Active.TabStops[_x] = true;
                }
                break;
            default:
                // BEL, NUL, CAN, SUB and the rest: nothing to show. xterm.js ignores the 8-bit RI (0x8D) as well; only
                // ESC M reverses the index.
                break;
        }
    }

    void IVtPerformer.EscDispatch(int intermediates, char final)
    {
        _lastGraphic = -1;
        if (intermediates == 0)
        {
            switch (final)
            {
                case '7':
                    SaveCursor();
                    break;
                case '8':
                    RestoreCursor();
                    break;
                case 'D':
                    ((IVtPerformer)this).Execute(0x84);
                    break;
                case 'E':
                    ((IVtPerformer)this).Execute(0x85);
                    break;
                case 'H':
                    ((IVtPerformer)this).Execute(0x88);
                    break;
                case 'M': // RI
                    _pendingWrap = false;
                    ReverseIndex();
                    break;
                case 'c':
                    FullReset();
                    break;
                case 'n': // LS2
                    _charsets.Invoke(2);
                    break;
                case 'o': // LS3
                    _charsets.Invoke(3);
                    break;
                default:
                    // Keypad modes (= >), ST (\) and the rest change nothing on screen.
                    break;
            }
            return;
        }
        if (intermediates == '#' && final == '8')
        {
            AlignmentTest();
        }
        else if (intermediates is '(' or ')' or '*' or '+')
        {
            _charsets.Designate(intermediates - '(', final);
        }
    }

    // ---- CSI ----

    void IVtPerformer.CsiDispatch(VtParams p, char prefix, int intermediates, char final)
    {
        // Only a character printed right before REP repeats (not after another REP either), as in xterm.js.
        var lastGraphic = _lastGraphic;
        _lastGraphic = -1;
        if (prefix == '?')
        {
            if (intermediates == 0)
            {
                switch (final)
                {
                    case 'h':
                        SetPrivateModes(p, true);
                        break;
                    case 'l':
                        SetPrivateModes(p, false);
                        break;
                    case 'n' when p[0] == 6:
                        ReportCursor("?");
                        break;
                    case 'J' or 'K':
                        // DECSED/DECSEL erase only unprotected cells; nothing here is protected.
                        if (final == 'J')
                        {
                            EraseInDisplay(p[0]);
                        }
                        else
                        {
                            EraseInLine(p[0]);
                        }
                        break;
                    default:
                        break;
                }
            }
            return;
        }
        if (prefix == '>')
        {
            if (final == 'c' && intermediates == 0 && p[0] == 0)
            {
                Respond("\e[>0;276;0c");
            }
            return;
        }
        if (prefix != '\0')
        {
            return;
        }
        if (intermediates != 0)
        {
            if (intermediates == '!' && final == 'p')
            {
                SoftReset();
            }
            // DECSCUSR (SP q) and the rest: nothing on screen.
            return;
        }

        switch (final)
        {
            case 'A': // CUU
                CursorUp(p.Get(0, 1));
                break;
            case 'B': // CUD
                CursorDown(p.Get(0, 1));
                break;
            case 'C': // CUF
                MoveTo(_x + p.Get(0, 1), _y);
                break;
            case 'D': // CUB
                MoveTo(_x - p.Get(0, 1), _y);
                break;
            case 'E': // CNL
                CursorDown(p.Get(0, 1));
                _x = 0;
                break;
            case 'F': // CPL
                CursorUp(p.Get(0, 1));
                _x = 0;
                break;
            case 'G' or '`': // CHA, HPA
                MoveTo(p.Get(0, 1) - 1, _y);
                break;
            case 'a': // HPR
                MoveTo(_x + p.Get(0, 1), _y);
                break;
            case 'H' or 'f': // CUP, HVP
                CursorPosition(p.Get(0, 1), p.Get(1, 1));
                break;
            case 'd': // VPA
                CursorPosition(p.Get(0, 1), _x + 1);
                break;
            case 'e': // VPR
                MoveTo(_x, _y + p.Get(0, 1));
                break;
            case 'I': // CHT
                TabForward(p.Get(0, 1));
                break;
            case 'Z': // CBT
                TabBackward(p.Get(0, 1));
                break;
            case 'J': // ED
                EraseInDisplay(p[0]);
                break;
            case 'K': // EL
                EraseInLine(p[0]);
                break;
            case 'L': // IL
                InsertLines(p.Get(0, 1));
                break;
            case 'M': // DL
                DeleteLines(p.Get(0, 1));
                break;
            case '@': // ICH
                _pendingWrap = false;
                InsertCells(Active.Lines[_y], _x, p.Get(0, 1));
                break;
            case 'P': // DCH
                _pendingWrap = false;
                DeleteCells(Active.Lines[_y], _x, p.Get(0, 1));
                break;
            case 'X': // ECH
                _pendingWrap = false;
                Erase(Active.Lines[_y], _x, (int)Math.Min(_columns, (long)_x + p.Get(0, 1)));
                break;
            case 'S': // SU
                ScrollUp(p.Get(0, 1));
                break;
            case 'T' when p.Count <= 1: // SD (with more parameters it is a mouse-tracking request)
                ScrollDown(p.Get(0, 1));
                break;
            case 'b': // REP
                Repeat(lastGraphic, p.Get(0, 1));
                break;
            case 'g': // TBC
                ClearTabStops(p[0]);
                break;
            case 'r': // DECSTBM
                SetScrollRegion(p.Get(0, 1), p.Get(1, _rows));
                break;
            case 's': // SCOSC
                SaveCursor();
                break;
            case 'u': // SCORC
                RestoreCursor();
                break;
            case 'h':
                SetModes(p, true);
                break;
            case 'l':
                SetModes(p, false);
                break;
            case 'n': // DSR
                if (p[0] == 5)
                {
                    Respond("\e[0n");
                }
                else if (p[0] == 6)
                {
                    ReportCursor("");
                }
                break;
            case 'c' when p[0] == 0: // DA1: a VT100 with advanced video, as xterm.js answers
                Respond("\e[?1;2c");
                break;
            default:
                // SGR (m), window operations (t) and the rest: nothing to show.
                break;
        }
    }

    void IVtPerformer.OscDispatch(ReadOnlySpan<char> data)
    {
        _lastGraphic = -1;
        var separator = data.IndexOf(';');
        if (separator < 0)
        {
            return;
        }
        var command = data[..separator];
        if (command is "0" or "2")
        {
            var title = data[(separator + 1)..];
            if (title.Length > MaxTitleLength)
            {
                title = title[..(char.IsHighSurrogate(title[MaxTitleLength - 1]) ? MaxTitleLength - 1 : MaxTitleLength)];
            }
            Title = title.ToString();
        }
    }

    void IVtPerformer.DcsDispatch(VtParams parameters, char prefix, int intermediates, char final, ReadOnlySpan<char> data)
    {
        // Sixel, XTGETTCAP and the like: nothing to show.
        _lastGraphic = -1;
    }

    // ---- Cursor ----

    private void MoveTo(int x, int y)
    {
        _pendingWrap = false;
        _x = Math.Clamp(x, 0, _columns - 1);
        _y = Math.Clamp(y, 0, _rows - 1);
    }

    // CUP: 1-based, relative to the scroll region and held inside it in origin mode.
    private void CursorPosition(int row, int column)
    {
        if (_originMode)
        {
            var grid = Active;
            MoveTo(column - 1, Math.Min(grid.Top + row - 1, grid.Bottom));
        }
        else
        {
            MoveTo(column - 1, row - 1);
        }
    }

    // CUU and CUD stop at the scroll region's edge when they start inside it.
    private void CursorUp(int count)
    {
        var top = _y >= Active.Top ? Active.Top : 0;
        MoveTo(_x, Math.Max(top, _y - count));
    }

    private void CursorDown(int count)
    {
        var bottom = _y <= Active.Bottom ? Active.Bottom : _rows - 1;
        MoveTo(_x, Math.Min(bottom, _y + count));
    }

    // With the wrap pending, tabs move nothing and keep the wrap pending, as in xterm.js.
    private void TabForward(int count)
    {
        if (_pendingWrap)
        {
            return;
        }
        for (var i = 0; i < count && _x < _columns - 1; i++)
        {
            do
            {
                _x++;
            }
            while (_x < _columns - 1 && !Active.TabStops[_x]);
        }
    }

    private void TabBackward(int count)
    {
        if (_pendingWrap)
        {
            return;
        }
        for (var i = 0; i < count && _x > 0; i++)
        {
            do
            {
                _x--;
            }
            while (_x > 0 && !Active.TabStops[_x]);
        }
    }

    private void ClearTabStops(int mode)
    {
        if (mode == 0 && !_pendingWrap)
        {
            Active.TabStops[_x] = false;
        }
        else if (mode == 3)
        {
            Array.Clear(Active.TabStops);
        }
    }

    // DECSC: per screen, the position and the character set in use; as in xterm.js, not the wrap flag, origin mode
    // or the designations, and restoring sets the set in use without changing which G-set is invoked.
    private void SaveCursor()
    {
        Active.Saved = new SavedCursor(_x, _y, _charsets.Mapping);
    }

    private void RestoreCursor()
    {
        var saved = Active.Saved;
        _charsets.Mapping = saved.Mapping;
        MoveTo(saved.X, saved.Y);
    }

    private void ReportCursor(string marker)
    {
        var row = _originMode ? _y - Active.Top + 1 : _y + 1;
        Respond(string.Create(CultureInfo.InvariantCulture, $"\e[{marker}{row};{_x + 1}R"));
    }

    private void Respond(string response)
    {
        _responses ??= new StringBuilder();
        if (_responses.Length + response.Length <= MaxResponseLength)
        {
            _responses.Append(response);
        }
    }

    // ---- Scrolling ----

    // IND and LF: down one row, scrolling the region when at its bottom.
    private void Index()
    {
        if (_y == Active.Bottom)
        {
            ScrollUp(1);
        }
        else if (_y < _rows - 1)
        {
            _y++;
        }
    }

    private void ReverseIndex()
    {
        if (_y == Active.Top)
        {
            ScrollDown(1);
        }
        else if (_y > 0)
        {
            _y--;
        }
    }

    private void ScrollUp(int count) => Active.Shift(Active.Top, Active.Bottom, -count, _version);

    private void ScrollDown(int count) => Active.Shift(Active.Top, Active.Bottom, count, _version);

    private void InsertLines(int count)
    {
        var grid = Active;
        if (_y < grid.Top || _y > grid.Bottom)
        {
            return;
        }
        grid.Shift(_y, grid.Bottom, count, _version);
        _x = 0;
        _pendingWrap = false;
    }

    private void DeleteLines(int count)
    {
        var grid = Active;
        if (_y < grid.Top || _y > grid.Bottom)
        {
            return;
        }
        grid.Shift(_y, grid.Bottom, -count, _version);
        _x = 0;
        _pendingWrap = false;
    }

    private void SetScrollRegion(int top, int bottom)
    {
        bottom = Math.Min(bottom, _rows);
        if (top >= bottom)
        {
            return;
        }
        Active.Top = top - 1;
        Active.Bottom = bottom - 1;
        CursorPosition(1, 1);
    }

    // ---- Erasing and editing a line ----

    private void EraseInDisplay(int mode)
    {
        var grid = Active;
        switch (mode)
        {
            case 0:
                EraseInLine(0);
                for (var y = _y + 1; y < _rows; y++)
                {
                    Erase(grid.Lines[y], 0, _columns);
                }
                break;
            case 1:
                for (var y = 0; y < _y; y++)
                {
                    Erase(grid.Lines[y], 0, _columns);
                }
                EraseInLine(1);
                break;
            case 2:
                for (var y = 0; y < _rows; y++)
                {
                    Erase(grid.Lines[y], 0, _columns);
                }
                break;
            default:
                // 3 erases the scrollback, which this screen does not keep.
                break;
        }
    }

    private void EraseInLine(int mode)
    {
        var line = Active.Lines[_y];
        switch (mode)
        {
            case 0:
                // With the wrap pending, xterm.js keeps the last character: its cursor is past it.
                if (!_pendingWrap)
                {
                    Erase(line, _x, _columns);
                }
                break;
            case 1:
                Erase(line, 0, _x + 1);
                break;
            case 2:
                Erase(line, 0, _columns);
                break;
            default:
                break;
        }
    }

    private void Erase(Line line, int from, int to)
    {
        if (from >= to)
        {
            return;
        }
        SplitWide(line, from, to);
        if (from == 0 && to == line.Cells.Length)
        {
            line.Clear();
        }
        else
        {
            line.Cells.AsSpan(from, to - from).Clear();
        }
        Touch(line);
    }

    // Before cells [from, to) change, blanks the other half of any wide character the range cuts through.
    private static void SplitWide(Line line, int from, int to)
    {
        var cells = line.Cells;
        if (from > 0 && from < cells.Length && (cells[from] & SpacerFlag) != 0)
        {
            cells[from - 1] = 0;
        }
        if (to < cells.Length && to > 0 && (cells[to] & SpacerFlag) != 0)
        {
            cells[to] = 0;
        }
    }

    private void InsertCells(Line line, int x, int count)
    {
        var cells = line.Cells;
        count = Math.Min(count, cells.Length - x);
        // Inserting inside a wide character removes it.
        SplitWide(line, x, x);
        cells.AsSpan(x, cells.Length - x - count).CopyTo(cells.AsSpan(x + count));
        cells.AsSpan(x, count).Clear();
        if ((cells[^1] & WideFlag) != 0)
        {
            cells[^1] = 0; // its spacer was pushed off the edge
        }
        Touch(line);
    }

    private void DeleteCells(Line line, int x, int count)
    {
        var cells = line.Cells;
        count = Math.Min(count, cells.Length - x);
        SplitWide(line, x, x + count);
        cells.AsSpan(x + count).CopyTo(cells.AsSpan(x));
        cells.AsSpan(cells.Length - count).Clear();
        Touch(line);
    }

    private void Repeat(int graphic, int count)
    {
        if (graphic < 0)
        {
            return;
        }
        var marks = _lastMarks;
        var shown = graphic is >= 0x60 and <= 0x7E && _charsets.Mapping == '0' ? DecSpecialGraphics[graphic - 0x60] : graphic;
        var width = CharWidth.Of(shown);
        if (width == 0)
        {
            // A lone mark (printed as its own character) repeats onto itself: past the cluster limit nothing changes.
            count = Math.Min(count, MaxClusterLength);
            for (var i = 0; i < count; i++)
            {
                PrintWithMarks(graphic, marks);
            }
            return;
        }

        // Repeating one character becomes periodic once it has filled every row it can reach (at most twice the
        // screen's height of wraps, then the cursor cycles through a row): fold a huge count onto the same end state.
        var period = Math.Max(1, _columns / width);
        var threshold = ((2 * _rows) + 2) * _columns;
        if (count > threshold)
        {
            count = threshold + ((count - threshold) % period);
        }

        // The first character of each row goes through Print (wrapping, the last column); the rest of the row is
        // filled at once, which is what printing them one by one would leave.
        var cluster = marks is null ? null : ClusterText(shown, marks);
        while (count > 0)
        {
            PrintWithMarks(graphic, marks);
            count--;
            if (!_autoWrap && (_pendingWrap || _x + width > _columns))
            {
                return; // stuck at the last column: the rest rewrite the same cell
            }
            var run = _pendingWrap ? 0 : Math.Min(count, (_columns - _x) / width);
            if (run > 0)
            {
                FillRun(shown, width, cluster, run);
                count -= run;
            }
        }
    }

    private void PrintWithMarks(int graphic, string? marks)
    {
        Print(graphic);
        for (var j = 0; marks is not null && j < marks.Length; j += char.IsSurrogatePair(marks, j) ? 2 : 1)
        {
            Combine(char.ConvertToUtf32(marks, j));
        }
    }

    // The text Combine builds from a base and its marks, with the same limit.
    private static string ClusterText(int codePoint, string marks)
    {
        var text = char.ConvertFromUtf32(codePoint);
        for (var j = 0; j < marks.Length; j += char.IsSurrogatePair(marks, j) ? 2 : 1)
        {
            var units = char.IsSurrogatePair(marks, j) ? 2 : 1;
            if (text.Length + 2 <= MaxClusterLength)
            {
                text += marks.Substring(j, units);
            }
        }
        return text;
    }

    // Prints `count` copies of a character that all fit on the cursor's row, as Print would one by one.
    private void FillRun(int codePoint, int width, string? cluster, int count)
    {
        var line = Active.Lines[_y];
        var span = count * width;
        if (_insertMode)
        {
            InsertCells(line, _x, span);
        }
        SplitWide(line, _x, _x + span);
        var cells = line.Cells;
        for (var at = _x; at < _x + span; at += width)
        {
            var cell = cluster is null ? codePoint : ClusterFlag | line.AddCluster(cluster, -1);
            cells[at] = cell | (width == 2 ? WideFlag : 0);
            if (width == 2)
            {
                cells[at + 1] = SpacerFlag;
            }
        }
        Touch(line);
        _x += span;
        if (_x >= _columns)
        {
            _x = _columns - 1;
            _pendingWrap = true;
        }
    }

    // ---- Modes ----

    private void SetModes(VtParams p, bool on)
    {
        for (var i = 0; i < p.Count; i++)
        {
            if (p[i] == 4)
            {
                _insertMode = on; // IRM
            }
        }
    }

    private void SetPrivateModes(VtParams p, bool on)
    {
        for (var i = 0; i < p.Count; i++)
        {
            switch (p[i])
            {
                case 6: // DECOM: the cursor goes to the (new) home either way
                    _originMode = on;
                    CursorPosition(1, 1);
                    break;
                case 7: // DECAWM
                    _autoWrap = on;
                    break;
                case 25: // DECTCEM
                    _cursorVisible = on;
                    break;
                case 47 or 1047:
                    SwitchScreen(on);
                    break;
                case 1048:
                    if (on)
                    {
                        SaveCursor();
                    }
                    else
                    {
                        RestoreCursor();
                    }
                    break;
                case 1049:
                    if (on)
                    {
                        // Saves even when already on the alternate screen (into its own slot), as xterm.js does.
                        SaveCursor();
                        SwitchScreen(true);
                    }
                    else
                    {
                        SwitchScreen(false);
                        RestoreCursor();
                    }
                    break;
                default:
                    // Cursor keys, mouse, bracketed paste and the rest concern input, not the screen.
                    break;
            }
        }
    }

    // The alternate screen starts blank each time (as in xterm.js) and is dropped when left; the cursor stays put,
    // a pending wrap included.
    private void SwitchScreen(bool alternate)
    {
        if (alternate == (_alternate is not null))
        {
            return;
        }
        if (alternate)
        {
            _alternate = new Grid(_columns, _rows) { Saved = _alternateSaved };
            TouchAll(_alternate);
        }
        else
        {
            _alternateSaved = _alternate!.Saved;
            _alternate = null;
            TouchAll(_normal);
        }
    }

    private void SoftReset()
    {
        _cursorVisible = true;
        _insertMode = false;
        _originMode = false;
        _autoWrap = true;
        _charsets = Charsets.Default;
        Active.Top = 0;
        Active.Bottom = _rows - 1;
        Active.Saved = SavedCursor.Home;
    }

    private void FullReset()
    {
        _alternate = null;
        _alternateSaved = SavedCursor.Home;
        _normal = new Grid(_columns, _rows);
        TouchAll(_normal);
        _x = 0;
        _y = 0;
        _pendingWrap = false;
        _autoWrap = true;
        _originMode = false;
        _insertMode = false;
        _cursorVisible = true;
        _charsets = Charsets.Default;
    }

    // DECALN: the screen filled with 'E', margins reset, cursor home, as xterm and the VT510 do (xterm.js keeps the
    // margins; programs do not use this test pattern).
    private void AlignmentTest()
    {
        var grid = Active;
        grid.Top = 0;
        grid.Bottom = _rows - 1;
        foreach (var line in grid.Lines)
        {
            line.Clear();
            line.Cells.AsSpan().Fill('E');
            Touch(line);
        }
        MoveTo(0, 0);
    }

    private void Touch(Line line) => line.Version = _version;

    private void TouchAll(Grid grid)
    {
        foreach (var line in grid.Lines)
        {
            line.Version = _version;
        }
    }
}
