using System.Diagnostics;
using System.Text.Json;

namespace SessionMcp.Benchmarks;

/// <summary>Start-up of one way to run an MCP server: spawn → <c>initialize</c> answered + <c>notifications/initialized</c> sent.</summary>
internal sealed record StartupSummary(string Name, string Command, LatencySummary Latency, double? PeakRssMiB);

/// <summary>One way to start a server over stdio. <c>{data}</c> in an argument is replaced by a fresh temp dir per run.</summary>
internal sealed record StartupCommand(string Name, string Display, string FileName, IReadOnlyList<string> Arguments, string WorkingDirectory, int Count);

/// <summary>
/// Times server start-up with raw JSON-RPC lines over stdio (no SDK client in between: it would add its own start-up
/// and JIT to every sample). One sample: start the process, write <c>initialize</c>, read stdout up to its answer,
/// write <c>notifications/initialized</c>. Peak RSS is VmHWM of the process and its descendants at that moment
/// (summed, so for <c>dotnet run</c> it counts the CLI and the server it started).
/// </summary>
internal static class Startup
{
    public const string InstalledTool = "installed tool: `session-mcp serve` (pack + tool install, ReadyToRun)";
    public const string DotnetRun = "`mcp.json` today: `dotnet run --project src/McpServer ... -- serve` (Debug, JIT)";
    public const string DotnetDll = "`dotnet session-mcp.dll serve` (Release build, JIT)";
    public const string ReferenceServer = "reference: `@modelcontextprotocol/server-filesystem` (node)";
    public const double TargetMs = 250;

    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private static readonly string InitializeLine = JsonSerializer.Serialize(new
    {
        jsonrpc = "2.0",
        id = 1,
        method = "initialize",
        @params = new
        {
            protocolVersion = "2025-11-25",
            capabilities = new { },
            clientInfo = new { name = "session-mcp-startup-benchmark", version = "1.0" },
        },
    });

    private const string InitializedLine = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    /// <summary>
    /// Runs every command <see cref="StartupCommand.Count"/> times after one discarded warm-up each (the first start
    /// after a build or install reads its files from disk), interleaved round by round so that load from other
    /// processes hits all of them alike. Only spawn → initialized is timed, not the shutdown after it.
    /// </summary>
    public static async Task<List<StartupSummary>> MeasureAsync(IReadOnlyList<StartupCommand> commands, CancellationToken cancellationToken)
    {
        foreach (var command in commands)
        {
            await OnceAsync(command, cancellationToken).ConfigureAwait(false);
        }
        var times = commands.Select(c => new List<double>(c.Count)).ToArray();
        var peaks = commands.Select(c => new List<double>(c.Count)).ToArray();
        var rounds = commands.Max(c => c.Count);
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < commands.Count; k++)
            {
                // Command k runs Count times in `rounds` rounds: whenever round * Count / rounds reaches a new integer.
                if ((long)(round + 1) * commands[k].Count / rounds == (long)round * commands[k].Count / rounds)
                {
                    continue;
                }
                var (millis, peak) = await OnceAsync(commands[k], cancellationToken).ConfigureAwait(false);
                times[k].Add(millis);
                if (peak is { } mib)
                {
                    peaks[k].Add(mib);
                }
            }
        }
        var results = new List<StartupSummary>();
        for (var k = 0; k < commands.Count; k++)
        {
            var latency = LatencySummary.From(commands[k].Name, times[k]);
            var rss = peaks[k].Count == 0 ? (double?)null : LatencySummary.From(commands[k].Name, peaks[k]).P50;
            Console.Error.WriteLine($"  {latency.Name}: p50 {latency.P50:0} ms  p90 {latency.P90:0} ms  min {latency.Min:0} ms  peak RSS {rss:0} MiB  (n={latency.Count})");
            results.Add(new StartupSummary(commands[k].Name, commands[k].Display, latency, rss));
        }
        return results;
    }

    /// <summary>One start: milliseconds from spawn to initialized, and the peak RSS in MiB then (null when /proc did not tell).</summary>
    private static async Task<(double Millis, double? PeakRssMiB)> OnceAsync(StartupCommand command, CancellationToken cancellationToken)
    {
        var dataDir = Directory.CreateTempSubdirectory("session-mcp-startup-").FullName;
        var start = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = command.WorkingDirectory,
        };
        foreach (var argument in command.Arguments)
        {
            start.ArgumentList.Add(argument.Replace("{data}", dataDir, StringComparison.Ordinal));
        }
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SESSION_MCP_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RunTimeout);
        var started = Stopwatch.GetTimestamp();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command.FileName} did not start");
        // stderr is drained so a chatty server never blocks on a full pipe; it is shown only if the start fails.
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.StandardInput.WriteLineAsync(InitializeLine.AsMemory(), timeout.Token).ConfigureAwait(false);
            await process.StandardInput.FlushAsync(timeout.Token).ConfigureAwait(false);
            await ReadAnswerAsync(process.StandardOutput, timeout.Token).ConfigureAwait(false);
            await process.StandardInput.WriteLineAsync(InitializedLine.AsMemory(), timeout.Token).ConfigureAwait(false);
            await process.StandardInput.FlushAsync(timeout.Token).ConfigureAwait(false);
            var millis = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var peak = PeakRssMiB(process.Id);

            // A client ends a stdio server by closing its stdin.
            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return (millis, peak);
        }
        catch (Exception e) when ((e is OperationCanceledException or IOException or InvalidOperationException) && !cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            var log = await stderr.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            throw new InvalidOperationException($"{command.Display} did not start (exit code {process.ExitCode}): {e.Message}\n--- stderr ---\n{log}", e);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            TryDeleteDirectory(dataDir);
        }
    }

    private static async Task ReadAnswerAsync(StreamReader stdout, CancellationToken cancellationToken)
    {
        while (await stdout.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            using var message = JsonDocument.Parse(line);
            if (message.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number && id.GetInt32() == 1)
            {
                if (!message.RootElement.TryGetProperty("result", out _))
                {
                    throw new InvalidOperationException($"initialize failed: {line}");
                }
                return;
            }
        }
        throw new InvalidOperationException("stdout closed before initialize was answered");
    }

    /// <summary>Sum of VmHWM over the process and its descendants (their peaks need not coincide: an upper bound).</summary>
    private static double? PeakRssMiB(int pid)
    {
        try
        {
            var children = new Dictionary<int, List<int>>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), out var candidate) && ParentOf(candidate) is { } parent)
                {
                    (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(candidate);
                }
            }
            var totalKiB = 0L;
            var pending = new Stack<int>([pid]);
            while (pending.TryPop(out var current))
            {
                totalKiB += HighWaterMarkKiB(current);
                foreach (var child in children.GetValueOrDefault(current) ?? [])
                {
                    pending.Push(child);
                }
            }
            return totalKiB / 1024.0;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static int? ParentOf(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static long HighWaterMarkKiB(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
