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
}
