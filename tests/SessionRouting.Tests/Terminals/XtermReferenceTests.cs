using System.Text.Json;
using SessionMcp.SessionRouting.Terminals;
using SessionMcp.Tests.Shared;
using Xunit.Abstractions;

namespace SessionMcp.SessionRouting.Tests.Terminals;

/// <summary>
/// Real programs' output (recorded in a pty by Recordings/record.py) rendered by <see cref="TerminalScreen"/> and by
/// @xterm/headless (tests/node/xterm-render.mjs), compared row by row, with the cursor, at several points of each
/// recording and at its end. The screen gets the bytes in random-sized chunks, so sequences split across feeds too.
/// </summary>
public sealed class XtermReferenceTests(ITestOutputHelper output)
{
    // Snapshots compared per recording; TERMINALS_CHECKPOINTS=3000 compares every few bytes when hunting a difference.
    private const int Checkpoints = 40;
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(2);

    public static string RecordingsDirectory =>
        Path.Combine(NodeScripts.RepoRoot, "tests", "SessionRouting.Tests", "Terminals", "Recordings");

    public static TheoryData<string> Recordings()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(RecordingsDirectory, "*.vt").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path));
        }
        return data;
    }

    [NodeTheory]
    [MemberData(nameof(Recordings))]
    public async Task ARecordingRendersAsXtermJsRendersIt(string recording)
    {
        // Given: the recording, its size from its name (NAME.COLSxROWS.vt), and checkpoints spread over it
        await NodeScripts.EnsureInstalledAsync();
        var path = Path.Combine(RecordingsDirectory, recording);
        var bytes = await File.ReadAllBytesAsync(path);
        var size = Path.GetFileNameWithoutExtension(recording).Split('.')[^1].Split('x');
        var (columns, rows) = (int.Parse(size[0]), int.Parse(size[1]));
        var checkpoints = int.TryParse(Environment.GetEnvironmentVariable("TERMINALS_CHECKPOINTS"), out var n) ? n : Checkpoints;
        var offsets = Enumerable.Range(1, checkpoints - 1).Select(i => (int)((long)bytes.Length * i / checkpoints)).Distinct().ToList();

        // When: xterm.js renders it at each checkpoint
        var result = await NodeScripts.RunScriptAsync("xterm-render.mjs",
            [path, columns.ToString(), rows.ToString(), .. offsets.Select(o => o.ToString())], ScriptTimeout);
        Assert.True(result.ExitCode == 0, $"xterm-render.mjs failed:\n{result}");
        var expected = JsonSerializer.Deserialize<Snapshot[]>(result.Stdout, JsonOptions)!;

        // Then: the screen fed the same bytes shows the same rows and cursor at each one
        var screen = new TerminalScreen(columns, rows);
        var random = new Random(recording.Length);
        var fed = 0;
        foreach (var snapshot in expected)
        {
            while (fed < snapshot.Offset)
            {
                var chunk = Math.Min(snapshot.Offset - fed, random.Next(1, 200));
                screen.Feed(bytes.AsSpan(fed, chunk));
                fed += chunk;
            }
            var actual = screen.Render();
            output.WriteLine($"--- {recording} after {snapshot.Offset} of {bytes.Length} bytes");
            foreach (var line in actual.Lines)
            {
                output.WriteLine($"|{line}");
            }
            for (var row = 0; row < rows; row++)
            {
                Assert.True(snapshot.Lines[row] == actual.Lines[row],
                    $"{recording} after {snapshot.Offset} bytes, row {row}:\n  xterm.js: |{snapshot.Lines[row]}|\n  screen:   |{actual.Lines[row]}|");
            }
            var at = $"{recording} after {snapshot.Offset} bytes";
            Assert.True((snapshot.CursorRow, snapshot.CursorColumn) == (actual.CursorRow, actual.CursorColumn),
                $"{at}: cursor at {(snapshot.CursorRow, snapshot.CursorColumn)} in xterm.js, {(actual.CursorRow, actual.CursorColumn)} on the screen");
            Assert.True(snapshot.CursorVisible == actual.CursorVisible, $"{at}: cursor visible {snapshot.CursorVisible} in xterm.js");
            Assert.True(snapshot.AlternateScreen == actual.AlternateScreen, $"{at}: alternate screen {snapshot.AlternateScreen} in xterm.js");
            Assert.True(snapshot.Title == actual.Title, $"{at}: title '{snapshot.Title}' in xterm.js, '{actual.Title}' on the screen");
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private sealed record Snapshot(int Offset, string[] Lines, int CursorRow, int CursorColumn, bool CursorVisible, bool AlternateScreen, string Title);
}
