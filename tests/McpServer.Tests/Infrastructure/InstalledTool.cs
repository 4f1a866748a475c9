using System.Diagnostics;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// session-mcp packed and installed the way the README says (<c>dotnet pack src/McpServer -c Release -o DIR</c>, then
/// <c>dotnet tool install session-mcp --add-source DIR</c>), into a private <c>--tool-path</c> under a temp directory.
/// </summary>
public static class InstalledTool
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Packs and installs under <paramref name="directory"/>; returns the installed <c>session-mcp</c> command.</summary>
    public static async Task<string> PackAndInstallAsync(string directory, CancellationToken cancellationToken = default)
    {
        var packages = Path.Combine(directory, "packages");
        var tools = Path.Combine(directory, "tools");
        await DotnetAsync(["pack", "src/McpServer", "-c", "Release", "-o", packages], cancellationToken).ConfigureAwait(false);
        await DotnetAsync(["tool", "install", "session-mcp", "--tool-path", tools, "--add-source", packages], cancellationToken).ConfigureAwait(false);
        var command = Path.Combine(tools, "session-mcp");
        Assert.True(File.Exists(command), $"dotnet tool install left no {command}");
        return command;
    }

    private static async Task DotnetAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // The test host runs inside an SDK command; its MSBuild variables would point a nested build at the wrong MSBuild.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish within {CommandTimeout.TotalMinutes:0} min");
        }
        Assert.True(process.ExitCode == 0,
            $"dotnet {string.Join(' ', arguments)} exited with {process.ExitCode}\n--- stdout ---\n{await stdout.ConfigureAwait(false)}\n--- stderr ---\n{await stderr.ConfigureAwait(false)}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mcp.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no Mcp.sln above {AppContext.BaseDirectory}");
    }
}
