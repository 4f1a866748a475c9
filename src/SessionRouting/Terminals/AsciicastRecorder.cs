using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// A terminal's recording in the asciicast v3 format (a JSON header line, then one <c>[interval, code, data]</c> line per
/// event: "o" output, "i" input, "r" resize, "x" exit), written as it happens, so <c>asciinema play</c> replays it.
/// Output is decoded as UTF-8 across writes. The file stops growing at <see cref="MaxBytes"/>, with a marker event.
/// Input typed while the terminal does not echo (a password prompt) is recorded as a marker, never as what was typed.
/// </summary>
internal sealed class AsciicastRecorder : IDisposable
{
    public const long MaxBytes = 16L << 20;

    private readonly Lock _gate = new();
    private readonly FileStream _file;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private long _last;
    private bool _full;

    private AsciicastRecorder(FileStream file, long startTicks)
    {
        _file = file;
        _last = startTicks;
    }

    public static AsciicastRecorder Create(string path, int columns, int rows, string command, DateTimeOffset startedAt)
    {
        var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        var recorder = new AsciicastRecorder(file, System.Diagnostics.Stopwatch.GetTimestamp());
        var header = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["version"] = 3,
            ["term"] = new Dictionary<string, object> { ["cols"] = columns, ["rows"] = rows, ["type"] = "xterm-256color" },
            ["timestamp"] = startedAt.ToUnixTimeSeconds(),
            ["command"] = command,
        });
        recorder.WriteLine(header);
        return recorder;
    }

    public void Output(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            var chars = new char[_decoder.GetCharCount(bytes, flush: false)];
            var count = _decoder.GetChars(bytes, chars, flush: false);
            if (count > 0)
            {
                Event("o", new string(chars, 0, count));
            }
        }
    }

    public void Input(string text, bool hidden)
    {
        lock (_gate)
        {
            if (hidden)
            {
                Event("m", "input not recorded: the terminal was not echoing (a password?)");
            }
            else
            {
                Event("i", text);
            }
        }
    }

    public void Resize(int columns, int rows)
    {
        lock (_gate)
        {
            Event("r", string.Create(CultureInfo.InvariantCulture, $"{columns}x{rows}"));
        }
    }

    public void Exit(int? exitCode)
    {
        lock (_gate)
        {
            Event("x", (exitCode ?? -1).ToString(CultureInfo.InvariantCulture));
            _file.Flush();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
        }
    }

    private void Event(string code, string data)
    {
        if (_full)
        {
            return;
        }
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var interval = (double)(now - _last) / System.Diagnostics.Stopwatch.Frequency;
        _last = now;
        var line = $"[{interval.ToString("0.######", CultureInfo.InvariantCulture)}, {JsonSerializer.Serialize(code)}, {JsonSerializer.Serialize(data)}]";
        if (_file.Length + line.Length + 200 > MaxBytes)
        {
            _full = true;
            line = $"[{interval.ToString("0.######", CultureInfo.InvariantCulture)}, \"m\", \"recording stopped: it reached {MaxBytes >> 20} MiB\"]";
        }
        WriteLine(line);
    }

    private void WriteLine(string line)
    {
        _file.Write(Encoding.UTF8.GetBytes(line + "\n"));
        _file.Flush();
    }
}
