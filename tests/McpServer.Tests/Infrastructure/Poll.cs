namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>Waits for a condition by checking it repeatedly until a deadline (never sleeps a fixed time to synchronise).</summary>
public static class Poll
{
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (true)
        {
            if (await condition().ConfigureAwait(false))
            {
                return true;
            }
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await ticks.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, cancellationToken);
}
