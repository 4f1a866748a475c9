namespace SessionMcp.Benchmarks;

internal sealed record BenchmarkOptions(
    string? WritePath,
    int Iterations,
    int CliIterations,
    int WarmUp,
    bool Docker,
    bool Latency = true,
    bool Startup = true,
    int StartupRuns = 20,
    int DotnetRunRuns = 3,
    bool Redaction = false,
    bool MemoryAttacks = false,
    bool Jobs = false,
    bool Daemon = false,
    bool HttpClients = false,
    bool History = false,
    bool Retention = false,
    bool Pool = false,
    bool Resume = false)
{
    public const string Usage = "usage: SessionMcp.Benchmarks [--write FILE] [--iterations N (300)] [--cli-iterations N (100)] [--warm-up N (20)] [--no-docker]\n" +
                                "                             [--startup-runs N (20)] [--dotnet-run-runs N (3)] [--no-startup | --startup-only]\n" +
                                "       SessionMcp.Benchmarks --redaction [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --memory-attacks [--no-docker] [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --jobs [--no-docker] [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --daemon [--iterations N (300)] [--warm-up N (20)] [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --http-clients [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --retention [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --history [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --pool [--iterations N (300; 30 used at most)] [--write FILE]\n" +
                                "       SessionMcp.Benchmarks --resume [--iterations N (300; 20 used at most)] [--write FILE]";

    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions(null, 300, 100, 20, Docker: true);
        for (var i = 0; i < args.Count; i++)
        {
            options = args[i] switch
            {
                "--write" => options with { WritePath = Value(args, ++i) },
                "--iterations" => options with { Iterations = Count(args, ++i) },
                "--cli-iterations" => options with { CliIterations = Count(args, ++i) },
                "--warm-up" => options with { WarmUp = Count(args, ++i) },
                "--no-docker" => options with { Docker = false },
                "--startup-runs" => options with { StartupRuns = Count(args, ++i) },
                "--dotnet-run-runs" => options with { DotnetRunRuns = Count(args, ++i) },
                "--no-startup" => options with { Startup = false },
                "--startup-only" => options with { Latency = false },
                "--redaction" => options with { Redaction = true },
                "--memory-attacks" => options with { MemoryAttacks = true },
                "--jobs" => options with { Jobs = true },
                "--daemon" => options with { Daemon = true },
                "--http-clients" => options with { HttpClients = true },
                "--history" => options with { History = true },
                "--retention" => options with { Retention = true },
                "--pool" => options with { Pool = true },
                "--resume" => options with { Resume = true },
                var other => throw new ArgumentException($"unknown argument {other}"),
            };
        }
        return options.Latency || options.Startup ? options : throw new ArgumentException("--no-startup and --startup-only leave nothing to measure");
    }

    private static string Value(IReadOnlyList<string> args, int index) =>
        index < args.Count ? args[index] : throw new ArgumentException($"{args[index - 1]} needs a value");

    private static int Count(IReadOnlyList<string> args, int index) =>
        int.TryParse(Value(args, index), out var n) && n > 0 ? n : throw new ArgumentException($"{args[index - 1]} needs a positive number");
}
