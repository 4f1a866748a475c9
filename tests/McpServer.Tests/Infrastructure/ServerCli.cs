using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>What an admin command printed and how it exited.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs the real <c>session-mcp</c> admin commands (<c>audit verify</c>, <c>audit export</c>, <c>sessions</c>).</summary>
public static class ServerCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<CliResult> RunAsync(string dataDir, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ServerProcess.ServerDll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add("--data-dir");
        start.ArgumentList.Add(dataDir);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"session-mcp {string.Join(' ', arguments)} did not finish within {Timeout.TotalSeconds:0} s");
        }
        return new CliResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    public static Task<CliResult> VerifyAsync(string dataDir, CancellationToken cancellationToken = default) =>
        RunAsync(dataDir, ["audit", "verify"], cancellationToken);

    /// <summary>The raw output of <c>audit export --format jsonl</c>: everything the store holds, as text.</summary>
    public static async Task<string> ExportTextAsync(string dataDir, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(dataDir, ["audit", "export", "--format", "jsonl"], cancellationToken).ConfigureAwait(false);
        Assert.True(result.ExitCode == 0, $"audit export failed: {result}");
        return result.Stdout;
    }

    /// <summary><c>audit export --format jsonl</c>, parsed: one JSON object per event.</summary>
    public static async Task<IReadOnlyList<JsonObject>> ExportAsync(string dataDir, CancellationToken cancellationToken = default)
    {
        var text = await ExportTextAsync(dataDir, cancellationToken).ConfigureAwait(false);
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!.AsObject())];
    }
}
