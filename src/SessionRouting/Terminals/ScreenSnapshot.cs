namespace SessionMcp.SessionRouting.Terminals;

/// <summary>
/// The rendered screen of a <see cref="TerminalScreen"/>: one string per row (trailing spaces trimmed, a wide character
/// once), the cursor (0-based, always inside the grid), and the <see cref="Version"/> to pass to
/// <see cref="TerminalScreen.ChangedLines"/> for what changes after it.
/// </summary>
internal sealed record ScreenSnapshot(
    IReadOnlyList<string> Lines,
    int CursorRow,
    int CursorColumn,
    bool CursorVisible,
    bool AlternateScreen,
    string Title,
    int Columns,
    int Rows,
    long Version)
{
    /// <summary>The rows joined with '\n', without the empty rows at the bottom.</summary>
    public string Text
    {
        get
        {
            var last = Lines.Count - 1;
            while (last >= 0 && Lines[last].Length == 0)
            {
                last--;
            }
            return string.Join('\n', Lines.Take(last + 1));
        }
    }
}

/// <summary>A row whose text changed, and its text now.</summary>
internal sealed record ChangedLine(int Row, string Text);

/// <summary>
/// The rows that changed since a version token (in row order), the cursor and state now, and the token to ask with
/// next time.
/// </summary>
internal sealed record ScreenChanges(
    IReadOnlyList<ChangedLine> Lines,
    int CursorRow,
    int CursorColumn,
    bool CursorVisible,
    bool AlternateScreen,
    string Title,
    long Version);
