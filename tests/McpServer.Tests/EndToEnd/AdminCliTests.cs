using System.Diagnostics;
using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The admin commands through the real binary, on the database a running server writes.</summary>
public sealed class AdminCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly TimeSpan FollowTimeout = TimeSpan.FromSeconds(30);

    private ServerProcess Server => fixture.Server;

    [Fact]
    public async Task AMisspelledFlagExitsWith2AndNamesTheFlagItMeant()
    {
        // Given a data directory that is not the one the misspelled flag names
        using var other = new TempDirectory("other");

        // When
        var result = await ServerCli.RunAsync(fixture.DataDir, ["sessions", "--data-dri", other.Path]);

        // Then
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("unknown option --data-dri; did you mean --data-dir?", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("session-mcp --help", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task VersionPrintsTheVersionWithoutTheCommitSuffix()
    {
        // Given / When
        var result = await ServerCli.RunAsync(fixture.DataDir, ["--version"]);

        // Then
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^session-mcp \d+\.\d+\.\d+[^+\s]*\n$", result.Stdout);
    }

    [Fact]
    public async Task TailOfOneSessionShowsOnlyItsEventsAndItsId()
    {
        // Given two sessions with a command each
        var mine = await Server.CreateSessionAsync(Backends.Local);
        var other = await Server.CreateSessionAsync(Backends.Local);
        await Server.RunAsync(mine, "echo mine-tail");
        await Server.RunAsync(other, "echo other-tail");

        // When
        var tail = await ServerCli.RunAsync(fixture.DataDir, ["audit", "tail", "--session", mine, "-n", "50"]);
        var unknown = await ServerCli.RunAsync(fixture.DataDir, ["audit", "tail", "--session", "s-zzzzzzzz"]);

        // Then every line is an event of that session, and names it
        Assert.True(tail.ExitCode == 0, tail.ToString());
        var lines = tail.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Contains(mine, line, StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Contains("echo mine-tail", StringComparison.Ordinal));
        Assert.DoesNotContain("other-tail", tail.Stdout, StringComparison.Ordinal);
        Assert.True(unknown.ExitCode == 2, unknown.ToString());
        Assert.Contains("no session s-zzzzzzzz", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TailFollowPrintsAnEventAppendedAfterItStarted()
    {
        // Given a session, and a follower of its events started after the session was created
        var id = await Server.CreateSessionAsync(Backends.Local);
        using var follower = StartFollower(fixture.DataDir, id);
        using var timeout = new CancellationTokenSource(FollowTimeout);
        try
        {
            await ReadUntilAsync(follower, line => line.Contains("session_created", StringComparison.Ordinal), timeout.Token);

            // When the server appends an event
            await Server.RunAsync(id, "echo followed-marker");

            // Then the follower prints it, and a SIGTERM ends it normally
            var printed = await ReadUntilAsync(follower, line => line.Contains("followed-marker", StringComparison.Ordinal), timeout.Token);
            Assert.Contains(id, printed, StringComparison.Ordinal);
            using (var term = Process.Start("kill", ["-TERM", follower.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync(timeout.Token);
            }
            await follower.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, follower.ExitCode);
        }
        finally
        {
            if (!follower.HasExited)
            {
                follower.Kill();
            }
        }
    }

    [Fact]
    public async Task ExportWithoutAFormatWritesJsonLines()
    {
        // Given an event in the store
        var id = await Server.CreateSessionAsync(Backends.Local);

        // When
        var bare = await ServerCli.RunAsync(fixture.DataDir, ["audit", "export"]);
        var other = await ServerCli.RunAsync(fixture.DataDir, ["audit", "export", "--format", "csv"]);

        // Then the default is JSON lines, and any other format is refused by name
        Assert.True(bare.ExitCode == 0, bare.ToString());
        var events = bare.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!.AsObject()).ToList();
        Assert.Contains(events, e => e["session_id"]?.GetValue<string>() == id);
        Assert.True(other.ExitCode == 2, other.ToString());
        Assert.Contains("--format must be jsonl", other.Stderr, StringComparison.Ordinal);
    }

    private static Process StartFollower(string dataDir, string sessionId)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { ServerProcess.ServerDll, "audit", "tail", "--follow", "--session", sessionId, "--data-dir", dataDir })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        // Drained so a chatty stderr cannot block the follower.
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Reads the follower's stdout line by line until a line matches; fails on end of output or timeout.</summary>
    private static async Task<string> ReadUntilAsync(Process follower, Func<string, bool> match, CancellationToken cancellationToken)
    {
        var seen = new List<string>();
        try
        {
            while (await follower.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            {
                if (match(line))
                {
                    return line;
                }
                seen.Add(line);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the follower printed no matching line within {FollowTimeout.TotalSeconds:0} s; it printed:\n{string.Join('\n', seen)}");
        }
        Assert.Fail($"the follower ended (exit {(follower.HasExited ? follower.ExitCode : -1)}) without a matching line; it printed:\n{string.Join('\n', seen)}");
        return "";
    }
}
