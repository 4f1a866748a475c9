using System.Text;
using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Terminals;

namespace SessionMcp.SessionRouting.Tests.Terminals;

/// <summary>The asciicast v3 file a terminal leaves: header, then one event per line, secrets left out.</summary>
public sealed class AsciicastRecorderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cast").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void EventsAreRecordedAsAsciicastV3WithCharactersSplitAcrossWritesKept()
    {
        // Given
        var path = Path.Combine(_directory, "t.cast");
        using (var recorder = AsciicastRecorder.Create(path, 80, 24, "sh -i", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)))
        {
            // When output arrives with "é" split across two writes, then input, a password, a resize and the exit
            var bytes = Encoding.UTF8.GetBytes("caf\u00e9\r\n");
            recorder.Output(bytes.AsSpan(0, 4));
            recorder.Output(bytes.AsSpan(4));
            recorder.Input("ls\r", hidden: false);
            recorder.Input("hunter2\r", hidden: true);
            recorder.Resize(100, 30);
            recorder.Exit(0);
        }

        // Then
        var lines = File.ReadAllLines(path);
        var header = JsonNode.Parse(lines[0])!;
        Assert.Equal(3, header["version"]!.GetValue<int>());
        Assert.Equal(80, header["term"]!["cols"]!.GetValue<int>());
        Assert.Equal(1_700_000_000, header["timestamp"]!.GetValue<long>());
        var events = lines.Skip(1).Select(l => JsonNode.Parse(l)!.AsArray()).ToList();
        Assert.All(events, e => Assert.True(e[0]!.GetValue<double>() >= 0));
        Assert.Equal(["o", "o", "i", "m", "r", "x"], events.Select(e => e[1]!.GetValue<string>()));
        Assert.Equal("caf\u00e9\r\n", events[0][2]!.GetValue<string>() + events[1][2]!.GetValue<string>());
        Assert.Equal("ls\r", events[2][2]!.GetValue<string>());
        Assert.DoesNotContain("hunter2", File.ReadAllText(path));
        Assert.Equal("100x30", events[4][2]!.GetValue<string>());
        Assert.Equal("0", events[5][2]!.GetValue<string>());
    }
}
