namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// What the server keeps of one terminal besides its output journal: the rendered screen (fed as output arrives) and the
/// asciicast recording (none for a terminal reopened after a restart: its recording ended with the server that ran
/// it). The screen is read by tool calls while the output pump feeds it, hence the lock.
/// </summary>
internal sealed class TerminalState(TerminalScreen screen, AsciicastRecorder? recorder) : IDisposable
{
    private readonly Lock _gate = new();
    private long _lastReadVersion;

    public AsciicastRecorder? Recorder { get; } = recorder;

    /// <summary>How much of the terminal's output the last screen read had seen: a wait for "new output" starts there.</summary>
    public long SeenBytes { get; set; }

    public void Output(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            screen.Feed(bytes);
        }
        Recorder?.Output(bytes);
    }

    public void Resize(int columns, int rows)
    {
        lock (_gate)
        {
            screen.Resize(columns, rows);
        }
        Recorder?.Resize(columns, rows);
    }

    public ScreenSnapshot Render()
    {
        lock (_gate)
        {
            var snapshot = screen.Render();
            _lastReadVersion = snapshot.Version;
            return snapshot;
        }
    }

    /// <summary>The lines changed since the previous read of this terminal (every line on the first).</summary>
    public ScreenChanges Changes()
    {
        lock (_gate)
        {
            var changes = screen.ChangedLines(_lastReadVersion);
            _lastReadVersion = changes.Version;
            return changes;
        }
    }

    /// <summary>Replies the program asked the terminal for (cursor position reports); written back to its input.</summary>
    public string TakeResponses()
    {
        lock (_gate)
        {
            return screen.TakeResponses();
        }
    }

    public void Dispose() => Recorder?.Dispose();
}
