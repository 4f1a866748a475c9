namespace SessionMcp.SessionRouting.Execution;

/// <summary>
/// Decides what a finished command leaves behind in its session's environment.
/// </summary>
internal static class ShellStateMerge
{
    // Maintained by the shell itself; persisting them would leak one command's bookkeeping into the next.
    private static readonly HashSet<string> ShellBookkeeping = new(StringComparer.Ordinal) { "PWD", "OLDPWD", "SHLVL", "_" };

    /// <summary>
    /// The session's environment after a command. Commands may run concurrently on one session, so only what
    /// THIS command changed is applied onto <paramref name="current"/> (the session's environment now): keys whose
    /// value differs between <paramref name="atStart"/> and <paramref name="atEnd"/> are set, keys present at start
    /// and missing at end are removed. <paramref name="atStart"/> is the environment the command started with, i.e.
    /// the session's environment with <paramref name="perCallEnv"/> laid over it. Per-call entries never persist on
    /// their own: a key whose end value equals its per-call value counts as unchanged. PWD, OLDPWD, SHLVL and _
    /// never persist.
    /// </summary>
    public static Dictionary<string, string> Merge(
        IReadOnlyDictionary<string, string> current,
        IReadOnlyDictionary<string, string> atStart,
        IReadOnlyDictionary<string, string> atEnd,
        IReadOnlyDictionary<string, string> perCallEnv)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(atStart);
        ArgumentNullException.ThrowIfNull(atEnd);
        ArgumentNullException.ThrowIfNull(perCallEnv);

        var merged = new Dictionary<string, string>(current, StringComparer.Ordinal);
        foreach (var (name, endValue) in atEnd)
        {
            if (ShellBookkeeping.Contains(name))
            {
                continue;
            }

            var unchanged = atStart.TryGetValue(name, out var startValue) && string.Equals(startValue, endValue, StringComparison.Ordinal);
            var stillPerCallValue = perCallEnv.TryGetValue(name, out var perCallValue) && string.Equals(perCallValue, endValue, StringComparison.Ordinal);
            if (!unchanged && !stillPerCallValue)
            {
                merged[name] = endValue;
            }
        }

        foreach (var name in atStart.Keys)
        {
            if (!ShellBookkeeping.Contains(name) && !atEnd.ContainsKey(name))
            {
                merged.Remove(name);
            }
        }

        return merged;
    }
}
