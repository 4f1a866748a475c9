using System.Text.Json;
using Json.Schema;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>
/// What every tool result must honour, checked on every result a test receives: structured content that validates
/// against the tool's declared output schema (as the official TypeScript client enforces), errors that carry no
/// structured content, and a size within the result budget.
/// </summary>
public sealed class ResultContract
{
    /// <summary>The server's default budget: text blocks and structured content together.</summary>
    public const int DefaultBudgetChars = 40_000;

    // As a JavaScript client sees the structured content (JSON.stringify): the wire's \u002B-style escapes are the
    // transport's, not what a model is shown.
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    private readonly Dictionary<string, JsonSchema?> _schemas;

    private ResultContract(Dictionary<string, JsonSchema?> schemas) => _schemas = schemas;

    public static async Task<ResultContract> LoadAsync(McpClient client, CancellationToken cancellationToken)
    {
        var tools = await client.ListToolsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ResultContract(tools.ToDictionary(
            t => t.Name,
            t => t.ProtocolTool.OutputSchema is { } schema ? JsonSchema.FromText(schema.GetRawText()) : null));
    }

    /// <summary>Fails the test with the violations of <paramref name="result"/>, if any.</summary>
    public void Check(string tool, CallToolResult result, int budgetChars = DefaultBudgetChars)
    {
        var problems = Violations(tool, result, budgetChars);
        Assert.True(problems.Count == 0, $"{tool} broke the result contract: {string.Join("; ", problems)}\nresult: {JsonSerializer.Serialize(result)}");
    }

    /// <summary>What a result costs a model: its text blocks plus its structured content as JSON.</summary>
    public static int SizeOf(CallToolResult result) =>
        result.Content.OfType<TextContentBlock>().Sum(t => t.Text.Length)
        + (result.StructuredContent is { } structured ? JsonSerializer.Serialize(structured, Relaxed).Length : 0);

    public IReadOnlyList<string> Violations(string tool, CallToolResult result, int budgetChars)
    {
        var problems = new List<string>();
        var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));
        var size = SizeOf(result);
        if (size > budgetChars)
        {
            problems.Add($"{size:N0} characters, over the {budgetChars:N0} budget");
        }
        if (result.IsError == true)
        {
            if (result.StructuredContent is not null)
            {
                problems.Add("an error result carries structured content");
            }
            if (text.Length == 0)
            {
                problems.Add("an error result without a message");
            }
            return problems;
        }
        if (!_schemas.TryGetValue(tool, out var schema) || schema is null)
        {
            problems.Add("a successful result of a tool without an output schema");
            return problems;
        }
        if (result.StructuredContent is not { } structured)
        {
            problems.Add("no structured content although the tool declares an output schema");
            return problems;
        }
        var evaluation = schema.Evaluate(structured, Evaluation);
        if (!evaluation.IsValid)
        {
            problems.AddRange((evaluation.Details ?? [evaluation])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));
            if (problems.Count == 0)
            {
                problems.Add("structured content does not match the output schema");
            }
        }
        return problems;
    }
}
