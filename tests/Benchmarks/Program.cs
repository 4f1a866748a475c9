using System.Globalization;
using SessionMcp.Benchmarks;

// Exec latency of session-mcp against its floors, and start-up (spawn → initialized) against the reference server, in one run:
//   dotnet run -c Release --project tests/Benchmarks -- [--write docs/benchmarks.md] [--iterations 300] [--no-docker] [--startup-runs 20] [--no-startup | --startup-only]
// Redaction of 8 MiB adversarial and realistic outputs, in process, into its own section of the file:
//   dotnet run -c Release --project tests/Benchmarks -- --redaction [--write docs/benchmarks.md]
// Hostile sessions (memory attacks) against the real server: peak RSS, a bystander's latency:
//   dotnet run -c Release --project tests/Benchmarks -- --memory-attacks [--no-docker] [--write docs/benchmarks.md]
// Background jobs and terminals: output and keystroke latency, idle terminals' memory, a neighbour's flood:
//   dotnet run -c Release --project tests/Benchmarks -- --jobs [--no-docker] [--write docs/benchmarks.md]
// Docker session_create → first session_exec, cold and from the warm pool, next to `docker run -d`:
//   dotnet run -c Release --project tests/Benchmarks -- --pool [--iterations 30] [--write docs/benchmarks.md]
// What the daemon's stdio relay adds to a call (in process vs relayed vs straight to the socket, interleaved):
//   dotnet run -c Release --project tests/Benchmarks -- --daemon [--iterations 300] [--write docs/benchmarks.md]
// Fifty clients at once over Streamable HTTP (errors and the p99):
//   dotnet run -c Release --project tests/Benchmarks -- --http-clients [--write docs/benchmarks.md]
// Workspace history: what recording adds to session_exec (against size and against what changed), replay, fork, restore:
//   dotnet run -c Release --project tests/Benchmarks -- --history [--write docs/benchmarks.md]
// Audit retention on a 100,000-event log: verify, and each kind of pruning followed by a verify:
//   dotnet run -c Release --project tests/Benchmarks -- --retention [--write docs/benchmarks.md]
// Resuming a hibernated docker session (stopped container) on the next call, next to docker start + exec:
//   dotnet run -c Release --project tests/Benchmarks -- --resume [--write docs/benchmarks.md]
// Markdown goes to stdout (and to the --write file); progress goes to stderr.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"benchmarks: {e.Message}\n{BenchmarkOptions.Usage}");
    return 2;
}

using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};

if (options.Redaction)
{
    // Redaction is timed in process and written to its own section, so the latency figures above stay as they were.
    var section = await RedactionBenchmark.RunAsync(interrupt.Token);
    Console.WriteLine(section);
    if (options.WritePath is { } sectionPath)
    {
        RedactionBenchmark.WriteSection(sectionPath, section);
        Console.Error.WriteLine($"benchmarks: wrote the redaction section of {sectionPath}");
    }
    return RedactionBenchmark.Passed(section) ? 0 : 1;
}

// Each of these runs on its own and rewrites only its own section of the file.
var docker = options.Docker && (options.MemoryAttacks || options.Jobs) && await DockerCli.EngineAnswersAsync(interrupt.Token);
if (options.MemoryAttacks)
{
    // Hostile sessions against a fresh server each: peak RSS and a bystander's latency.
    return WriteSection("memory attack", await MemoryAttackBenchmark.RunAsync(docker, interrupt.Token), MemoryAttackBenchmark.WriteSection);
}
if (options.Jobs)
{
    // Jobs and terminals against one fresh server.
    return WriteSection("jobs", await JobsBenchmark.RunAsync(docker, interrupt.Token), JobsBenchmark.WriteSection);
}
if (options.HttpClients)
{
    // Fifty clients at once over Streamable HTTP.
    return WriteSection("HTTP clients", await HttpClientsBenchmark.RunAsync(interrupt.Token), HttpClientsBenchmark.WriteSection);
}
if (options.History)
{
    // Two servers (history on and off) side by side, then a replay of a 10,000-event session.
    return WriteSection("history", await HistoryBenchmark.RunAsync(interrupt.Token), HistoryBenchmark.WriteSection);
}
if (options.Retention)
{
    // In process on a real SQLite file.
    return WriteSection("retention", await RetentionBenchmark.RunAsync(interrupt.Token), RetentionBenchmark.WriteSection);
}
if (options.Pool)
{
    // Docker create → first command, cold and from the warm pool, next to `docker run -d`.
    return WriteSection("warm pool", await PoolBenchmark.RunAsync(Math.Min(options.Iterations, 30), interrupt.Token), PoolBenchmark.WriteSection);
}
if (options.Resume)
{
    // Hibernated docker sessions woken by a call, against a fresh server hibernating after 1 s.
    return WriteSection("resume", await ResumeBenchmark.RunAsync(Math.Min(options.Iterations, 20), interrupt.Token), ResumeBenchmark.WriteSection);
}
if (options.Daemon)
{
    // The relay against the in-process server.
    return WriteSection("daemon relay", await DaemonBenchmark.RunAsync(options.Iterations, options.WarmUp, interrupt.Token), DaemonBenchmark.WriteSection);
}

var report = await BenchmarkRun.RunAsync(options, interrupt.Token);
var markdown = ReportWriter.Render(report);
Console.WriteLine(markdown);
if (options.WritePath is { } path)
{
    ReportWriter.WriteFile(path, markdown);
    Console.Error.WriteLine($"benchmarks: wrote {path}");
}
return report.Verdicts.Append(report.StartupVerdict).All(v => v?.Passed is not false) ? 0 : 1;

// Prints a benchmark's section, writes it into --write's file, and gives the exit code of its verdict.
int WriteSection(string what, (string Section, bool Passed) result, Action<string, string> write)
{
    Console.WriteLine(result.Section);
    if (options.WritePath is { } sectionPath)
    {
        write(sectionPath, result.Section);
        Console.Error.WriteLine($"benchmarks: wrote the {what} section of {sectionPath}");
    }
    return result.Passed ? 0 : 1;
}
