using System.Diagnostics;

namespace SessionMcp.Benchmarks;

/// <summary>Percentiles of one measured operation, in milliseconds.</summary>
internal sealed record LatencySummary(string Name, int Count, double P50, double P90, double P99, double Mean, double Min)
{
    /// <summary>Nearest-rank percentiles over <paramref name="millis"/> (unsorted; not modified).</summary>
    public static LatencySummary From(string name, IReadOnlyList<double> millis)
    {
        if (millis.Count == 0)
        {
            throw new ArgumentException("no samples", nameof(millis));
        }
        var sorted = millis.Order().ToArray();
        return new LatencySummary(name, sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.90), Rank(sorted, 0.99), sorted.Average(), sorted[0]);
    }

    private static double Rank(double[] sorted, double percentile) =>
        sorted[Math.Clamp((int)Math.Ceiling(percentile * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Plain stopwatch loops: warm-up calls are run and discarded, then each call is timed on its own.</summary>
internal static class Measure
{
    public static async Task<LatencySummary> RunAsync(string name, int warmUp, int count, Func<int, CancellationToken, Task> operation, CancellationToken cancellationToken)
    {
        for (var i = 0; i < warmUp; i++)
        {
            await operation(i, cancellationToken).ConfigureAwait(false);
        }
        var samples = new double[count];
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await operation(warmUp + i, cancellationToken).ConfigureAwait(false);
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        var summary = LatencySummary.From(name, samples);
        Console.Error.WriteLine($"  {name}: p50 {summary.P50:0.00} ms  p90 {summary.P90:0.00} ms  p99 {summary.P99:0.00} ms  (n={count})");
        return summary;
    }
}
