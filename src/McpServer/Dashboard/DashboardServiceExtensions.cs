using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Dashboard;
using SessionMcp.SessionRouting.Attention;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The daemon's dashboard, attention signal and <c>/metrics</c>, on its HTTP listener (see <see cref="DashboardEndpoints"/>).</summary>
internal static class DashboardServiceExtensions
{
    public static IServiceCollection AddSessionDashboard(this IServiceCollection services, DashboardSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(new AttentionBoard(settings.Thresholds));
        services.AddSingleton<DashboardFeed>();
        services.AddSingleton(provider => new DaemonMetrics(
            provider.GetRequiredService<AuditLog>(),
            provider.GetRequiredService<SessionRegistry>(),
            provider.GetRequiredService<SessionRouter>(),
            (provider.GetRequiredService<IOptions<McpServerOptions>>().Value.ToolCollection ?? []).Select(t => t.ProtocolTool.Name)));
        services.AddHostedService<AttentionMonitor>();
        return services;
    }

    /// <summary>The dashboard's endpoints; the feed and the metrics start listening to the audit log now, not at the first request.</summary>
    public static WebApplication MapSessionDashboard(this WebApplication app)
    {
        app.Services.GetRequiredService<DashboardFeed>();
        app.Services.GetRequiredService<DaemonMetrics>();
        DashboardEndpoints.Map(app);
        return app;
    }
}
