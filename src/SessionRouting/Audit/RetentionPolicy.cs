using System.Globalization;
using System.Text.Json.Nodes;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// What <c>session-mcp audit prune</c> removes. Every limit keeps the newest events: <see cref="OlderThan"/> takes events
/// older than that; <see cref="MaxBytes"/> keeps the newest events whose stored size fits, over all events (or, with
/// <see cref="SessionId"/>, that session's) and takes every older one; <see cref="MaxSessionBytes"/> does the same within
/// each session. An event matching any limit is taken.
/// </summary>
/// <param name="SessionId">Only this session's events may be taken (the others stay, and keep verifying).</param>
/// <param name="OutputsOnly">Drop only the full outputs of the events taken (encoding 3); their metadata stays.</param>
public sealed record RetentionPolicy(
    TimeSpan? OlderThan = null,
    long? MaxBytes = null,
    long? MaxSessionBytes = null,
    string? SessionId = null,
    bool OutputsOnly = false)
{
    /// <summary>Whether any limit is set (a policy without one would take nothing).</summary>
    public bool HasLimit => OlderThan is not null || MaxBytes is not null || MaxSessionBytes is not null;

    /// <summary>The policy as the audit event records it, with the cut-off time it resolved to.</summary>
    public JsonObject ToJson(DateTimeOffset? cutoff)
    {
        var json = new JsonObject();
        if (OlderThan is { } age)
        {
            json["older_than_seconds"] = (long)age.TotalSeconds;
            json["before"] = cutoff is { } c ? HashChain.FormatTime(c) : null;
        }
        if (MaxBytes is { } max)
        {
            json["max_bytes"] = max;
        }
        if (MaxSessionBytes is { } perSession)
        {
            json["max_session_bytes"] = perSession;
        }
        if (SessionId is { } session)
        {
            json["session_id"] = session;
        }
        json["outputs_only"] = OutputsOnly;
        return json;
    }

    /// <summary>An age as the command line takes it: a whole number and a unit, s, m, h, d or w (<c>30d</c>).</summary>
    public static bool TryParseAge(string text, out TimeSpan age)
    {
        age = default;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            return false;
        }
        TimeSpan? unit = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(1),
            'm' => TimeSpan.FromMinutes(1),
            'h' => TimeSpan.FromHours(1),
            'd' => TimeSpan.FromDays(1),
            'w' => TimeSpan.FromDays(7),
            _ => null,
        };
        if (unit is null || count > TimeSpan.MaxValue.Ticks / unit.Value.Ticks)
        {
            return false;
        }
        age = unit.Value * count;
        return true;
    }

    /// <summary>A size as the command line takes it: bytes, or a whole number with K, M, G or T (powers of 1024; KB,
    /// KiB and the like too).</summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        var digits = text.TakeWhile(char.IsAsciiDigit).Count();
        if (digits == 0 || !long.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            return false;
        }
        long? unit = text[digits..].ToUpperInvariant() switch
        {
            "" or "B" => 1L,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => null,
        };
        if (unit is null || count > long.MaxValue / unit.Value)
        {
            return false;
        }
        bytes = count * unit.Value;
        return true;
    }
}
