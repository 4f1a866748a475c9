using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.McpServer.Tools;

/// <summary>Checks on argument values that a JSON schema cannot express; each failure says how to fix the call.</summary>
internal static class ToolArguments
{
    public static void RequireText(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new SessionException($"{name} is empty; give a non-empty {name}");
        }
    }

    public static void RequireRange(long? value, string name, long min, long max)
    {
        if (value is { } v && (v < min || v > max))
        {
            throw new SessionException($"{name} must be between {min:N0} and {max:N0}, got {v:N0}");
        }
    }

    /// <summary>
    /// The wait a read asks for (session_job_output, session_terminal_read): null without <paramref name="waitMs"/>; the
    /// other conditions need it.
    /// </summary>
    public static JobWaitConditions? Wait(long? waitMs, string? until, long? quietMs, long? minBytes, long maxMs)
    {
        RequireRange(waitMs, "wait_ms", 0, maxMs);
        RequireRange(quietMs, "quiet_ms", 1, maxMs);
        RequireRange(minBytes, "min_bytes", 1, long.MaxValue);
        if (waitMs is null && (until ?? (object?)quietMs ?? minBytes) is not null)
        {
            throw new SessionException("until, quiet_ms and min_bytes are conditions of a wait: give wait_ms too (the most to wait)");
        }
        if (waitMs is not { } wait || wait == 0)
        {
            return null;
        }
        System.Text.RegularExpressions.Regex? pattern;
        try
        {
            pattern = until is null ? null : JobWait.CreatePattern(until);
        }
        catch (ArgumentException e)
        {
            throw new SessionException($"until is not a usable regular expression: {e.Message}");
        }
        return new JobWaitConditions(TimeSpan.FromMilliseconds(wait), pattern, quietMs is { } quiet ? TimeSpan.FromMilliseconds(quiet) : null, minBytes);
    }

    public static IReadOnlyDictionary<string, string> Env(Dictionary<string, string>? env)
    {
        if (env is null)
        {
            return new Dictionary<string, string>();
        }
        foreach (var (name, value) in env)
        {
            if (!ShellExports.IsValidName(name))
            {
                throw new SessionException($"env name '{name}' is not a valid shell variable name (letters, digits and _, not starting with a digit)");
            }
            if (value.Contains('\0'))
            {
                throw new SessionException($"env value of '{name}' contains a NUL byte, which no process environment can hold");
            }
        }
        return env;
    }
}
