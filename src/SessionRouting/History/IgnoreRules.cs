using MAB.DotIgnore;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Which workspace paths history leaves out: <c>.git/</c> always, the configured patterns, the workspace's root
/// <c>.gitignore</c> and the <c>.gitignore</c> of every directory below it (gitignore syntax, read by MAB.DotIgnore).
/// As in git, a directory's file speaks of the paths under it and its last matching pattern decides over the files of
/// the directories above (so <c>!keep.log</c> in <c>pkg/.gitignore</c> takes back a root <c>*.log</c> for that package).
/// An ignored directory is neither walked nor watched, so it costs nothing however large it grows.
/// </summary>
internal sealed class IgnoreRules
{
    /// <summary>A session writes its own <c>.gitignore</c> files: past this size the rest of one is not read.</summary>
    public const int MaxGitignoreBytes = 64 * 1024;

    public const string GitignoreName = ".gitignore";

    private readonly IgnoreList _root;
    private readonly Dictionary<string, IgnoreList> _nested = new(StringComparer.Ordinal);

    public IgnoreRules(IEnumerable<string> configured, string? gitignore)
    {
        var rules = new List<string> { ".git/" };
        rules.AddRange(configured);
        rules.AddRange(Lines(gitignore));
        _root = new IgnoreList(rules.Where(r => r.Length > 0 && !r.StartsWith('#')), MatchFlags.PATHNAME);
    }

    /// <summary>Whether <paramref name="path"/> names a <c>.gitignore</c> file (at the root or in any directory).</summary>
    public static bool IsGitignore(string path) => path == GitignoreName || path.EndsWith("/" + GitignoreName, StringComparison.Ordinal);

    /// <summary>Takes the <c>.gitignore</c> of the directory <paramref name="directory"/> (below the root), or forgets it when null.</summary>
    public void SetNested(string directory, string? gitignore)
    {
        if (gitignore is null)
        {
            _nested.Remove(directory);
            return;
        }
        _nested[directory] = new IgnoreList(Lines(gitignore), MatchFlags.PATHNAME);
    }

    public bool IsIgnored(string relativePath, bool isDirectory)
    {
        var ignored = _root.IsIgnored(relativePath, isDirectory);
        if (_nested.Count == 0)
        {
            return ignored;
        }
        // The directories above the path, outermost first: a deeper file's verdict replaces a shallower one's.
        for (var slash = relativePath.IndexOf('/'); slash > 0; slash = relativePath.IndexOf('/', slash + 1))
        {
            if (_nested.TryGetValue(relativePath[..slash], out var list) && Verdict(list, relativePath[(slash + 1)..], isDirectory) is { } verdict)
            {
                ignored = verdict;
            }
        }
        return ignored;
    }

    /// <summary>What the last pattern of <paramref name="list"/> that matches says (ignore, or take back with <c>!</c>); null when none matches.</summary>
    private static bool? Verdict(IgnoreList list, string path, bool isDirectory)
    {
        bool? verdict = null;
        foreach (var rule in list.Rules)
        {
            if (rule.IsMatch(path, isDirectory))
            {
                verdict = !rule.PatternFlags.HasFlag(PatternFlags.NEGATION);
            }
        }
        return verdict;
    }

    private static IEnumerable<string> Lines(string? gitignore) =>
        (gitignore ?? "").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith('#'));
}
