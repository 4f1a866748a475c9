using System.Text.Json;
using System.Text.Json.Nodes;

namespace SessionMcp.McpServer.Results;

/// <summary>Trims the generated tool schemas: every client pays for tools/list in its context on every conversation.</summary>
internal static class ToolSchemas
{
    /// <summary>
    /// The schema without <c>"default": null</c> members: the generator writes one for every optional parameter and
    /// optional result field, and it says nothing a missing <c>required</c> entry does not already say.
    /// </summary>
    public static JsonElement WithoutNullDefaults(JsonElement schema)
    {
        var node = JsonNode.Parse(schema.GetRawText());
        Strip(node);
        return JsonSerializer.SerializeToElement(node);
    }

    private static void Strip(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj.TryGetPropertyValue("default", out var value) && value is null)
                {
                    obj.Remove("default");
                }
                foreach (var (_, child) in obj)
                {
                    Strip(child);
                }
                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Strip(child);
                }
                break;
        }
    }
}
