using System.Diagnostics;

namespace SessionMcp.Benchmarks;

/// <summary>The commands the start-up figures need, prepared the way a user would: pack + tool install, npm ci.</summary>
internal static class ToolInstall
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(15);

    /// <summary>
    /// <c>dotnet pack src/McpServer -c Release -o DIR/packages</c> then
    /// <c>dotnet tool install session-mcp --tool-path DIR/tools --add-source DIR/packages</c> (the README's two commands,
    /// into a private tool path); returns the installed <c>session-mcp</c>.
    /// </summary>
    public static async Task<string> PackAndInstallAsync(string repositoryRoot, string directory, CancellationToken cancellationToken)
    {
        var packages = Path.Combine(directory, "packages");
        var tools = Path.Combine(directory, "tools");
        await RunAsync(repositoryRoot, "dotnet", ["pack", "src/McpServer", "-c", "Release", "-o", packages], [], cancellationToken).ConfigureAwait(false);
        await RunAsync(repositoryRoot, "dotnet", ["tool", "install", "session-mcp", "--tool-path", tools, "--add-source", packages], [], cancellationToken).ConfigureAwait(false);
        var command = Path.Combine(tools, "session-mcp");
        return File.Exists(command) ? command : throw new FileNotFoundException($"dotnet tool install left no {command}", command);
    }

    /// <summary>The reference filesystem server from tests/node, after <c>npm ci --ignore-scripts</c> when it is not there yet.</summary>
    public static async Task<string> ReferenceServerAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        var nodeDir = Path.Combine(repositoryRoot, "tests", "node");
        var script = Path.Combine(nodeDir, "node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js");
        if (!File.Exists(script))
        {
            await RunAsync(nodeDir, "npm", ["ci", "--ignore-scripts"], [("PUPPETEER_SKIP_DOWNLOAD", "1")], cancellationToken).ConfigureAwait(false);
        }
        return File.Exists(script) ? script : throw new FileNotFoundException($"npm ci left no {script}", script);
    }

    private static async Task RunAsync(string workingDirectory, string fileName, IReadOnlyList<string> arguments, IReadOnlyList<(string Name, string Value)> environment, CancellationToken cancellationToken)
    {
        var display = $"{fileName} {string.Join(' ', arguments)}";
        Console.Error.WriteLine($"benchmarks: {display}");
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{display} exited with {process.ExitCode}\n{await stdout.ConfigureAwait(false)}\n{await stderr.ConfigureAwait(false)}");
        }
    }
}
