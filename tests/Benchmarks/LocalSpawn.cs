using System.Diagnostics;
using SessionMcp.Containers.Local;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Benchmarks;

/// <summary>The floor for a local exec: starting <c>/bin/sh -c true</c> from .NET without any server in between.</summary>
internal static class LocalSpawn
{
    private const int CaptureBytes = 1024 * 1024;

    /// <summary>System.Diagnostics.Process, stdout and stderr captured (as any caller that wants the output does).</summary>
    public static async Task ProcessCapturedAsync(CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", "true" },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("/bin/sh did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
        RequireSuccess(process.ExitCode, "sh -c true (Process)");
    }

    /// <summary>System.Diagnostics.Process with inherited stdio: the least a spawn can cost from .NET.</summary>
    public static async Task ProcessInheritedAsync(CancellationToken cancellationToken)
    {
        using var process = Process.Start(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "true" }, UseShellExecute = false })
            ?? throw new InvalidOperationException("/bin/sh did not start");
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        RequireSuccess(process.ExitCode, "sh -c true (Process, inherited stdio)");
    }

    /// <summary>The server's own posix_spawn runner, in-process: what the local backend pays before its shell wrapper.</summary>
    public static async Task OwnRunnerAsync(CancellationToken cancellationToken)
    {
        var spec = new ProcessRunSpec(
            "/bin/sh",
            ["-c", "true"],
            new Dictionary<string, string> { ["PATH"] = "/usr/local/bin:/usr/bin:/bin" },
            Path.GetTempPath(),
            Stdin: null,
            Timeout.InfiniteTimeSpan);
        var result = await LocalProcessRunner.RunAsync(spec, new OutputCapture(CaptureBytes), new OutputCapture(CaptureBytes), cancellationToken).ConfigureAwait(false);
        RequireSuccess(result.ExitCode, "sh -c true (LocalProcessRunner)");
    }

    private static void RequireSuccess(int exitCode, string what)
    {
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{what} exited with {exitCode}");
        }
    }
}
