using System.Text.Json;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// Checks a call's arguments against the tool's input schema before the tool runs. The SDK reports a missing or
/// mistyped argument with no detail at all; this names the argument, what was expected and what came.
/// </summary>
internal static class ArgumentValidator
{
    /// <summary>The problems found, empty when the arguments fit the schema.</summary>
    public static IReadOnlyList<string> Validate(JsonElement schema, IReadOnlyDictionary<string, JsonElement>? arguments)
    {
        var problems = new List<string>();
        var given = arguments ?? new Dictionary<string, JsonElement>();
        var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;

        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
            {
                if (!given.ContainsKey(name))
                {
                    problems.Add($"missing required argument '{name}'{Expected(properties, name)}");
                }
            }
        }
        foreach (var (name, value) in given)
        {
            if (properties.ValueKind != JsonValueKind.Object || !properties.TryGetProperty(name, out var propertySchema))
            {
                var known = properties.ValueKind == JsonValueKind.Object ? string.Join(", ", properties.EnumerateObject().Select(x => x.Name)) : "";
                problems.Add($"unknown argument '{name}' (this tool takes: {known})");
                continue;
            }
            CheckValue(propertySchema, value, name, problems);
        }
        return problems;
    }

    private static void CheckValue(JsonElement schema, JsonElement value, string path, List<string> problems)
    {
        var types = AllowedTypes(schema);
        if (types.Count > 0 && !types.Any(t => Fits(t, value)))
        {
            if (types.Contains("integer") && IsWholeNumber(value))
            {
                // A whole number the 64-bit parameters cannot hold: out of range, not of the wrong type.
                problems.Add($"argument '{path}' is out of range: got {Describe(value)}, beyond what a 64-bit integer holds; see the tool's description for its limits");
                return;
            }
            problems.Add($"argument '{path}' must be {string.Join(" or ", types.Where(t => t != "null"))}, got {Describe(value)}");
            return;
        }
        if (schema.TryGetProperty("enum", out var allowed) && allowed.ValueKind == JsonValueKind.Array && value.ValueKind != JsonValueKind.Null
            && !allowed.EnumerateArray().Any(a => JsonElement.DeepEquals(a, value)))
        {
            problems.Add($"argument '{path}' must be one of {string.Join(", ", allowed.EnumerateArray().Select(a => a.GetRawText()))}, got {value.GetRawText()}");
            return;
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.Array when schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Object:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    CheckValue(items, item, $"{path}[{index++}]", problems);
                }
                break;
            case JsonValueKind.Object:
                if (schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
                {
                    var nested = Validate(schema, value.EnumerateObject().ToDictionary(x => x.Name, x => x.Value));
                    problems.AddRange(nested.Select(n => n.Replace("argument '", $"argument '{path}.", StringComparison.Ordinal)));
                }
                else if (schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.Object)
                {
                    foreach (var property in value.EnumerateObject())
                    {
                        CheckValue(additional, property.Value, $"{path}.{property.Name}", problems);
                    }
                }
                break;
        }
    }

    private static List<string> AllowedTypes(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var type))
        {
            return [];
        }
        return type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array => [.. type.EnumerateArray().Select(t => t.GetString()!)],
            _ => [],
        };
    }

    private static bool Fits(string type, JsonElement value) => type switch
    {
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    private static bool IsWholeNumber(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && decimal.TryParse(value.GetRawText(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            ? decimal.Truncate(d) == d
            : value.ValueKind == JsonValueKind.Number && double.TryParse(value.GetRawText(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) && Math.Floor(x) == x;

    private static string Expected(JsonElement properties, string name) =>
        properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(name, out var schema) && AllowedTypes(schema) is { Count: > 0 } types
            ? $" ({string.Join(" or ", types.Where(t => t != "null"))})"
            : "";

    private static string Describe(JsonElement value)
    {
        var text = value.GetRawText();
        if (text.Length > 60)
        {
            text = text[..57] + "...";
        }
        return value.ValueKind switch
        {
            JsonValueKind.String => $"the string {text}",
            JsonValueKind.Number => $"the number {text}",
            JsonValueKind.True or JsonValueKind.False => $"the boolean {text}",
            JsonValueKind.Null => "null",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            _ => text,
        };
    }
}
