using System.Collections.Concurrent;
using ModelContextProtocol;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>Collects progress notifications as they arrive, from whatever thread the client reports on.</summary>
internal sealed class CollectingProgress : IProgress<ProgressNotificationValue>
{
    private readonly ConcurrentQueue<ProgressNotificationValue> _values = new();

    public IReadOnlyCollection<ProgressNotificationValue> Values => _values;

    public void Report(ProgressNotificationValue value) => _values.Enqueue(value);
}
