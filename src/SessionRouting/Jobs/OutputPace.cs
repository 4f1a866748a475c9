using System.Diagnostics;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>
/// Caps how fast the server takes in one job's output. A flood (<c>yes</c>, <c>cat /dev/urandom | base64</c>) then
/// blocks on its full pipe instead of keeping a core busy, in the job and in the server's journal writes, so other
/// sessions keep their latency; a build log never comes near the rate. A token bucket: one second's worth of burst.
/// </summary>
internal sealed class OutputPace(long bytesPerSecond)
{
    /// <summary>Far above what a person or a model reads, far below what a flood writes.</summary>
    public const long DefaultBytesPerSecond = 8L << 20;

    private readonly Lock _gate = new();
    private long _last = Stopwatch.GetTimestamp();
    private double _tokens = bytesPerSecond;

    /// <summary>Takes <paramref name="bytes"/> from the bucket, waiting while it is empty.</summary>
    public async ValueTask TakeAsync(int bytes, CancellationToken cancellationToken)
    {
        TimeSpan wait;
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(bytesPerSecond, _tokens + (double)(now - _last) / Stopwatch.Frequency * bytesPerSecond);
            _last = now;
            _tokens -= bytes;
            wait = _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / bytesPerSecond);
        }
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }
}
