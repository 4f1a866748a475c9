using System.Reflection.PortableExecutable;
using ModelContextProtocol.Client;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The packaging the README recommends: pack, tool install, and the installed command serves MCP over stdio.</summary>
public sealed class InstalledToolTests
{
    [Fact]
    public async Task ThePackedAndInstalledToolAnswersInitializeOverStdio()
    {
        // Given: the tool packed from this checkout and installed into a private tool path (pack takes tens of seconds)
        using var temp = new TempDirectory("installed-tool");
        var command = await InstalledTool.PackAndInstallAsync(temp.Path);
        var dataDir = Path.Combine(temp.Path, "data");

        // When: a client starts the installed command as Claude Code would
        using var timeout = new CancellationTokenSource(ServerProcess.CallTimeout);
        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "session-mcp",
            Command = command,
            // In process: a daemon would outlive the test (the daemon has tests of its own).
            Arguments = ["serve", "--data-dir", dataDir, "--daemon", "never"],
        });
        await using var client = await McpClient.CreateAsync(transport, new McpClientOptions { ClientInfo = new() { Name = "session-mcp-tests", Version = "1.0" } }, cancellationToken: timeout.Token);
        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);

        // Then: it is session-mcp, with its tools, and the installed assembly is ReadyToRun (the point of installing it)
        Assert.Equal("session-mcp", client.ServerInfo?.Name);
        Assert.Contains(tools, t => t.Name == "session_exec");
        var installed = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(ResolveLink(command)))!, "session-mcp.dll");
        using var pe = new PEReader(File.OpenRead(installed));
        Assert.True(pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0, $"{installed} is not ReadyToRun");
    }

    /// <summary>The tool path holds a symbolic link to the apphost inside its .store.</summary>
    private static string ResolveLink(string path) =>
        File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
}
