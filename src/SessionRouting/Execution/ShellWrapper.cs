namespace SessionMcp.SessionRouting.Execution;

/// <summary>
/// The few lines of POSIX sh that give one-shot commands terminal semantics. Each command runs in a fresh shell (so it
/// can be killed on its own); the wrapper enters the session's working directory, evaluates the command in that same
/// shell (so <c>cd</c> and <c>export</c> take effect), and on exit, however the command ends, writes the final
/// directory and <c>export -p</c> to a state file. Both backends use it: the local one directly, the docker one inside
/// its helper. Only shell builtins run here, so it adds no process to the command.
/// </summary>
internal static class ShellWrapper
{
    /// <summary>Positional parameters: 1 state file, 2 working directory, 3 command, 4 workspace root.</summary>
    public const string Script = """
        __smcp_state=$1; __smcp_cmd=$3
        cd -- "$2" 2>/dev/null || { printf 'session-mcp: working directory %s no longer exists; running in %s\n' "$2" "$4" >&2; cd -- "$4"; }
        trap '__smcp_rc=$?; { printf "%s\0" "$PWD"; export -p; } > "$__smcp_state"; exit $__smcp_rc' EXIT
        shift 4
        eval "$__smcp_cmd"
        """;

    /// <summary>Name of <c>$0</c> inside the wrapper (what <c>echo $0</c> prints).</summary>
    public const string ArgumentZero = "session-mcp";

    /// <summary>Parses a state file: the working directory, a NUL, then the output of <c>export -p</c>.</summary>
    public static (string Cwd, Dictionary<string, string> Env)? ParseState(string? state)
    {
        if (string.IsNullOrEmpty(state))
        {
            return null;
        }
        var separator = state.IndexOf('\0');
        if (separator <= 0)
        {
            return null;
        }
        return (state[..separator], ShellExports.Parse(state[(separator + 1)..]));
    }
}
