using System.Text;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>A signal a key stands for when the job's stdin is a pipe, not a terminal (which would send it itself).</summary>
internal enum JobSignal
{
    Interrupt = 2,
    Quit = 3,
    Suspend = 20,
}

/// <summary>What one key does to a job: bytes to write, a signal to send, or end of input.</summary>
internal readonly record struct KeyAction(byte[]? Bytes = null, JobSignal? Signal = null, bool EndOfInput = false);

/// <summary>
/// Named keys (<c>Enter</c>, <c>Tab</c>, <c>Esc</c>, <c>Ctrl-C</c>, arrows…) as what a terminal sends for them. A job fed
/// through a pipe has no terminal to turn Ctrl-C into SIGINT or Ctrl-D into end of file, so for it those keys become the
/// signal and the end of input themselves.
/// </summary>
internal static class JobKeys
{
    private static readonly Dictionary<string, string> Named = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Enter"] = "\r",
        ["Return"] = "\r",
        ["Tab"] = "\t",
        ["Esc"] = "\u001b",
        ["Escape"] = "\u001b",
        ["Backspace"] = "\u007f",
        ["Space"] = " ",
        ["Delete"] = "\u001b[3~",
        ["Up"] = "\u001b[A",
        ["Down"] = "\u001b[B",
        ["Right"] = "\u001b[C",
        ["Left"] = "\u001b[D",
        ["Home"] = "\u001b[H",
        ["End"] = "\u001b[F",
        ["PageUp"] = "\u001b[5~",
        ["PageDown"] = "\u001b[6~",
        ["Insert"] = "\u001b[2~",
    };

    /// <summary>The control key a terminal turns into <paramref name="signal"/> (Ctrl-C, Ctrl-\, Ctrl-Z).</summary>
    public static byte ControlKeyOf(JobSignal signal) => signal switch
    {
        JobSignal.Interrupt => 0x03,
        JobSignal.Quit => 0x1c,
        _ => 0x1a,
    };

    /// <summary>Every key name accepted, for error messages and tool descriptions.</summary>
    public static string Known => string.Join(", ", Named.Keys.Where(k => k is not ("Return" or "Escape"))) + ", Ctrl-A … Ctrl-Z, Ctrl-\\, F1-F12";

    /// <summary>
    /// The actions for <paramref name="keys"/>, in order. <paramref name="terminal"/>: the job reads a terminal, which
    /// interprets control characters itself; otherwise Enter is a newline, Ctrl-C/Ctrl-\/Ctrl-Z signals, Ctrl-D the end of input.
    /// </summary>
    /// <exception cref="SessionException">A key name is unknown; nothing is sent.</exception>
    public static IReadOnlyList<KeyAction> Encode(IEnumerable<string> keys, bool terminal)
    {
        var actions = new List<KeyAction>();
        foreach (var key in keys)
        {
            actions.Add(Encode(key.Trim(), terminal) ?? throw new SessionException($"unknown key '{key}'; keys are: {Known}. Send text with `text`"));
        }
        return actions;
    }

    private static KeyAction? Encode(string key, bool terminal)
    {
        if (Named.TryGetValue(key, out var sequence))
        {
            return new KeyAction(Encoding.ASCII.GetBytes(!terminal && sequence == "\r" ? "\n" : sequence));
        }
        if (key.Length >= 2 && key[0] is 'F' or 'f' && int.TryParse(key.AsSpan(1), out var function) && function is >= 1 and <= 12)
        {
            string[] codes = ["OP", "OQ", "OR", "OS", "[15~", "[17~", "[18~", "[19~", "[20~", "[21~", "[23~", "[24~"];
            return new KeyAction(Encoding.ASCII.GetBytes("\u001b" + codes[function - 1]));
        }
        var control = key.StartsWith("Ctrl-", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Ctrl+", StringComparison.OrdinalIgnoreCase) ? key[5..]
            : key.StartsWith('^') ? key[1..] : null;
        if (control is not { Length: 1 })
        {
            return null;
        }
        var letter = char.ToUpperInvariant(control[0]);
        if (letter is not ((>= 'A' and <= 'Z') or '\\' or '[' or ']' or '^' or '_' or '@'))
        {
            return null;
        }
        var code = (byte)(letter == '@' ? 0 : letter - '@');
        if (!terminal)
        {
            switch (letter)
            {
                case 'C': return new KeyAction(Signal: JobSignal.Interrupt);
                case '\\': return new KeyAction(Signal: JobSignal.Quit);
                case 'Z': return new KeyAction(Signal: JobSignal.Suspend);
                case 'D': return new KeyAction(EndOfInput: true);
            }
        }
        return new KeyAction([code]);
    }
}
