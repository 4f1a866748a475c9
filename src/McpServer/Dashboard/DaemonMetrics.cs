using Prometheus;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>
/// The daemon's Prometheus metrics (prometheus-net, its own registry so nothing else registers into it): counters and
/// latency histograms fed by each audited event as it is committed, gauges read from the registry and the jobs when
/// <c>/metrics</c> is scraped.
/// </summary>
internal sealed class DaemonMetrics : IDisposable
{
    private readonly AuditLog _audit;
    private readonly SessionRegistry _registry;
    private readonly SessionRouter _router;
    private readonly Counter _toolCalls;
    private readonly Histogram _toolCallSeconds;
    private readonly Counter _auditEvents;
    private readonly Gauge _sessions;
    private readonly Gauge _jobs;
    private readonly Gauge _terminals;

    private readonly HashSet<string> _knownTools;

    /// <param name="toolNames">The MCP server's tools: only their names become label values.</param>
    public DaemonMetrics(AuditLog audit, SessionRegistry registry, SessionRouter router, IEnumerable<string> toolNames)
    {
        _knownTools = new HashSet<string>(toolNames, StringComparer.Ordinal);
        _audit = audit;
        _registry = registry;
        _router = router;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _toolCalls = factory.CreateCounter("session_mcp_tool_calls_total", "Tool calls, by tool and outcome (ok, error, rejected, cancelled, interrupted).", ["tool", "outcome"]);
        _toolCallSeconds = factory.CreateHistogram("session_mcp_tool_call_duration_seconds", "How long tool calls took, by tool, as audited.", ["tool"], new HistogramConfiguration
        {
            Buckets = Histogram.ExponentialBuckets(0.001, 2, 18), // 1 ms .. ~131 s
        });
        _auditEvents = factory.CreateCounter("session_mcp_audit_events_total", "Audited events appended since the daemon started, by kind.", ["kind"]);
        _sessions = factory.CreateGauge("session_mcp_sessions", "Sessions, by state and backend.", ["state", "backend"]);
        _jobs = factory.CreateGauge("session_mcp_jobs", "Jobs this daemon knows (terminals included), by state.", ["state"]);
        _terminals = factory.CreateGauge("session_mcp_terminals", "Terminals, by state.", ["state"]);
        Registry.AddBeforeCollectCallback(Refresh);
        _audit.Appended += Observe;
    }

    public CollectorRegistry Registry { get; }

    public void Dispose() => _audit.Appended -= Observe;

    private void Observe(AuditEvent e)
    {
        _auditEvents.WithLabels(e.Entry.Kind).Inc();
        if (e.Entry.Kind == AuditKinds.ToolCall)
        {
            // An unknown tool's name is whatever a client sent: one label for all of them keeps the series bounded.
            var tool = e.Entry.Tool is { } name && _knownTools.Contains(name) ? name : "other";
            _toolCalls.WithLabels(tool, e.Entry.Outcome).Inc();
            _toolCallSeconds.WithLabels(tool).Observe(e.Entry.DurationMs / 1000.0);
        }
    }

    private void Refresh()
    {
        var sessions = _registry.List();
        Reset(_sessions, sessions.GroupBy(s => (s.StatusText, s.Backend)).ToDictionary(g => new[] { g.Key.StatusText, g.Key.Backend }, g => (double)g.Count()));
        var jobs = sessions.SelectMany(s => _router.Jobs.List(s.Id)).Select(j => (Status: _router.Jobs.StatusOf(j), Terminal: j.Info.Terminal is not null)).ToList();
        Reset(_jobs, jobs.GroupBy(j => j.Status.State).ToDictionary(g => new[] { g.Key }, g => (double)g.Count()));
        Reset(_terminals, jobs.Where(j => j.Terminal).GroupBy(j => j.Status.State).ToDictionary(g => new[] { g.Key }, g => (double)g.Count()));
    }

    /// <summary>Sets each series to its count now; a series seen before and absent now drops to 0 rather than lingering.</summary>
    private static void Reset(Gauge gauge, Dictionary<string[], double> counts)
    {
        foreach (var labels in gauge.GetAllLabelValues().ToList())
        {
            gauge.WithLabels(labels).Set(0);
        }
        foreach (var (labels, count) in counts)
        {
            gauge.WithLabels(labels).Set(count);
        }
    }
}
