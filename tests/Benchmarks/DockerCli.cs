using System.Diagnostics;

namespace SessionMcp.Benchmarks;

/// <summary>The docker CLI, as an agent without this server would use it.</summary>
internal static class DockerCli
{
    public static async Task<bool> EngineAnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await RunAsync(["version", "--format", "{{.Server.Version}}"], cancellationToken).ConfigureAwait(false)).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no docker binary
        }
    }

    public static async Task<string> ServerVersionAsync(CancellationToken cancellationToken) =>
        (await RunAsync(["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"], cancellationToken).ConfigureAwait(false)).Stdout.Trim();

    public static async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken) =>
        (await RunAsync(["image", "inspect", image], cancellationToken).ConfigureAwait(false)).ExitCode == 0;

    public static async Task<string> ContainerOfSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        // By name: a container from the warm pool keeps the pool's labels but takes its session's name.
        var ids = Array.Empty<string>();
        for (var attempt = 0; attempt < 50 && ids.Length == 0; attempt++)
        {
            var result = await RunAsync(["ps", "-q", "--filter", $"name=^session-mcp-{sessionId}$"], cancellationToken).ConfigureAwait(false);
            ids = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (ids.Length == 0)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
        return ids.Length == 1 ? ids[0] : throw new InvalidOperationException($"expected one running container named session-mcp-{sessionId}, found {ids.Length}");
    }

    public static async Task ExecTrueAsync(string container, CancellationToken cancellationToken)
    {
        var result = await RunAsync(["exec", container, "true"], cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker exec {container} true exited with {result.ExitCode}: {result.Stderr}");
        }
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("docker") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("docker did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
