using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace SessionMcp.McpServer.Results;

/// <summary>
/// The most characters one tool result may cost a model: its text block and its structured content counted together.
/// Clients refuse large results (Claude Code warns above ~10,000 tokens and refuses above 25,000), so every tool shapes
/// its result to fit; the full data stays in the audit log.
/// </summary>
internal sealed class ResultBudget(int maxChars)
{
    public const int DefaultMaxChars = 40_000;

    /// <summary>Below this, even an error message or a session's description would not fit.</summary>
    public const int MinimumMaxChars = 4_000;

    /// <summary>Room kept for the event number added after shaping and for the JSON punctuation around the parts.</summary>
    private const int Reserve = 200;

    public int MaxChars { get; } = maxChars;

    public static string Json(IToolResult result) => JsonSerializer.Serialize(result, result.GetType(), ToolJson.Options);

    /// <summary>What the result costs: the rendering plus the structured content.</summary>
    public static int SizeOf(IToolResult result) => result.Render().Length + Json(result).Length;

    public bool Fits(IToolResult result) => SizeOf(result) <= MaxChars - Reserve;

    /// <summary>
    /// Builds the result with the largest allowance (characters of payload, lines, events…) that fits, between
    /// <paramref name="minimum"/> and <paramref name="natural"/> (the allowance that cuts nothing). Allowances are
    /// assumed monotone: a larger one never gives a smaller result. With no allowance fitting, the minimum is returned.
    /// </summary>
    public T Fit<T>(int natural, Func<int, T> build, int minimum = 0)
        where T : IToolResult
    {
        var whole = build(natural);
        if (Fits(whole) || natural <= minimum)
        {
            return whole;
        }
        // Every payload character costs at least one character in the rendering and one in the JSON.
        var (low, high) = (minimum, Math.Min(natural - 1, Math.Max(minimum, MaxChars / 2)));
        var best = build(minimum);
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var candidate = build(middle);
            if (Fits(candidate))
            {
                best = candidate;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return best;
    }

    /// <summary>The protocol result: structured content and its rendering as the one text block.</summary>
    public static CallToolResult ToCallToolResult(IToolResult result) => new()
    {
        StructuredContent = JsonSerializer.SerializeToElement(result, result.GetType(), ToolJson.Options),
        Content = [new TextContentBlock { Text = result.Render() }],
    };
}
