namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// What a <see cref="VtParser"/> found in the stream, with no meaning assigned: the performer (a screen, a stripper)
/// decides what each sequence does. Spans and <see cref="VtParams"/> are only valid during the call.
/// </summary>
internal interface IVtPerformer
{
    /// <summary>A graphic character (a Unicode code point, never a control).</summary>
    void Print(int codePoint);

    /// <summary>A C0 control (0x00..0x1F) or a C1 control (0x80..0x9F) outside any sequence.</summary>
    void Execute(int control);

    /// <summary>
    /// <c>ESC [intermediates] final</c>; <paramref name="intermediates"/> packs up to two intermediate characters
    /// (0x20..0x2F), the first in the low byte, 0 for none.
    /// </summary>
    void EscDispatch(int intermediates, char final);

    /// <summary>
    /// <c>CSI [prefix] params [intermediates] final</c>; <paramref name="prefix"/> is the private marker
    /// (<c>? &gt; &lt; =</c>) or '\0'.
    /// </summary>
    void CsiDispatch(VtParams parameters, char prefix, int intermediates, char final);

    /// <summary>An operating system command (<c>OSC data BEL</c> or <c>OSC data ST</c>), at most <see cref="VtParser.MaxStringLength"/> characters.</summary>
    void OscDispatch(ReadOnlySpan<char> data);

    /// <summary>A device control string, reported whole at its end, at most <see cref="VtParser.MaxStringLength"/> characters of data.</summary>
    void DcsDispatch(VtParams parameters, char prefix, int intermediates, char final, ReadOnlySpan<char> data);
}

/// <summary>
/// The numeric parameters of a CSI or DCS sequence: at most <see cref="MaxCount"/>, each clamped to
/// <see cref="MaxValue"/>, so a hostile stream can neither grow them nor overflow them. A missing parameter is 0.
/// </summary>
internal sealed class VtParams
{
    public const int MaxCount = 32;
    public const int MaxValue = 65535;

    private readonly int[] _values = new int[MaxCount];

    public int Count { get; private set; }

    /// <summary>The parameter at <paramref name="index"/>, or <paramref name="defaultValue"/> when missing or 0.</summary>
    public int Get(int index, int defaultValue) =>
        index < Count && _values[index] != 0 ? _values[index] : defaultValue;

    /// <summary>The parameter at <paramref name="index"/> as sent (0 when missing).</summary>
    public int this[int index] => index < Count ? _values[index] : 0;

    // Past MaxCount: further digits belong to dropped parameters.
    private bool _full;

    internal void Clear()
    {
        Count = 0;
        _full = false;
    }

    internal void AddDigit(int digit)
    {
        if (_full)
        {
            return;
        }
        if (Count == 0)
        {
            _values[0] = 0;
            Count = 1;
        }
        ref var value = ref _values[Count - 1];
        value = Math.Min(MaxValue, (value * 10) + digit);
    }

    // ';' starts the next parameter; those past MaxCount are dropped and the sequence still dispatches.
    internal void Separate()
    {
        if (Count == 0)
        {
            _values[0] = 0;
            Count = 1;
        }
        if (Count < MaxCount)
        {
            _values[Count++] = 0;
        }
        else
        {
            _full = true;
        }
    }
}

/// <summary>
/// A DEC ANSI parser after Paul Williams' state machine for DEC ANSI-compatible terminals, fed with bytes that it decodes
/// as streaming UTF-8 first (a sequence split across <see cref="Feed"/> calls is joined; invalid bytes become U+FFFD).
/// It only recognises sequences and hands them to an <see cref="IVtPerformer"/>. Everything it keeps is bounded:
/// parameters (<see cref="VtParams"/>), intermediates (two; a sequence with more is dropped) and OSC/DCS strings
/// (<see cref="MaxStringLength"/>; a longer one is dropped whole), so no input can make it grow or throw.
/// Decoded C1 controls (U+0080..U+009F) act as their 8-bit forms, as in xterm.js; a character past ASCII inside an
/// escape or control sequence abandons the sequence without being printed.
/// </summary>
internal sealed class VtParser(IVtPerformer performer)
{
    /// <summary>The longest OSC or DCS string kept; a longer one is ignored whole rather than acted on truncated.</summary>
    public const int MaxStringLength = 4096;

    private const int Replacement = 0xFFFD;

    private enum State : byte
    {
        Ground,
        Escape,
        EscapeIntermediate,
        CsiEntry,
        CsiParam,
        CsiIntermediate,
        CsiIgnore,
        DcsEntry,
        DcsParam,
        DcsIntermediate,
        DcsPassthrough,
        DcsIgnore,
        OscString,
        SosPmApcString,
    }

    private readonly VtParams _params = new();
    private State _state;
    private char _prefix;
    private int _intermediates;
    private int _intermediateCount;
    private char _dcsFinal;

    // OSC/DCS data: grown on demand up to MaxStringLength, so an idle parser holds none.
    private char[]? _string;
    private int _stringLength;
    private bool _stringOverflowed;

    // Streaming UTF-8 state (the WHATWG decoder: a bad byte yields one U+FFFD per maximal invalid subpart).
    private int _utf8CodePoint;
    private int _utf8Needed;
    private int _utf8Seen;
    private int _utf8Lower = 0x80;
    private int _utf8Upper = 0xBF;

    /// <summary>Decodes and parses <paramref name="bytes"/>; an incomplete UTF-8 sequence at the end waits for the next call.</summary>
    public void Feed(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            if (_utf8Needed == 0)
            {
                if (b < 0x80)
                {
                    Advance(b);
                }
                else if (b is >= 0xC2 and <= 0xDF)
                {
                    _utf8Needed = 1;
                    _utf8CodePoint = b & 0x1F;
                }
                else if (b is >= 0xE0 and <= 0xEF)
                {
                    // No overlongs (E0 80..9F) and no surrogates (ED A0..BF).
                    _utf8Lower = b == 0xE0 ? 0xA0 : 0x80;
                    _utf8Upper = b == 0xED ? 0x9F : 0xBF;
                    _utf8Needed = 2;
                    _utf8CodePoint = b & 0x0F;
                }
                else if (b is >= 0xF0 and <= 0xF4)
                {
                    // No overlongs (F0 80..8F) and nothing past U+10FFFF (F4 90..).
                    _utf8Lower = b == 0xF0 ? 0x90 : 0x80;
                    _utf8Upper = b == 0xF4 ? 0x8F : 0xBF;
                    _utf8Needed = 3;
                    _utf8CodePoint = b & 0x07;
                }
                else
                {
                    Advance(Replacement);
                }
            }
            else if (b < _utf8Lower || b > _utf8Upper)
            {
                // The sequence so far is one invalid subpart; the byte that broke it is read again on its own.
                ResetUtf8();
                Advance(Replacement);
                i--;
            }
            else
            {
                _utf8Lower = 0x80;
                _utf8Upper = 0xBF;
                _utf8CodePoint = (_utf8CodePoint << 6) | (b & 0x3F);
                if (++_utf8Seen == _utf8Needed)
                {
                    var codePoint = _utf8CodePoint;
                    ResetUtf8();
                    Advance(codePoint);
                }
            }
        }
    }

    private void ResetUtf8()
    {
        _utf8CodePoint = 0;
        _utf8Needed = 0;
        _utf8Seen = 0;
        _utf8Lower = 0x80;
        _utf8Upper = 0xBF;
    }

    /// <summary>Parses one decoded code point.</summary>
    public void Advance(int c)
    {
        // Fast path: text.
        if (_state == State.Ground && c >= 0x20 && c != 0x7F && (c < 0x80 || c > 0x9F))
        {
            performer.Print(c);
            return;
        }

        // Transitions from anywhere.
        switch (c)
        {
            case 0x18 or 0x1A:
                AbortString();
                performer.Execute(c);
                _state = State.Ground;
                return;
            case 0x1B:
                EndString();
                Clear();
                _state = State.Escape;
                return;
            case 0x9C:
                EndString();
                _state = State.Ground;
                return;
            case 0x90:
                EndString();
                Clear();
                _state = State.DcsEntry;
                return;
            case 0x9B:
                EndString();
                Clear();
                _state = State.CsiEntry;
                return;
            case 0x9D:
                EndString();
                StartString();
                _state = State.OscString;
                return;
            case 0x98 or 0x9E or 0x9F:
                EndString();
                _state = State.SosPmApcString;
                return;
            case >= 0x80 and <= 0x9F:
                AbortString();
                performer.Execute(c);
                _state = State.Ground;
                return;
        }

        switch (_state)
        {
            case State.Ground:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                // DEL is ignored, as VT100s do.
                break;

            case State.Escape:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                else if (c <= 0x2F)
                {
                    Collect(c);
                    _state = State.EscapeIntermediate;
                }
                else if (c == '[')
                {
                    Clear();
                    _state = State.CsiEntry;
                }
                else if (c == ']')
                {
                    StartString();
                    _state = State.OscString;
                }
                else if (c == 'P')
                {
                    Clear();
                    _state = State.DcsEntry;
                }
                else if (c is 'X' or '^' or '_')
                {
                    _state = State.SosPmApcString;
                }
                else if (c <= 0x7E)
                {
                    performer.EscDispatch(0, (char)c);
                    _state = State.Ground;
                }
                else if (c != 0x7F)
                {
                    // Not ASCII: no sequence this parser knows continues with it; drop the sequence.
                    _state = State.Ground;
                }
                break;

            case State.EscapeIntermediate:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                else if (c <= 0x2F)
                {
                    Collect(c);
                }
                else if (c <= 0x7E)
                {
                    if (_intermediateCount <= 2)
                    {
                        performer.EscDispatch(_intermediates, (char)c);
                    }
                    _state = State.Ground;
                }
                else if (c != 0x7F)
                {
                    _state = State.Ground;
                }
                break;

            case State.CsiEntry:
            case State.CsiParam:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                else if (c is >= '0' and <= '9')
                {
                    _params.AddDigit(c - '0');
                    _state = State.CsiParam;
                }
                else if (c == ';')
                {
                    _params.Separate();
                    _state = State.CsiParam;
                }
                else if (c is >= '<' and <= '?' && _state == State.CsiEntry)
                {
                    _prefix = (char)c;
                    _state = State.CsiParam;
                }
                else if (c is ':' or (>= '<' and <= '?'))
                {
                    // Sub-parameters (SGR 38:2:r:g:b) and misplaced markers: ignore the sequence to its final.
                    _state = State.CsiIgnore;
                }
                else if (c <= 0x2F)
                {
                    Collect(c);
                    _state = State.CsiIntermediate;
                }
                else if (c <= 0x7E)
                {
                    DispatchCsi((char)c);
                }
                else if (c != 0x7F)
                {
                    _state = State.Ground;
                }
                break;

            case State.CsiIntermediate:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                else if (c <= 0x2F)
                {
                    Collect(c);
                }
                else if (c <= 0x3F)
                {
                    _state = State.CsiIgnore;
                }
                else if (c <= 0x7E)
                {
                    DispatchCsi((char)c);
                }
                else if (c != 0x7F)
                {
                    _state = State.Ground;
                }
                break;

            case State.CsiIgnore:
                if (c < 0x20)
                {
                    performer.Execute(c);
                }
                else if (c is >= 0x40 and <= 0x7E)
                {
                    _state = State.Ground;
                }
                else if (c > 0x7F)
                {
                    _state = State.Ground;
                }
                break;

            case State.DcsEntry:
            case State.DcsParam:
                // C0 controls are ignored inside a DCS header.
                if (c is >= '0' and <= '9')
                {
                    _params.AddDigit(c - '0');
                    _state = State.DcsParam;
                }
                else if (c == ';')
                {
                    _params.Separate();
                    _state = State.DcsParam;
                }
                else if (c is >= '<' and <= '?' && _state == State.DcsEntry)
                {
                    _prefix = (char)c;
                    _state = State.DcsParam;
                }
                else if (c is ':' or (>= '<' and <= '?'))
                {
                    _state = State.DcsIgnore;
                }
                else if (c is >= 0x20 and <= 0x2F)
                {
                    Collect(c);
                    _state = State.DcsIntermediate;
                }
                else if (c is >= 0x40 and <= 0x7E)
                {
                    HookDcs((char)c);
                }
                else if (c > 0x7F)
                {
                    _state = State.DcsIgnore;
                }
                break;

            case State.DcsIntermediate:
                if (c is >= 0x20 and <= 0x2F)
                {
                    Collect(c);
                }
                else if (c is >= 0x30 and <= 0x3F)
                {
                    _state = State.DcsIgnore;
                }
                else if (c is >= 0x40 and <= 0x7E)
                {
                    HookDcs((char)c);
                }
                else if (c > 0x7F)
                {
                    _state = State.DcsIgnore;
                }
                break;

            case State.DcsPassthrough:
                if (c != 0x7F)
                {
                    Put(c);
                }
                break;

            case State.OscString:
                if (c == 0x07)
                {
                    // xterm ends an OSC with BEL as well as with ST.
                    EndString();
                    _state = State.Ground;
                }
                else if (c >= 0x20 && c != 0x7F)
                {
                    Put(c);
                }
                break;

            case State.DcsIgnore:
            case State.SosPmApcString:
                // Everything up to ST (or ESC, CAN, SUB above) is dropped.
                break;
        }
    }

    private void Clear()
    {
        _params.Clear();
        _prefix = '\0';
        _intermediates = 0;
        _intermediateCount = 0;
    }

    private void Collect(int c)
    {
        // More than two intermediates: counted (up to 3) so the dispatch is skipped, not stored.
        if (_intermediateCount < 2)
        {
            _intermediates |= c << (8 * _intermediateCount);
        }
        _intermediateCount = Math.Min(3, _intermediateCount + 1);
    }

    private void DispatchCsi(char final)
    {
        if (_intermediateCount <= 2)
        {
            performer.CsiDispatch(_params, _prefix, _intermediates, final);
        }
        _state = State.Ground;
    }

    private void HookDcs(char final)
    {
        _dcsFinal = final;
        StartString();
        _state = _intermediateCount <= 2 ? State.DcsPassthrough : State.DcsIgnore;
    }

    private void StartString()
    {
        _stringLength = 0;
        _stringOverflowed = false;
    }

    private void Put(int c)
    {
        if (_stringOverflowed)
        {
            return;
        }
        var units = c > 0xFFFF ? 2 : 1;
        if (_stringLength + units > MaxStringLength)
        {
            _stringOverflowed = true;
            return;
        }
        if (_string is null || _string.Length < _stringLength + units)
        {
            Array.Resize(ref _string, Math.Min(MaxStringLength, Math.Max(64, (_string?.Length ?? 0) * 2)));
        }
        if (units == 1)
        {
            _string[_stringLength++] = (char)c;
        }
        else
        {
            _stringLength += new System.Text.Rune(c).EncodeToUtf16(_string.AsSpan(_stringLength));
        }
    }

    // Leaving a string state by ESC, ST or BEL completes the string; CAN and SUB abandon it.
    private void EndString()
    {
        var data = _string.AsSpan(0, _stringLength);
        if (_state == State.OscString && !_stringOverflowed)
        {
            performer.OscDispatch(data);
        }
        else if (_state == State.DcsPassthrough && !_stringOverflowed)
        {
            performer.DcsDispatch(_params, _prefix, _intermediates, _dcsFinal, data);
        }
        AbortString();
    }

    private void AbortString()
    {
        _stringLength = 0;
        _stringOverflowed = false;
        // Keep a small buffer for the next title; give back what one long string made it grow to.
        if (_string is { Length: > 256 })
        {
            _string = null;
        }
    }
}
