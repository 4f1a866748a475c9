using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// An incoming message filter for tools/call params the SDK cannot deserialize (params that are not an object, a
/// missing or non-string name, arguments that are not an object, a string with an unpaired UTF-16 surrogate): the SDK
/// would answer those with a bare -32603 before any tool filter runs, so nothing would be audited. The guard replaces
/// such params with ones it can read — the name and arguments as far as they are readable, surrogates as U+FFFD — and
/// leaves the problem in the request's items, where <see cref="AuditCallFilter"/> rejects and audits the call with it.
/// </summary>
internal static class CallParamsGuard
{
    /// <summary>The key of the problem in <see cref="MessageContext.Items"/>, shared with the call's request context.</summary>
    public const string ProblemKey = "session-mcp.call-params-problem";

    private const string Shape = "send {\"name\": TOOL, \"arguments\": {...}}";

    public static McpMessageHandler Filter(McpMessageHandler next) => async (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcRequest { Method: RequestMethods.ToolsCall } request
            && Inspect(request.Params) is { } found)
        {
            request.Params = found.Params;
            context.Items[ProblemKey] = found.Problem;
        }
        await next(context, cancellationToken).ConfigureAwait(false);
    };

    /// <summary>Readable params and what was wrong with <paramref name="parameters"/>; null when they are fine as they are.</summary>
    internal static (JsonObject Params, string Problem)? Inspect(JsonNode? parameters)
    {
        if (parameters is not JsonObject given)
        {
            var got = parameters is null ? "no params" : $"params that are {Kind(parameters)}";
            return (new JsonObject { ["name"] = "" }, $"tools/call got {got}; {Shape}. Nothing was done.");
        }

        var problems = new List<string>();
        List<KeyValuePair<string, JsonNode?>> members;
        try
        {
            members = [.. given];
        }
        catch (InvalidOperationException)
        {
            // A property name that is not valid Unicode: the object cannot even be listed.
            return (new JsonObject { ["name"] = "" }, $"tools/call params hold a property name that is not valid Unicode (an unpaired UTF-16 surrogate); {Shape}. Nothing was done.");
        }

        var sanitized = new JsonObject();
        var name = members.FirstOrDefault(m => m.Key == "name").Value;
        switch (name)
        {
            case null:
                problems.Add($"tools/call params have no \"name\" (the tool to call); {Shape}");
                sanitized["name"] = "";
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                sanitized["name"] = Clean(value, "name", problems);
                break;
            default:
                problems.Add($"tools/call \"name\" must be a string (the tool's name), got {Kind(name)}");
                sanitized["name"] = "";
                break;
        }

        var arguments = members.FirstOrDefault(m => m.Key == "arguments");
        switch (arguments.Value)
        {
            case null:
                break;
            case JsonObject argumentObject:
                sanitized["arguments"] = Clean(argumentObject, "argument", problems);
                break;
            default:
                problems.Add($"tools/call \"arguments\" must be an object of the tool's arguments by name, got {Kind(arguments.Value)}");
                break;
        }

        // _meta (progress token) is kept when readable: the SDK already read it, and progress still works.
        if (members.FirstOrDefault(m => m.Key == "_meta").Value is JsonObject meta)
        {
            var metaProblems = new List<string>();
            var cleanMeta = Clean(meta, "_meta", metaProblems);
            if (metaProblems.Count == 0)
            {
                sanitized["_meta"] = cleanMeta;
            }
        }

        return problems.Count == 0 ? null : (sanitized, $"{string.Join("; ", problems)}. Nothing was done.");
    }

    /// <summary>A copy of <paramref name="node"/> whose strings are valid Unicode; each unpaired surrogate is named in <paramref name="problems"/>.</summary>
    private static JsonNode? Clean(JsonNode? node, string path, List<string> problems)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonObject obj:
                List<KeyValuePair<string, JsonNode?>> members;
                try
                {
                    members = [.. obj];
                }
                catch (InvalidOperationException)
                {
                    problems.Add($"{Describe(path)} has a property name that is not valid Unicode (an unpaired UTF-16 surrogate)");
                    return new JsonObject();
                }
                var copy = new JsonObject();
                foreach (var (key, value) in members)
                {
                    copy[key] = Clean(value, path is "argument" ? key : $"{path}.{key}", problems);
                }
                return copy;
            case JsonArray array:
                var items = new JsonArray();
                var index = 0;
                foreach (var item in array)
                {
                    items.Add(Clean(item, $"{path}[{index++}]", problems));
                }
                return items;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return Clean(value, path, problems);
            default:
                return node.DeepClone();
        }
    }

    private static string Clean(JsonValue value, string path, List<string> problems)
    {
        try
        {
            return value.GetValue<string>();
        }
        catch (InvalidOperationException)
        {
            var (text, lone) = DecodeLenient(value);
            problems.Add($"{Describe(path)} is not valid Unicode: it holds an unpaired UTF-16 surrogate ({lone}); send text as UTF-8, or a surrogate only as a \\uD8xx\\uDCxx pair");
            return text;
        }
    }

    private static string Describe(string path) => path switch
    {
        "name" or "_meta" => $"\"{path}\"",
        "argument" => "\"arguments\"",
        _ => $"argument '{path}'",
    };

    /// <summary>The string's text with every unpaired surrogate replaced by U+FFFD, and the first one as an escape.</summary>
    private static (string Text, string FirstLone) DecodeLenient(JsonValue value)
    {
        string raw;
        try
        {
            raw = value.TryGetValue<JsonElement>(out var element) ? element.GetRawText() : value.ToJsonString();
        }
        catch (InvalidOperationException)
        {
            return ("\uFFFD", "unreadable");
        }
        var decoded = new StringBuilder();
        for (var i = 1; i < raw.Length - 1; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                decoded.Append(c);
                continue;
            }
            var escape = raw[++i];
            decoded.Append(escape switch
            {
                'b' => '\b',
                'f' => '\f',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => (char)int.Parse(raw.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                _ => escape,
            });
            if (escape == 'u')
            {
                i += 4;
            }
        }

        var text = new StringBuilder(decoded.Length);
        string? first = null;
        for (var i = 0; i < decoded.Length; i++)
        {
            var c = decoded[i];
            if (char.IsHighSurrogate(c) && i + 1 < decoded.Length && char.IsLowSurrogate(decoded[i + 1]))
            {
                text.Append(c).Append(decoded[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                first ??= $"\\u{(int)c:x4}";
                text.Append('\uFFFD');
            }
            else
            {
                text.Append(c);
            }
        }
        return (text.ToString(), first ?? "unreadable");
    }

    private static string Kind(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {node.ToJsonString()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {node.ToJsonString()}",
        JsonValueKind.Null => "null",
        _ => "something else",
    };
}
