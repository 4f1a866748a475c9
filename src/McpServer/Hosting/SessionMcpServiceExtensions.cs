using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;
using SessionMcp.Containers.Docker;
using SessionMcp.Containers.Local;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Hosting;
using SessionMcp.McpServer.Http;
using SessionMcp.McpServer.Tools;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Jobs;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The wiring of session-mcp: storage, registry, router, backends and the MCP tools.</summary>
internal static class SessionMcpServiceExtensions
{
    /// <summary>Storage, the registry, the router and the backends.</summary>
    public static IServiceCollection AddSessionCore(this IServiceCollection services, ServerSettings settings)
    {
        services.AddSingleton(settings);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new SessionDatabase(settings.DatabasePath, settings.FullSync));
        services.AddSingleton<AuditLog>();
        services.AddSingleton<AuditRetention>();
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton(settings.History);
        services.AddSingleton<HistoryStore>();
        services.AddSingleton<WorkspaceHistory>();
        services.AddSingleton(new SessionRouterOptions
        {
            DefaultBackend = settings.DefaultBackend,
            SourceRoots = settings.SourceRoots,
            DataDir = settings.DataDir,
            IdleAfter = settings.IdleAfter,
            HibernateAfter = settings.HibernateAfter,
            HealthInterval = settings.HealthInterval,
            // Leftovers are looked for as often as the grace period they get (at least every 10 s).
            ReapInterval = settings.DockerOrphanGrace < TimeSpan.FromSeconds(10) ? TimeSpan.FromSeconds(10) : settings.DockerOrphanGrace,
            DefaultDiskMb = settings.DiskMb,
            MaxSessions = settings.MaxSessions,
            MaxSessionsPerOwner = settings.MaxSessionsPerOwner,
        });
        services.AddSingleton(new LocalBackendOptions { SessionsDir = settings.SessionsDir, Shell = settings.Shell });
        services.AddSingleton<ISessionBackend, LocalBackend>();
        services.AddSingleton(new DockerBackendOptions
        {
            Endpoint = settings.DockerHost,
            DefaultImage = settings.DockerImage,
            AllowNetwork = settings.DockerAllowNetwork,
            DataDir = settings.DataDir,
            SessionsDir = settings.SessionsDir,
            OrphanGracePeriod = settings.DockerOrphanGrace,
            PoolSize = settings.DockerPoolSize,
            PoolMaxMemoryBytes = (long)settings.DockerPoolMemoryMb << 20,
            PrewarmDefaultShape = settings.DefaultBackend == "docker",
        });
        services.AddSingleton<ISessionBackend, DockerBackend>();
        services.AddSingleton(new JournalOptions());
        services.AddSingleton<JournalBudget>();
        services.AddSingleton(provider => new JobManager(
            settings.DataDir,
            provider.GetRequiredService<JournalBudget>(),
            provider.GetRequiredService<AuditLog>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<JobManager>>(),
            provider.GetRequiredService<WorkspaceHistory>(),
            provider.GetRequiredService<SessionRegistry>()));
        // Access: tokens and shares live in the same database; the router asks them who may see what.
        services.AddSingleton<TokenStore>();
        services.AddSingleton<SessionShares>();
        services.AddSingleton<SessionRouter>();
        services.AddSingleton<SessionRerunner>();
        services.AddSingleton(new ResultBudget(settings.ResultBudgetChars));
        return services;
    }

    /// <summary>
    /// The MCP server's tools, filters (every call audited) and instructions, registered once whatever the transport:
    /// the caller chooses one — <c>WithStdioServerTransport()</c> for <c>serve</c>, <c>WithDaemonSocketTransport()</c>
    /// for <c>daemon</c> (one server per connection over these same options).
    /// </summary>
    public static IMcpServerBuilder AddSessionMcpServer(this IServiceCollection services)
    {
        // Only the server records its head outside the database; admin commands only read it.
        services.AddSingleton(provider => new AuditHeadFile(Path.Combine(provider.GetRequiredService<ServerSettings>().DataDir, AuditHeadFile.FileName)));
        var builder = services.AddMcpServer(options =>
            {
                options.ServerInfo = new() { Name = "session-mcp", Version = typeof(SessionMcpServiceExtensions).Assembly.GetName().Version?.ToString(3) ?? "0.1.0" };
                options.ServerInstructions = "Create a session with session_create, then run commands (session_exec) and read/write/edit files (session_read_file, session_write_file, session_edit_file) in it by session_id. cd and export persist between session_exec calls. Everything is audited; session_replay shows a session's history. Sessions survive server restarts.";
            })
            .WithTools<SessionLifecycleTools>(ToolJson.Options)
            .WithTools<ExecTool>(ToolJson.Options)
            .WithTools<FileTools>(ToolJson.Options)
            .WithTools<ReplayTool>(ToolJson.Options)
            .WithTools<HistoryTools>(ToolJson.Options)
            .WithTools<JobTools>(ToolJson.Options)
            .WithTools<TerminalTools>(ToolJson.Options)
            .WithTools<AccessTools>(ToolJson.Options)
            .WithMessageFilters(filters => filters.AddIncomingFilter(CallParamsGuard.Filter))
            // Outermost first: an aborted HTTP request cancels the call, and the audit filter records it as cancelled.
            .WithRequestFilters(filters => filters.AddCallToolFilter(HttpRequestAbort.Wrap).AddCallToolFilter(AuditCallFilter.Wrap).AddListToolsFilter(ScopedToolList.Wrap));
        services.PostConfigure<McpServerOptions>(options =>
        {
            foreach (var tool in options.ToolCollection ?? [])
            {
                tool.ProtocolTool.InputSchema = ToolSchemas.WithoutNullDefaults(tool.ProtocolTool.InputSchema);
                tool.ProtocolTool.OutputSchema = tool.ProtocolTool.OutputSchema is { } output ? ToolSchemas.WithoutNullDefaults(output) : null;
            }
        });
        return builder;
    }
}
