using System.Diagnostics;
using System.Text;

namespace SessionMcp.Tests.Shared;

/// <summary>What a Node script printed and how it exited.</summary>
public sealed record ScriptResult(int ExitCode, string Stdout, string Stderr, TimeSpan Duration)
{
    public override string ToString() => $"exit {ExitCode} after {Duration.TotalSeconds:0.0} s\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the scripts in tests/node (the official TypeScript MCP SDK, the Inspector CLI, the xterm.js reference renderer) from the repository root,
/// installing their pinned packages with <c>npm ci</c> first when needed.
/// </summary>
public static class NodeScripts
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(12);

    /// <summary>The checkout: the first directory above the test assembly that holds Mcp.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string NodeDirectory => Path.Combine(RepoRoot, "tests", "node");

    /// <summary>
    /// Runs <c>npm ci</c> in tests/node when node_modules is missing or older than package-lock.json. Several test
    /// processes may get here at once: an exclusive lock on a file serialises them, and each re-checks under it.
    /// </summary>
    public static async Task EnsureInstalledAsync(CancellationToken cancellationToken = default)
    {
        if (IsInstalled())
        {
            return;
        }
        await using var installLock = await AcquireLockAsync(Path.Combine(NodeDirectory, ".npm-ci.lock"), cancellationToken).ConfigureAwait(false);
        if (IsInstalled())
        {
            return;
        }
        var npm = NodeRequirement.FindOnPath("npm") ?? throw new InvalidOperationException($"npm is not on PATH{(NodeRequirement.InCi ? " (CI=true: the Node tests must run, install Node.js 20+)" : "")}");
        var result = await RunAsync(npm, ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], NodeDirectory, InstallTimeout,
            new Dictionary<string, string> { ["PUPPETEER_SKIP_DOWNLOAD"] = "1" }, cancellationToken).ConfigureAwait(false);
        Assert.True(result.ExitCode == 0, $"npm ci in {NodeDirectory} failed: {result}");
        Assert.True(IsInstalled(), $"npm ci left no node_modules/.package-lock.json newer than package-lock.json: {result}");
    }

    /// <summary>Runs <c>node tests/node/&lt;script&gt;</c> with the repository root as working directory.</summary>
    public static Task<ScriptResult> RunScriptAsync(string script, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        RunScriptAsync(script, [], timeout, cancellationToken);

    /// <summary>Runs <c>node tests/node/&lt;script&gt; arguments...</c> with the repository root as working directory.</summary>
    public static Task<ScriptResult> RunScriptAsync(string script, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var node = NodeRequirement.FindOnPath("node") ?? throw new InvalidOperationException($"node is not on PATH{(NodeRequirement.InCi ? " (CI=true: the Node tests must run, install Node.js 20+)" : "")}");
        return RunAsync(node, [Path.Combine(NodeDirectory, script), .. arguments], RepoRoot, timeout, new Dictionary<string, string>(), cancellationToken);
    }

    // npm ci writes node_modules/.package-lock.json last: it marks a finished install of a given lockfile.
    private static bool IsInstalled()
    {
        var installed = new FileInfo(Path.Combine(NodeDirectory, "node_modules", ".package-lock.json"));
        var lockfile = new FileInfo(Path.Combine(NodeDirectory, "package-lock.json"));
        return installed.Exists && installed.LastWriteTimeUtc >= lockfile.LastWriteTimeUtc;
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + LockTimeout;
        // FileShare.None takes an exclusive flock that other processes see; it cannot block, so retry until it is free.
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<ScriptResult> RunAsync(
        string executable, IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout,
        IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // A developer's own SESSION_MCP_* settings must not reach the servers the scripts start.
        foreach (var name in start.Environment.Keys.Where(key => key.StartsWith("SESSION_MCP_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Append(stdout, line.Data);
        process.ErrorDataReceived += (_, line) => Append(stderr, line.Data);
        var stopwatch = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The script's servers are its descendants: take them all down.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            Assert.Fail($"{Path.GetFileName(executable)} {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds:0} s\n"
                + new ScriptResult(-1, Read(stdout), Read(stderr), stopwatch.Elapsed));
        }
        return new ScriptResult(process.ExitCode, Read(stdout), Read(stderr), stopwatch.Elapsed);
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Read(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mcp.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"no Mcp.sln above {AppContext.BaseDirectory}");
    }
}
