using System.IO.Pipelines;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Hosting;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// The server's real wiring (core, tools, filters) in this process, over in-memory pipes instead of stdio, with the
/// user a transport would report (<see cref="User"/>) set on every message as the ASP.NET Core transport sets
/// <c>HttpContext.User</c>: the way to test callers other than the local user before the HTTP transport exists.
/// </summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly ModelContextProtocol.Server.McpServer _server;
    private readonly Task _running;

    private InProcessServer(ServiceProvider services, ModelContextProtocol.Server.McpServer server, McpClient client, Task running)
    {
        _services = services;
        _server = server;
        Client = client;
        _running = running;
    }

    public McpClient Client { get; }

    public IServiceProvider Services => _services;

    /// <summary>The user every following message carries; null: none, as on stdio.</summary>
    public ClaimsPrincipal? User { get; set; }

    public static async Task<InProcessServer> StartAsync(string dataDir, CancellationToken cancellationToken = default)
    {
        var collection = new ServiceCollection();
        collection.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        collection.AddSessionCore(ServerSettings.Resolve(new Dictionary<string, string> { ["data-dir"] = dataDir }, _ => null)).AddSessionMcpServer();
        var services = collection.BuildServiceProvider();
        await services.GetRequiredService<SessionRouter>().ResumeAllAsync(cancellationToken).ConfigureAwait(false);

        InProcessServer? self = null;
        var options = services.GetRequiredService<IOptions<McpServerOptions>>().Value;
        options.Filters.Message.IncomingFilters.Add(next => (context, token) =>
        {
            context.User = self?.User;
            return next(context, token);
        });
        var toServer = new Pipe();
        var toClient = new Pipe();
        var server = ModelContextProtocol.Server.McpServer.Create(
            new StreamServerTransport(toServer.Reader.AsStream(), toClient.Writer.AsStream()),
            options,
            services.GetRequiredService<ILoggerFactory>(),
            services);
        var running = server.RunAsync(CancellationToken.None);
        var client = await McpClient.CreateAsync(
            new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream()),
            new McpClientOptions { ClientInfo = new() { Name = "in-process-tests", Version = "1.0" } },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        self = new InProcessServer(services, server, client, running);
        return self;
    }

    /// <summary>Calls a tool as <see cref="User"/>: the structured content, or the error text (IsError).</summary>
    public async Task<(bool IsError, JsonNode? Content, string Text)> CallAsync(string tool, object? arguments = null, CancellationToken cancellationToken = default)
    {
        var given = arguments is null
            ? new Dictionary<string, object?>()
            : JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(arguments, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }))!;
        var result = await Client.CallToolAsync(tool, given, cancellationToken: cancellationToken).ConfigureAwait(false);
        var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
        return (result.IsError == true, result.StructuredContent is { } content ? JsonNode.Parse(content.GetRawText()) : null, text);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
