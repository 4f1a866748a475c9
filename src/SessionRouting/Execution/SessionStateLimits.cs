using System.Globalization;

namespace SessionMcp.SessionRouting.Execution;

/// <summary>
/// How much shell state a session may persist. Exported variables go into every later command's environment, the
/// registry and each call's redaction, so one <c>export BIG=$(head -c 100000000 …)</c> would otherwise make every later
/// call slow and huge, and past the kernel's argument limit kill the session for good ("Argument list too long", even
/// for <c>unset</c>). Over a limit, the command's state is not kept and its result says why, so the session stays usable.
/// </summary>
internal static class SessionStateLimits
{
    /// <summary>The most of a command's state file (cwd and <c>export -p</c>) the server reads.</summary>
    public const int MaxStateBytes = 1024 * 1024;

    public const int MaxVariableChars = 64 * 1024;

    public const int MaxTotalChars = 256 * 1024;

    /// <summary>Why <paramref name="env"/> may not be persisted, or null when it may.</summary>
    public static string? Violation(IReadOnlyDictionary<string, string> env)
    {
        foreach (var (name, value) in env)
        {
            if (value.Length > MaxVariableChars)
            {
                return string.Create(CultureInfo.InvariantCulture, $"exported variable {name} is {value.Length:N0} characters, over the limit of {MaxVariableChars:N0}");
            }
        }
        var total = env.Sum(e => (long)e.Key.Length + e.Value.Length);
        return total > MaxTotalChars
            ? string.Create(CultureInfo.InvariantCulture, $"the exported variables total {total:N0} characters, over the limit of {MaxTotalChars:N0}")
            : null;
    }

    /// <summary>The note for a command whose state was not kept.</summary>
    public static string NotKept(string reason) =>
        $"this command's cd/export changes were not kept: {reason}. Keep large data in files, not variables (unset it in the same command to stay within the limits)";

    /// <summary>The note for a command whose state file was larger than <see cref="MaxStateBytes"/> (it is not read).</summary>
    public static readonly string StateFileTooLarge =
        NotKept(string.Create(CultureInfo.InvariantCulture, $"the shell state (cwd and exported variables) is over {MaxStateBytes:N0} bytes"));

    /// <summary>Two notes as one.</summary>
    public static string? Join(string? first, string? second) =>
        first is null ? second : second is null ? first : $"{first}; {second}";
}
