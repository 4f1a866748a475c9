using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SessionMcp.McpServer.Results;

/// <summary>The JSON shape of tool arguments and results: snake_case, nulls left out.</summary>
internal static class ToolJson
{
    public static readonly JsonSerializerOptions Options = new(ModelContextProtocol.McpJsonUtilities.DefaultOptions)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
