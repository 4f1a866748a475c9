using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

// Runs a scripted scenario against the real server over stdio:
//   session-mcp-harness scenario.json [--data-dir DIR]
// Each step calls one tool; "${name}" in arguments is replaced by a value saved from an earlier result ("save"), and
// "expect" / "expect_error" make the run fail when the server does not behave as the scenario says.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: session-mcp-harness SCENARIO.json [--data-dir DIR]");
    return 2;
}

var scenario = JsonNode.Parse(File.ReadAllText(args[0]))!.AsObject();
// The demo keeps its data in ./.data (ignored by git) so it never touches a real data directory.
var dataDir = Path.GetFullPath(args.SkipWhile(a => a != "--data-dir").Skip(1).FirstOrDefault() ?? ".data");
var server = Path.Combine(AppContext.BaseDirectory, "session-mcp.dll");

Console.WriteLine($"scenario: {scenario["name"]}  (server data dir: {dataDir})");
await using var client = await McpClient.CreateAsync(new StdioClientTransport(new StdioClientTransportOptions
{
    Name = "session-mcp",
    Command = "dotnet",
    // A one-off run: the server in the child started here, no daemon left running after the scenario.
    Arguments = [server, "serve", "--data-dir", dataDir, "--daemon", "never"],
}), new McpClientOptions { ClientInfo = new() { Name = "session-mcp-harness", Version = "1.0" } });

var saved = new Dictionary<string, string>();
var failures = 0;
var number = 0;
foreach (var step in scenario["steps"]!.AsArray().Select(s => s!.AsObject()))
{
    number++;
    var tool = step["tool"]!.GetValue<string>();
    var arguments = Substitute(step["args"]?.DeepClone() ?? new JsonObject(), saved).AsObject();
    Console.WriteLine();
    Console.WriteLine($"[{number}] {step["say"]?.GetValue<string>() ?? tool}");
    Console.WriteLine($"    -> {tool} {Compact(arguments)}");

    var result = await client.CallToolAsync(tool, arguments.ToDictionary(p => p.Key, p => (object?)JsonSerializer.Deserialize<JsonElement>(p.Value?.ToJsonString() ?? "null")));
    var text = string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
    var structured = result.StructuredContent is { } s ? JsonNode.Parse(s.GetRawText()) : null;
    var expectError = step["expect_error"]?.GetValue<bool>() ?? false;

    if (result.IsError == true)
    {
        Console.WriteLine($"    <- error: {text}");
    }
    else
    {
        Print(tool, structured);
    }
    if ((result.IsError == true) != expectError)
    {
        Console.WriteLine($"    !! expected {(expectError ? "an error" : "success")}");
        failures++;
    }
    foreach (var (name, path) in step["save"]?.AsObject() ?? [])
    {
        saved[name] = structured?[path!.GetValue<string>()]?.ToString() ?? "";
    }
    foreach (var (field, expected) in step["expect"]?.AsObject() ?? [])
    {
        var actual = structured?[field];
        var ok = expected is JsonValue v && v.TryGetValue<string>(out var pattern) && pattern.StartsWith('~')
            ? Regex.IsMatch(actual?.ToString() ?? "", pattern[1..])
            : JsonNode.DeepEquals(actual, expected);
        if (!ok)
        {
            Console.WriteLine($"    !! expected {field} = {expected?.ToJsonString()}, got {actual?.ToJsonString() ?? "nothing"}");
            failures++;
        }
    }
}

Console.WriteLine();
Console.WriteLine(failures == 0 ? $"OK: {number} steps" : $"FAILED: {failures} expectation(s) not met");
return failures == 0 ? 0 : 1;

static JsonNode Substitute(JsonNode node, Dictionary<string, string> saved) => node switch
{
    JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : (JsonNode?)Substitute(p.Value.DeepClone(), saved)))),
    JsonArray a => new JsonArray([.. a.Select(i => i is null ? null : Substitute(i.DeepClone(), saved))]),
    JsonValue v when v.TryGetValue<string>(out var s) => JsonValue.Create(Regex.Replace(s, @"\$\{(\w+)\}", m => saved.GetValueOrDefault(m.Groups[1].Value, m.Value))),
    _ => node,
};

static string Compact(JsonNode? node)
{
    var text = node?.ToJsonString() ?? "";
    return text.Length > 160 ? text[..157] + "..." : text;
}

static void Print(string tool, JsonNode? r)
{
    switch (tool)
    {
        case "session_exec":
            Console.WriteLine($"    <- exit {r?["exit_code"]}  cwd {r?["cwd"]}  {r?["duration_ms"]} ms{(r?["timed_out"]?.GetValue<bool>() == true ? "  TIMED OUT" : "")}{(r?["truncated"]?.GetValue<bool>() == true ? "  (truncated)" : "")}  event {r?["event_seq"]}");
            Indent(r?["stdout"]?.ToString(), "stdout");
            Indent(r?["stderr"]?.ToString(), "stderr");
            break;
        case "session_edit_file":
            Console.WriteLine($"    <- {r?["replacements"]} replacement(s), eol {r?["eol"]}, sha256 {Short(r?["sha256_after"])}  event {r?["event_seq"]}");
            Indent(r?["diff"]?.ToString(), "diff");
            break;
        case "session_read_file":
            Console.WriteLine($"    <- {r?["total_lines"]} lines, sha256 {Short(r?["sha256"])}  event {r?["event_seq"]}");
            Indent(r?["content"]?.ToString(), "content");
            break;
        case "session_replay" when r is not null && r["transcript"] is { } transcript:
            Indent(transcript.ToString(), "transcript");
            break;
        case "session_list":
            foreach (var s in r?["sessions"]?.AsArray() ?? [])
            {
                Console.WriteLine($"    <- {s?["session_id"]}  {s?["backend"]}  {s?["status"]}  {s?["name"]}  cwd {s?["cwd"]}");
            }
            break;
        default:
            Console.WriteLine($"    <- {Compact(r)}");
            break;
    }
}

static string Short(JsonNode? hash) => hash?.ToString() is { Length: > 12 } h ? h[..12] + "…" : hash?.ToString() ?? "";

static void Indent(string? text, string label)
{
    if (string.IsNullOrEmpty(text))
    {
        return;
    }
    Console.WriteLine($"       {label}:");
    foreach (var line in text.TrimEnd('\n').Split('\n'))
    {
        Console.WriteLine($"       | {line}");
    }
}
