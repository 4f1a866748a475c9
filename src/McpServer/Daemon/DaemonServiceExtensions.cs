using SessionMcp.McpServer.Daemon;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The daemon's transport for the MCP server that <c>AddSessionMcpServer</c> registered.</summary>
internal static class DaemonServiceExtensions
{
    /// <summary>Serves MCP on the daemon's unix socket, one server per connection (see <see cref="DaemonListener"/>).</summary>
    public static IMcpServerBuilder WithDaemonSocketTransport(this IMcpServerBuilder builder, DaemonPaths paths)
    {
        builder.Services.AddSingleton(paths);
        builder.Services.AddHostedService<DaemonListener>();
        return builder;
    }
}
