using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The tool list is the public contract: names, annotations, output schemas, descriptions.</summary>
public sealed class ToolContractTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    public static TheoryData<string, bool, bool> Tools() => new()
    {
        // name, read-only, destructive
        { "session_create", false, false },
        { "session_list", true, false },
        { "session_destroy", false, true },
        { "session_exec", false, true },
        { "session_read_file", true, false },
        { "session_write_file", false, true },
        { "session_edit_file", false, true },
        { "session_replay", true, false },
        { "session_share", false, false },
    };

    [Theory]
    [MemberData(nameof(Tools))]
    public async Task EveryToolDeclaresItsHintsAnOutputSchemaAndADescription(string name, bool readOnly, bool destructive)
    {
        // Given / When
        var tools = await fixture.Server.Client.ListToolsAsync();

        // Then
        var tool = Assert.Single(tools, t => t.Name == name).ProtocolTool;
        Assert.NotNull(tool.Annotations);
        Assert.Equal(readOnly, tool.Annotations!.ReadOnlyHint);
        Assert.Equal(destructive, tool.Annotations.DestructiveHint);
        Assert.NotNull(tool.Annotations.IdempotentHint);
        Assert.NotNull(tool.OutputSchema);
        Assert.True(tool.Description is { Length: > 40 }, $"{name} has no real description");
    }

    [Fact]
    public async Task EditsInTheEditsListNeedOnlyOldAndNewString()
    {
        // Given / When
        var tools = await fixture.Server.Client.ListToolsAsync();
        var schema = Assert.Single(tools, t => t.Name == "session_edit_file").ProtocolTool.InputSchema;

        // Then replace_all is optional inside an edit, as the contract says ({old_string, new_string, replace_all?})
        var item = schema.GetProperty("properties").GetProperty("edits").GetProperty("items");
        var required = item.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()).ToList() : [];
        Assert.DoesNotContain("replace_all", required);
    }

    [Theory]
    [InlineData("session_create", "backend", new[] { "local", "docker" })]
    [InlineData("session_create", "network", new[] { "none", "bridge" })]
    [InlineData("session_create", "restart", new[] { "on-failure" })]
    [InlineData("session_replay", "format", new[] { "events", "transcript", "diff" })]
    [InlineData("session_replay", "include_output", new[] { "truncated", "none", "full" })]
    public async Task ClosedSetsOfValuesAreSchemaEnums(string tool, string argument, string[] values)
    {
        // Given / When
        var tools = await fixture.Server.Client.ListToolsAsync();

        // Then
        var schema = Assert.Single(tools, t => t.Name == tool).ProtocolTool.InputSchema;
        var allowed = schema.GetProperty("properties").GetProperty(argument).GetProperty("enum").EnumerateArray().Select(v => v.GetString()).ToArray();
        Assert.Equal(values, allowed);
    }

    [Fact]
    public async Task TheToolListCostsNoMorePerToolThanBefore()
    {
        // Given / When
        var tools = await fixture.Server.Client.ListToolsAsync();

        // Then what every client loads into its context on every conversation stays near what it cost per tool when
        // results learned to fit their schemas (1,836 characters each for 8 tools). Workspace history raised the average:
        // session_replay carries three result shapes (events, per-step diffs, a rerun's verdict); the bound is now 1,950
        // per tool on average, and no one tool may cost more than 5,000.
        var size = System.Text.Json.JsonSerializer.Serialize(tools.Select(t => t.ProtocolTool), ModelContextProtocol.McpJsonUtilities.DefaultOptions).Length;
        var each = tools.ToDictionary(t => t.Name, t => System.Text.Json.JsonSerializer.Serialize(t.ProtocolTool, ModelContextProtocol.McpJsonUtilities.DefaultOptions).Length);
        var listing = string.Join(", ", each.Select(e => $"{e.Key} {e.Value:N0}"));
        Assert.True(size <= 1_950 * tools.Count, $"tools/list is {size:N0} characters for {tools.Count} tools: {listing}");
        Assert.True(each.Values.Max() <= 5_000, $"a tool costs more than 5,000 characters: {listing}");
    }
}
