using SessionMcp.Tests.Shared;
using Xunit.Abstractions;

namespace SessionMcp.McpServer.Tests.EndToEnd;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TypeScriptClientCollection
{
    // The scripts start the server as mcp.json says, with `dotnet run`, which first checks (and if needed redoes) the
    // Debug build: it must not compete with other tests for the two cores, nor time them out.
    public const string Name = "TypeScript client (runs alone)";
}

/// <summary>
/// The official TypeScript MCP SDK client (what Claude Code and the MCP Inspector are built on) and the Inspector CLI
/// against the server as the root mcp.json starts it. That client validates every structuredContent against the
/// tool's outputSchema and rejects a mismatch with -32602, so these tests fail on any result that does not fit.
/// </summary>
[Collection(TypeScriptClientCollection.Name)]
public sealed class TypeScriptClientTests(ITestOutputHelper output)
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(8);

    [NodeFact]
    public async Task AnAgentWorkflowPassesTheOfficialTypeScriptClient()
    {
        // Given: the pinned SDK installed
        await NodeScripts.EnsureInstalledAsync();

        // When: the workflow script creates a session, runs commands, edits files, hits the error paths and replays
        var result = await NodeScripts.RunScriptAsync("client-workflow.mjs", ScriptTimeout);

        // Then: every step passed and every result validated against its schema
        Report(result);
        Assert.True(result.ExitCode == 0, $"client-workflow.mjs failed:\n{result}");
    }

    [NodeFact]
    public async Task TheInspectorCliListsAndCallsTools()
    {
        // Given: the pinned Inspector CLI installed
        await NodeScripts.EnsureInstalledAsync();

        // When: it runs tools/list and tools/call session_create against the server mcp.json starts
        var result = await NodeScripts.RunScriptAsync("inspector-cli.mjs", ScriptTimeout);

        // Then: both exit 0 with results that parse, and no schema error
        Report(result);
        Assert.True(result.ExitCode == 0, $"inspector-cli.mjs failed:\n{result}");
    }

    private void Report(ScriptResult result)
    {
        output.WriteLine($"exit {result.ExitCode} after {result.Duration.TotalSeconds:0.0} s");
        output.WriteLine(result.Stdout);
    }
}
