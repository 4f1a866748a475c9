using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Execution;

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
