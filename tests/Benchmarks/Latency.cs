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

/// <summary>One operation to time: <paramref name="Operation"/> gets the call's index (warm-up calls included).</summary>
internal sealed record Subject(string Name, int Count, Func<int, CancellationToken, Task> Operation);

/// <summary>Plain stopwatch loops: warm-up calls are run and discarded, then each call is timed on its own.</summary>
internal static class Measure
{
    /// <summary>
    /// Times several operations in one interleaved loop, each spread evenly over the rounds, so a comparison between
    /// them is not skewed by load that came and went (other builds share this machine) between two separate loops.
    /// </summary>
    public static async Task<List<LatencySummary>> InterleavedAsync(IReadOnlyList<Subject> subjects, int warmUp, CancellationToken cancellationToken)
    {
        foreach (var subject in subjects)
        {
            for (var i = 0; i < warmUp; i++)
            {
                await subject.Operation(i, cancellationToken).ConfigureAwait(false);
            }
        }
        var rounds = subjects.Max(s => s.Count);
        var samples = subjects.Select(s => new List<double>(s.Count)).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < subjects.Count; k++)
            {
                var subject = subjects[k];
                // Subject k runs Count times in `rounds` rounds: whenever round * Count / rounds reaches a new integer.
                if ((long)(round + 1) * subject.Count / rounds == (long)round * subject.Count / rounds)
                {
                    continue;
                }
                var started = Stopwatch.GetTimestamp();
                await subject.Operation(warmUp + samples[k].Count, cancellationToken).ConfigureAwait(false);
                samples[k].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        return [.. subjects.Select((s, k) => Report(LatencySummary.From(s.Name, samples[k])))];
    }

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
        return Report(LatencySummary.From(name, samples));
    }

    private static LatencySummary Report(LatencySummary summary)
    {
        Console.Error.WriteLine($"  {summary.Name}: p50 {summary.P50:0.00} ms  p90 {summary.P90:0.00} ms  p99 {summary.P99:0.00} ms  (n={summary.Count})");
        return summary;
    }
}
