using System.Globalization;
using System.Text;

namespace SessionMcp.SessionRouting.Execution;

/// <summary>
/// Reads and writes the environment of a shell as text: parses <c>export -p</c> output (dash, bash, bash --posix,
/// busybox ash) and renders an environment back as a script of POSIX <c>export</c> lines.
/// </summary>
internal static class ShellExports
{
    /// <summary>
    /// Parses the output of <c>export -p</c>. Handles single quotes (<c>'it'"'"'s'</c>), double quotes with
    /// backslash escapes, bash's <c>$'...'</c> quoting and multi-line values. Variables exported without a value
    /// (<c>declare -x A</c>) and malformed records are skipped; never throws.
    /// </summary>
    public static Dictionary<string, string> Parse(string exportP)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(exportP))
        {
            return result;
        }

        var position = 0;
        while (position < exportP.Length)
        {
            var recordStart = position;
            if (TryParseRecord(exportP, ref position, out var name, out var value))
            {
                if (value is not null)
                {
                    result[name] = value;
                }
            }
            else
            {
                // Malformed: resume after the line the record started on.
                var newline = exportP.IndexOf('\n', recordStart);
                position = newline < 0 ? exportP.Length : newline + 1;
            }
        }

        return result;
    }

    /// <summary>A POSIX single-quoted shell literal for <paramref name="value"/>.</summary>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return "'" + value.Replace("'", @"'\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>
    /// A script of <c>export NAME='value'</c> lines, sorted by name. Entries whose name is not a valid shell
    /// variable name are skipped.
    /// </summary>
    public static string ExportScript(IReadOnlyDictionary<string, string> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        var builder = new StringBuilder();
        foreach (var (name, value) in env.OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            if (!IsValidName(name))
            {
                continue;
            }

            builder.Append("export ").Append(name).Append('=').Append(Quote(value ?? string.Empty)).Append('\n');
        }

        return builder.ToString();
    }

    /// <summary>True when <paramref name="name"/> matches <c>^[A-Za-z_][A-Za-z0-9_]*$</c>.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || !IsNameStart(name[0]))
        {
            return false;
        }

        for (var i = 1; i < name.Length; i++)
        {
            if (!IsNameChar(name[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsNameStart(char c) => c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or '_';

    private static bool IsNameChar(char c) => IsNameStart(c) || c is >= '0' and <= '9';

    // One record: [blank] ("export" | "declare" -flags) blank NAME [= WORD] [blank] (newline | end).
    // value is null when the variable is exported without a value.
    private static bool TryParseRecord(string text, ref int position, out string name, out string? value)
    {
        name = string.Empty;
        value = null;
        var i = position;
        SkipBlanks(text, ref i);
        if (i < text.Length && text[i] == '\n')
        {
            position = i + 1;
            return true; // empty line: nothing to record, nothing wrong
        }

        if (!TryConsumeWord(text, ref i, "export") && !TryConsumeDeclare(text, ref i))
        {
            return false;
        }

        if (!SkipBlanks(text, ref i))
        {
            return false;
        }

        var nameStart = i;
        while (i < text.Length && IsNameChar(text[i]))
        {
            i++;
        }

        name = text[nameStart..i];
        if (!IsValidName(name))
        {
            return false;
        }

        if (i < text.Length && text[i] == '=')
        {
            i++;
            if (!TryParseWord(text, ref i, out value))
            {
                return false;
            }
        }

        SkipBlanks(text, ref i);
        if (i < text.Length && text[i] != '\n')
        {
            return false;
        }

        position = Math.Min(i + 1, text.Length);
        return true;
    }

    private static bool TryConsumeWord(string text, ref int position, string word)
    {
        if (string.CompareOrdinal(text, position, word, 0, word.Length) != 0)
        {
            return false;
        }

        var end = position + word.Length;
        if (end < text.Length && text[end] is not (' ' or '\t'))
        {
            return false;
        }

        position = end;
        return true;
    }

    // bash: "declare -x", "declare -rx", "declare -ix" ...; the flags must include x to be an export.
    private static bool TryConsumeDeclare(string text, ref int position)
    {
        var i = position;
        if (!TryConsumeWord(text, ref i, "declare") || !SkipBlanks(text, ref i) || i >= text.Length || text[i] != '-')
        {
            return false;
        }

        var flagsStart = ++i;
        while (i < text.Length && char.IsAsciiLetter(text[i]))
        {
            i++;
        }

        if (text.AsSpan(flagsStart, i - flagsStart).IndexOf('x') < 0)
        {
            return false;
        }

        position = i;
        return true;
    }

    private static bool SkipBlanks(string text, ref int position)
    {
        var start = position;
        while (position < text.Length && text[position] is ' ' or '\t')
        {
            position++;
        }

        return position > start;
    }

    // A shell word: a concatenation of '...', "...", $'...' and unquoted characters, ending at a blank or newline.
    private static bool TryParseWord(string text, ref int position, out string? value)
    {
        value = null;
        var builder = new StringBuilder();
        var i = position;
        while (i < text.Length && text[i] is not (' ' or '\t' or '\n'))
        {
            var c = text[i];
            if (c == '\'')
            {
                var close = text.IndexOf('\'', i + 1);
                if (close < 0)
                {
                    return false;
                }

                builder.Append(text, i + 1, close - i - 1);
                i = close + 1;
            }
            else if (c == '"')
            {
                if (!TryParseDoubleQuoted(text, ref i, builder))
                {
                    return false;
                }
            }
            else if (c == '$' && i + 1 < text.Length && text[i + 1] == '\'')
            {
                if (!TryParseAnsiCQuoted(text, ref i, builder))
                {
                    return false;
                }
            }
            else if (c == '\\')
            {
                if (i + 1 >= text.Length)
                {
                    return false;
                }

                if (text[i + 1] != '\n')
                {
                    builder.Append(text[i + 1]); // a backslash-newline outside quotes is a line continuation
                }

                i += 2;
            }
            else
            {
                builder.Append(c);
                i++;
            }
        }

        position = i;
        value = builder.ToString();
        return true;
    }

    private static bool TryParseDoubleQuoted(string text, ref int position, StringBuilder builder)
    {
        var i = position + 1;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"')
            {
                position = i + 1;
                return true;
            }

            // Inside double quotes a backslash only escapes $ ` " \ and newline; elsewhere it is literal.
            if (c == '\\' && i + 1 < text.Length && text[i + 1] is '$' or '`' or '"' or '\\' or '\n')
            {
                if (text[i + 1] != '\n')
                {
                    builder.Append(text[i + 1]);
                }

                i += 2;
                continue;
            }

            builder.Append(c);
            i++;
        }

        return false;
    }

    // bash's $'...' (used by declare -p for values with control characters, e.g. $'l1\nl2'). Octal and \x escapes
    // are bytes: consecutive ones are decoded together as UTF-8 so $'\303\251' reads as "é".
    private static bool TryParseAnsiCQuoted(string text, ref int position, StringBuilder builder)
    {
        var pendingBytes = new List<byte>();
        void FlushBytes()
        {
            if (pendingBytes.Count > 0)
            {
                builder.Append(Encoding.UTF8.GetString(pendingBytes.ToArray()));
                pendingBytes.Clear();
            }
        }

        var i = position + 2;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\'')
            {
                FlushBytes();
                position = i + 1;
                return true;
            }

            if (c != '\\')
            {
                FlushBytes();
                builder.Append(c);
                i++;
                continue;
            }

            if (i + 1 >= text.Length)
            {
                return false;
            }

            var escape = text[i + 1];
            i += 2;
            if (escape is >= '0' and <= '7')
            {
                var value = escape - '0';
                for (var digits = 1; digits < 3 && i < text.Length && text[i] is >= '0' and <= '7'; digits++)
                {
                    value = (value * 8) + (text[i++] - '0');
                }

                pendingBytes.Add((byte)value);
                continue;
            }

            if (escape == 'x' && i < text.Length && char.IsAsciiHexDigit(text[i]))
            {
                var start = i;
                while (i < text.Length && i - start < 2 && char.IsAsciiHexDigit(text[i]))
                {
                    i++;
                }

                pendingBytes.Add(byte.Parse(text.AsSpan(start, i - start), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                continue;
            }

            FlushBytes();
            switch (escape)
            {
                case 'a': builder.Append('\a'); break;
                case 'b': builder.Append('\b'); break;
                case 'e' or 'E': builder.Append('\u001b'); break;
                case 'f': builder.Append('\f'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'v': builder.Append('\v'); break;
                case '\\' or '\'' or '"' or '?': builder.Append(escape); break;
                case 'u':
                    AppendCodePointEscape(text, ref i, 4, builder, escape);
                    break;
                case 'U':
                    AppendCodePointEscape(text, ref i, 8, builder, escape);
                    break;
                case 'c' when i < text.Length:
                    builder.Append((char)(text[i++] & 0x1F));
                    break;
                default:
                    builder.Append('\\').Append(escape); // unknown escapes stay literal, as in bash
                    break;
            }
        }

        return false;
    }

    private static void AppendCodePointEscape(string text, ref int position, int maxDigits, StringBuilder builder, char escape)
    {
        var start = position;
        while (position < text.Length && position - start < maxDigits && char.IsAsciiHexDigit(text[position]))
        {
            position++;
        }

        if (position == start)
        {
            builder.Append('\\').Append(escape);
            return;
        }

        var codePoint = int.Parse(text.AsSpan(start, position - start), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (codePoint is > 0x10FFFF or (>= 0xD800 and <= 0xDFFF))
        {
            builder.Append('\uFFFD');
        }
        else
        {
            builder.Append(char.ConvertFromUtf32(codePoint));
        }
    }
}
