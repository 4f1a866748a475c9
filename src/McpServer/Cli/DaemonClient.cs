using System.Net.Sockets;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using SessionMcp.McpServer.Daemon;
using SessionMcp.McpServer.Hosting;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// The admin commands that show or touch live state (<c>attach</c>, <c>jobs</c>) as MCP clients of the data directory's
/// daemon over its socket: the same tools, audit and checks as any client, as the local user.
/// </summary>
internal sealed class DaemonClient(NetworkStream stream, McpClient client) : IAsyncDisposable
{
    public McpClient Client { get; } = client;

    /// <summary>A client of the running daemon; null (having said why on stderr) when none runs.</summary>
    public static async Task<DaemonClient?> ConnectAsync(ServerSettings settings, string command, TextWriter stderr, CancellationToken cancellationToken)
    {
        Socket socket;
        try
        {
            socket = await DaemonConnector.ConnectAsync(new DaemonPaths(settings.DataDir), DaemonMode.Require, [], stderr, cancellationToken).ConfigureAwait(false);
        }
        catch (DaemonUnavailableException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {command} shows the daemon's live state: {e.Message}").ConfigureAwait(false);
            return null;
        }
        var stream = new NetworkStream(socket, ownsSocket: true);
        var client = await McpClient.CreateAsync(
            new StreamClientTransport(stream, stream),
            new McpClientOptions { ClientInfo = new Implementation { Name = $"session-mcp {command}", Version = "1" } },
            cancellationToken: cancellationToken).ConfigureAwait(false);
        return new DaemonClient(stream, client);
    }

    /// <summary>A tool's structured result; a tool error becomes an exception with its message.</summary>
    public static async Task<JsonElement> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        var result = await client.CallToolAsync(tool, arguments, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.IsError == true || result.StructuredContent is not { } content)
        {
            throw new InvalidOperationException(string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text)));
        }
        return content;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        await stream.DisposeAsync().ConfigureAwait(false);
    }
}
