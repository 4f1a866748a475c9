using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using SessionMcp.McpServer.Tools;

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
        // Compiled metadata for our own types first: reflection over them cost ~80 ms of every start-up.
        TypeInfoResolver = JsonTypeInfoResolver.Combine(ToolJsonContext.Default, ModelContextProtocol.McpJsonUtilities.DefaultOptions.TypeInfoResolver),
    };
}

/// <summary>Source-generated metadata of the tools' argument and result types.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ExecResult))]
[JsonSerializable(typeof(ReadFileResult))]
[JsonSerializable(typeof(WriteFileResult))]
[JsonSerializable(typeof(EditFileResult))]
[JsonSerializable(typeof(SessionResult))]
[JsonSerializable(typeof(SessionList))]
[JsonSerializable(typeof(ReplayResult))]
[JsonSerializable(typeof(JobResult))]
[JsonSerializable(typeof(JobList))]
[JsonSerializable(typeof(JobOutputResult))]
[JsonSerializable(typeof(TerminalResult))]
[JsonSerializable(typeof(List<EditSpec>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int?))]
[JsonSerializable(typeof(long?))]
[JsonSerializable(typeof(double?))]
[JsonSerializable(typeof(bool))]
internal sealed partial class ToolJsonContext : JsonSerializerContext;
