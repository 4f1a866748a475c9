using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace SessionMcp.Benchmarks;

/// <summary>Facts that make a figure comparable with another run.</summary>
internal sealed record MachineFacts(int Cores, string Kernel, string Runtime, string? DockerEngine, string LoadBefore, string LoadAfter);

/// <summary>One issue-3 target: <paramref name="Passed"/> is null when it could not be measured in this run.</summary>
internal sealed record TargetVerdict(string Target, string Measured, string Limit, bool? Passed);

internal sealed record BenchmarkReport(
    DateTimeOffset StartedAt,
    TimeSpan Elapsed,
    MachineFacts Machine,
    IReadOnlyList<LatencySummary> Results,
    IReadOnlyList<TargetVerdict> Verdicts,
    IReadOnlyList<StartupSummary> Startup,
    TargetVerdict? StartupVerdict,
    IReadOnlyList<string> Notes);

/// <summary>Runs every measurement in a fixed order against one server process and derives the verdicts.</summary>
internal static class BenchmarkRun
{
    public const string ProcessSpawn = "spawn `sh -c true`: .NET Process, output captured";
    public const string ProcessSpawnInherited = "spawn `sh -c true`: .NET Process, stdio inherited";
    public const string OwnRunner = "spawn `sh -c true`: LocalProcessRunner (posix_spawn), in-process";
    public const string InProcessBackendExec = "`true` via LocalBackend.ExecAsync, in-process (runner + shell wrapper + state file)";
    public const string McpFloor = "`session_list` (a tools/call with no process: transport + dispatch + audit)";
    public const string LocalExec = "`session_exec` `true`, local session";
    public const string LocalRead = "`session_read_file`, 200-line file, local";
    public const string LocalEdit = "`session_edit_file`, 200-line file, local";
    public const string DockerExec = "`session_exec` `true`, docker session";
    public const string DockerRead = "`session_read_file`, 200-line file, docker";
    public const string DockerEdit = "`session_edit_file`, 200-line file, docker";
    public const string DockerCliExec = "`docker exec <container> true` (CLI)";

    private const string DockerImage = "session-mcp/busybox:latest";
    private const string EditedFile = "two-hundred-lines.txt";

    public static async Task<BenchmarkReport> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var loadBefore = LoadAverage();
        var results = new List<LatencySummary>();
        var notes = new List<string>();
        Console.Error.WriteLine($"benchmarks: load {loadBefore}");

        var dockerEngine = options.Latency ? await LatencyAsync(options, results, notes, cancellationToken).ConfigureAwait(false) : null;
        var startup = options.Startup ? await StartupAsync(options, cancellationToken).ConfigureAwait(false) : [];

        var machine = new MachineFacts(Environment.ProcessorCount, KernelRelease(), RuntimeInformation.FrameworkDescription, dockerEngine, loadBefore, LoadAverage());
        var verdicts = options.Latency ? Verdicts(results) : [];
        var startupVerdict = startup.FirstOrDefault(r => r.Name == Startup.InstalledTool) is { } tool
            ? new TargetVerdict("installed tool: spawn → initialized p50 ≤ 250 ms", $"{tool.Latency.P50:0} ms (p90 {tool.Latency.P90:0} ms)", $"≤ {Startup.TargetMs:0} ms", tool.Latency.P50 <= Startup.TargetMs)
            : null;
        return new BenchmarkReport(startedAt, clock.Elapsed, machine, results, verdicts, startup, startupVerdict, notes);
    }

    /// <summary>The exec, read and edit latencies (issue 3); returns the Docker engine's version when one answered.</summary>
    private static async Task<string?> LatencyAsync(BenchmarkOptions options, List<LatencySummary> results, List<string> notes, CancellationToken cancellationToken)
    {
        var (n, warmUp) = (options.Iterations, options.WarmUp);
        Console.Error.WriteLine($"benchmarks: in-process spawn figures (n={n})");
        results.Add(await Measure.RunAsync(ProcessSpawnInherited, warmUp, n, (_, ct) => LocalSpawn.ProcessInheritedAsync(ct), cancellationToken));
        results.Add(await Measure.RunAsync(OwnRunner, warmUp, n, (_, ct) => LocalSpawn.OwnRunnerAsync(ct), cancellationToken));
        using (var backend = await InProcessBackend.CreateAsync(cancellationToken))
        {
            results.Add(await Measure.RunAsync(InProcessBackendExec, warmUp, n, (_, ct) => backend.ExecAsync("true", ct), cancellationToken));
        }

        var dockerEngine = options.Docker && await DockerCli.EngineAnswersAsync(cancellationToken) ? await DockerCli.ServerVersionAsync(cancellationToken) : null;
        var dataDir = Directory.CreateTempSubdirectory("session-mcp-bench-").FullName;
        try
        {
            Console.Error.WriteLine($"benchmarks: server over stdio (data dir {dataDir})");
            await using var server = await ServerClient.StartAsync(dataDir, cancellationToken);
            results.Add(await Measure.RunAsync(McpFloor, warmUp, n, (_, ct) => server.ListSessionsAsync(ct), cancellationToken));
            // Target (b)'s baseline runs interleaved with the exec it is compared to.
            results.AddRange(await SessionSuiteAsync(server, "local", LocalExec, LocalRead, LocalEdit, options, cancellationToken,
                (_, _) => Task.FromResult(new Subject(ProcessSpawn, n, (_, ct) => LocalSpawn.ProcessCapturedAsync(ct)))));

            if (dockerEngine is null)
            {
                notes.Add(options.Docker
                    ? "No Docker engine answered (`docker version` failed): the docker rows and target (a) were not measured. Start one with `.ci/start-docker.sh`."
                    : "Docker measurements skipped (--no-docker).");
            }
            else
            {
                await EnsureImageAsync(cancellationToken);
                results.AddRange(await SessionSuiteAsync(server, "docker", DockerExec, DockerRead, DockerEdit, options, cancellationToken, async (sessionId, ct) =>
                {
                    var container = await DockerCli.ContainerOfSessionAsync(sessionId, ct);
                    return new Subject(DockerCliExec, options.CliIterations, (_, c) => DockerCli.ExecTrueAsync(container, c));
                }));
            }
        }
        finally
        {
            TryDeleteDirectory(dataDir);
        }
        return dockerEngine;
    }

    /// <summary>
    /// Spawn → initialized for the installed tool (packed and installed here into a temp tool path), <c>dotnet run</c>
    /// as <c>mcp.json</c> does it, the Release DLL under <c>dotnet</c>, and the reference filesystem server.
    /// </summary>
    private static async Task<List<StartupSummary>> StartupAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var root = RepositoryRoot();
        var installDir = Directory.CreateTempSubdirectory("session-mcp-bench-tool-").FullName;
        try
        {
            Console.Error.WriteLine($"benchmarks: start-up (installing the tool under {installDir})");
            var tool = await ToolInstall.PackAndInstallAsync(root, installDir, cancellationToken).ConfigureAwait(false);
            var reference = await ToolInstall.ReferenceServerAsync(root, cancellationToken).ConfigureAwait(false);
            var dll = Path.Combine(AppContext.BaseDirectory, "session-mcp.dll");
            var runs = options.StartupRuns;
            // --daemon never: the start-up of a server in the process started, not of a relay to a daemon left running.
            StartupCommand[] commands =
            [
                new(Startup.InstalledTool, "session-mcp serve --data-dir DIR --daemon never", tool, ["serve", "--data-dir", "{data}", "--daemon", "never"], root, runs),
                new(Startup.DotnetRun, "dotnet run --project src/McpServer --no-launch-profile -v quiet -- serve --data-dir DIR --daemon never", "dotnet",
                    ["run", "--project", "src/McpServer", "--no-launch-profile", "-v", "quiet", "--", "serve", "--data-dir", "{data}", "--daemon", "never"], root, Math.Min(options.DotnetRunRuns, runs)),
                new(Startup.DotnetDll, "dotnet tests/Benchmarks/bin/Release/net10.0/session-mcp.dll serve --data-dir DIR --daemon never", "dotnet", [dll, "serve", "--data-dir", "{data}", "--daemon", "never"], root, runs),
                new(Startup.ReferenceServer, "node tests/node/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js DIR", "node", [reference, "{data}"], root, runs),
            ];
            return await Startup.MeasureAsync(commands, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            TryDeleteDirectory(installDir);
        }
    }

    /// <summary>exec, read and edit on a fresh session of <paramref name="backend"/>. The exec is timed interleaved with
    /// the operation its target compares it to, which <paramref name="comparison"/> makes from the session's ID (the
    /// docker CLI comparison needs the session's container).</summary>
    private static async Task<List<LatencySummary>> SessionSuiteAsync(
        ServerClient server,
        string backend,
        string execName,
        string readName,
        string editName,
        BenchmarkOptions options,
        CancellationToken cancellationToken,
        Func<string, CancellationToken, Task<Subject>> comparison)
    {
        var (n, warmUp) = (options.Iterations, options.WarmUp);
        Console.Error.WriteLine($"benchmarks: {backend} session");
        var sessionId = await server.CreateSessionAsync(backend, cancellationToken);
        try
        {
            var exec = new Subject(execName, n, (_, ct) => server.ExecAsync(sessionId, "true", ct));
            var results = await Measure.InterleavedAsync([exec, await comparison(sessionId, cancellationToken)], warmUp, cancellationToken);

            await server.WriteFileAsync(sessionId, EditedFile, TwoHundredLines(), cancellationToken);
            results.Add(await Measure.RunAsync(readName, warmUp, n, (_, ct) => server.ReadFileAsync(sessionId, EditedFile, ct), cancellationToken));
            // Each edit undoes the previous one, so every call changes exactly one line of the same 200-line file.
            results.Add(await Measure.RunAsync(editName, warmUp, n, (i, ct) => i % 2 == 0
                ? server.EditFileAsync(sessionId, EditedFile, "line 100: alpha", "line 100: beta", ct)
                : server.EditFileAsync(sessionId, EditedFile, "line 100: beta", "line 100: alpha", ct), cancellationToken));
            return results;
        }
        finally
        {
            await server.DestroySessionAsync(sessionId, CancellationToken.None);
        }
    }

    private static List<TargetVerdict> Verdicts(List<LatencySummary> results)
    {
        var byName = results.ToDictionary(r => r.Name);
        var verdicts = new List<TargetVerdict>();

        var docker = byName.GetValueOrDefault(DockerExec);
        var cli = byName.GetValueOrDefault(DockerCliExec);
        verdicts.Add(docker is null || cli is null
            ? new TargetVerdict("(a) docker `session_exec` p50 ≤ 1/10 of `docker exec` CLI p50", "not measured (no Docker engine)", "ratio ≤ 0.100", null)
            : new TargetVerdict(
                "(a) docker `session_exec` p50 ≤ 1/10 of `docker exec` CLI p50",
                $"{docker.P50:0.00} ms / {cli.P50:0.00} ms = ratio {docker.P50 / cli.P50:0.000} (CLI is {cli.P50 / docker.P50:0.0}× slower)",
                $"ratio ≤ 0.100 (≤ {cli.P50 / 10:0.00} ms)",
                docker.P50 <= cli.P50 / 10));

        var local = byName[LocalExec];
        var spawn = byName[ProcessSpawn];
        var added = local.P50 - spawn.P50;
        verdicts.Add(new TargetVerdict(
            "(b) local `session_exec` p50 adds ≤ 2 ms over spawning `sh -c true`",
            $"{local.P50:0.00} ms − {spawn.P50:0.00} ms = +{added:0.00} ms (ratio {local.P50 / spawn.P50:0.00})",
            "+2.00 ms",
            added <= 2.0));
        return verdicts;
    }

    private static async Task EnsureImageAsync(CancellationToken cancellationToken)
    {
        if (await DockerCli.ImageExistsAsync(DockerImage, cancellationToken))
        {
            return;
        }
        var script = Path.Combine(RepositoryRoot(), "samples", "images", "build-image.sh");
        Console.Error.WriteLine($"benchmarks: {DockerImage} missing; running {script}");
        using var build = Process.Start(new ProcessStartInfo(script) { UseShellExecute = false }) ?? throw new InvalidOperationException($"{script} did not start");
        await build.WaitForExitAsync(cancellationToken);
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {build.ExitCode}");
        }
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

    private static string TwoHundredLines()
    {
        var text = new StringBuilder();
        for (var line = 1; line <= 200; line++)
        {
            text.Append(line == 100 ? "line 100: alpha" : $"line {line}: the quick brown fox jumps over the lazy dog").Append('\n');
        }
        return text.ToString();
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string KernelRelease() => File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
