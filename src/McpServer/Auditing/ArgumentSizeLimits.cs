using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.McpServer.Auditing;

/// <summary>
/// The largest arguments the tools take, checked before a tool runs so an over-limit call changes nothing and is
/// recorded as rejected. File content and edit strings stop at the file tools' own file size; a command at what Linux
/// passes as one argument (MAX_ARG_STRLEN, 128 KiB with its NUL: beyond it the spawn fails with E2BIG); stdin at the
/// file size too; the call's env at what fits beside the command in a process's arguments and environment.
/// </summary>
internal static class ArgumentSizeLimits
{
    public const int MaxContentBytes = (int)WorkspaceFiles.MaxFileBytes;
    public const int MaxCommandBytes = 128 * 1024 - 1;
    public const int MaxStdinBytes = (int)WorkspaceFiles.MaxFileBytes;
    public const int MaxEnvEntryBytes = 128 * 1024 - 1;
    public const int MaxEnvBytes = 1024 * 1024;

    /// <summary>The limits <paramref name="tool"/>'s arguments break, each with what to do instead; empty when none.</summary>
    public static IReadOnlyList<string> Check(string tool, IReadOnlyDictionary<string, JsonElement>? arguments)
    {
        var problems = new List<string>();
        if (arguments is null)
        {
            return problems;
        }
        switch (tool)
        {
            case "session_write_file":
                CheckString(arguments, "content", MaxContentBytes, "the file tools' file size limit; write the file in parts (session_write_file, then session_exec \"cat part2 >> file\") or generate it with a command", problems);
                break;
            case "session_edit_file":
                CheckString(arguments, "old_string", MaxContentBytes, "the file tools' file size limit", problems);
                CheckString(arguments, "new_string", MaxContentBytes, "the file tools' file size limit", problems);
                if (arguments.TryGetValue("edits", out var edits) && edits.ValueKind == JsonValueKind.Array)
                {
                    var index = 0;
                    foreach (var edit in edits.EnumerateArray())
                    {
                        if (edit.ValueKind == JsonValueKind.Object)
                        {
                            var fields = edit.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
                            CheckString(fields, "old_string", MaxContentBytes, "the file tools' file size limit", problems, $"edits[{index}].");
                            CheckString(fields, "new_string", MaxContentBytes, "the file tools' file size limit", problems, $"edits[{index}].");
                        }
                        index++;
                    }
                }
                break;
            case "session_exec":
                CheckString(arguments, "command", MaxCommandBytes, "the most Linux passes as one argument; put a long script in a file with session_write_file and run it (sh script.sh)", problems);
                CheckString(arguments, "stdin", MaxStdinBytes, "write the input to a file with session_write_file and redirect it (cmd < input.txt)", problems);
                CheckEnv(arguments, problems);
                break;
        }
        return problems;
    }

    /// <summary>
    /// The arguments as the audit event stores them. A string longer than <see cref="MaxStoredStringChars"/> (a large
    /// file's content, a long stdin) is kept as its start and end with its size and SHA-256, not whole: copied, redacted
    /// and serialised whole it cost the server gigabytes under a stream of large writes, and what a write did is on
    /// disk (and its hash in the event's summary). Commands, paths and edit strings of ordinary size are kept as given.
    /// </summary>
    public static JsonNode? ForAudit(IReadOnlyDictionary<string, JsonElement>? arguments) =>
        arguments is null ? null : new JsonObject(arguments.Select(p => KeyValuePair.Create(p.Key, ForAudit(p.Value))));

    /// <summary>Longest argument string an audit event stores whole.</summary>
    public const int MaxStoredStringChars = 256 * 1024;

    private const int StoredExcerptChars = 2_000;

    private static JsonNode? ForAudit(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new JsonObject(value.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, ForAudit(p.Value)))),
        JsonValueKind.Array => new JsonArray([.. value.EnumerateArray().Select(ForAudit)]),
        JsonValueKind.String => JsonValue.Create(Excerpt(value.GetString()!)),
        _ => JsonNode.Parse(value.GetRawText()),
    };

    private static string Excerpt(string text)
    {
        if (text.Length <= MaxStoredStringChars)
        {
            return text;
        }
        var bytes = Encoding.UTF8.GetBytes(text);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        return string.Create(CultureInfo.InvariantCulture,
            $"{text.AsSpan(0, StoredExcerptChars)}\n[... {bytes.Length:N0} bytes in all, sha256 {sha}; only the start and end are stored ...]\n{text.AsSpan(text.Length - StoredExcerptChars)}");
    }

    private static void CheckString(IReadOnlyDictionary<string, JsonElement> arguments, string name, int limit, string advice, List<string> problems, string prefix = "")
    {
        if (arguments.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String && Utf8Bytes(value) is var bytes && bytes > limit)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}{name} is {bytes:N0} bytes, over the limit of {limit:N0} bytes ({advice})"));
        }
    }

    private static void CheckEnv(IReadOnlyDictionary<string, JsonElement> arguments, List<string> problems)
    {
        if (!arguments.TryGetValue("env", out var env) || env.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        long total = 0;
        foreach (var variable in env.EnumerateObject().Where(v => v.Value.ValueKind == JsonValueKind.String))
        {
            var bytes = Encoding.UTF8.GetByteCount(variable.Name) + 1 + Utf8Bytes(variable.Value);
            total += bytes;
            if (bytes > MaxEnvEntryBytes)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"env.{variable.Name} is {bytes:N0} bytes as NAME=value, over the limit of {MaxEnvEntryBytes:N0} bytes (the most Linux passes as one variable; put the value in a file)"));
            }
        }
        if (total > MaxEnvBytes)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"env is {total:N0} bytes in all, over the limit of {MaxEnvBytes:N0} bytes (put large values in files)"));
        }
    }

    private static long Utf8Bytes(JsonElement value) => Encoding.UTF8.GetByteCount(value.GetString()!);
}
