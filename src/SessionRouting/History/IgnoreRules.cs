using System.Diagnostics;
using System.Text.RegularExpressions;
using MAB.DotIgnore;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Which workspace paths history leaves out: <c>.git/</c> always, the configured patterns, the workspace's root
/// <c>.gitignore</c> and the <c>.gitignore</c> of every directory below it (gitignore syntax, read by MAB.DotIgnore).
/// As in git, a directory's file speaks of the paths under it and its last matching pattern decides over the files of
/// the directories above (so <c>!keep.log</c> in <c>pkg/.gitignore</c> takes back a root <c>*.log</c> for that package).
/// An ignored directory is neither walked nor watched, so it costs nothing however large it grows.
/// <para>
/// The session writes these files, and MAB.DotIgnore matches with backtracking regular expressions: a pattern such as
/// <c>*a*a*a*a*a*a*a*a*b</c> against a long name takes seconds to hours. A pattern that takes longer than
/// <see cref="CostlyMatch"/> on a path (twice, so one garbage collection is not taken for it), or that runs into the
/// server's regular-expression timeout (set at start-up), is dropped, and the step says so; after
/// <see cref="MaxDroppedPerFile"/> such patterns the whole file is.
/// </para>
/// </summary>
internal sealed class IgnoreRules
{
    /// <summary>A session writes its own <c>.gitignore</c> files: past this size the rest of one is not read.</summary>
    public const int MaxGitignoreBytes = 64 * 1024;

    public const string GitignoreName = ".gitignore";

    /// <summary>A real pattern matches a path in microseconds.</summary>
    public static readonly TimeSpan CostlyMatch = TimeSpan.FromMilliseconds(20);

    public const int MaxDroppedPerFile = 3;

    // `.git/` and the operator's patterns come first (the workspace's own files may take them back, as in git, except
    // `.git/`); the workspace's files by their directory, "" for the root's.
    private readonly IgnoreList _git = new([".git/"], MatchFlags.PATHNAME);
    private readonly IgnoreList _configured;
    private readonly Dictionary<string, IgnoreList> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<IgnoreList, int> _dropped = [];
    private readonly Action<string> _note;

    /// <param name="note">Told which patterns were dropped as too costly (for the step's notes).</param>
    public IgnoreRules(IEnumerable<string> configured, string? gitignore, Action<string>? note = null)
    {
        _configured = new IgnoreList(configured.Where(r => r.Length > 0 && !r.StartsWith('#')), MatchFlags.PATHNAME);
        _note = note ?? (_ => { });
        SetFile("", gitignore);
    }

    /// <summary>Whether <paramref name="path"/> names a <c>.gitignore</c> file (at the root or in any directory).</summary>
    public static bool IsGitignore(string path) => path == GitignoreName || path.EndsWith("/" + GitignoreName, StringComparison.Ordinal);

    /// <summary>Takes the <c>.gitignore</c> of the directory <paramref name="directory"/> ("" for the root), or forgets it when null.</summary>
    public void SetFile(string directory, string? gitignore)
    {
        if (gitignore is null)
        {
            _files.Remove(directory);
            return;
        }
        _files[directory] = new IgnoreList(Lines(gitignore), MatchFlags.PATHNAME);
    }

    public bool IsIgnored(string relativePath, bool isDirectory)
    {
        if (_git.IsIgnored(relativePath, isDirectory))
        {
            return true;
        }
        var ignored = Guarded(_configured, "the --history-ignore patterns", relativePath, isDirectory) ?? false;
        // The root's file, then those of the directories above the path, outermost first: a deeper file's verdict
        // replaces a shallower one's.
        for (var slash = 0; slash >= 0; slash = relativePath.IndexOf('/', slash + 1))
        {
            var directory = relativePath[..slash];
            var below = slash == 0 ? relativePath : relativePath[(slash + 1)..];
            if (_files.TryGetValue(directory, out var list) && Guarded(list, directory.Length == 0 ? GitignoreName : $"{directory}/{GitignoreName}", below, isDirectory) is { } verdict)
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

    /// <summary>
    /// <see cref="Verdict"/> of <paramref name="list"/>; when that was costly, the patterns costly on this path are
    /// dropped (the whole file after <see cref="MaxDroppedPerFile"/>) and it runs again on what is left.
    /// </summary>
    private bool? Guarded(IgnoreList list, string source, string path, bool isDirectory)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = Verdict(list, path, isDirectory);
            if (Stopwatch.GetElapsedTime(started) <= CostlyMatch)
            {
                return result;
            }
        }
        catch (RegexMatchTimeoutException)
        {
        }
        foreach (var rule in list.Rules.ToList())
        {
            if (!IsCostly(rule, path, isDirectory) || !IsCostly(rule, path, isDirectory))
            {
                continue;
            }
            list.RemoveRule(rule.OriginalPattern);
            _dropped[list] = _dropped.GetValueOrDefault(list) + 1;
            if (_dropped[list] >= MaxDroppedPerFile)
            {
                foreach (var left in list.Rules.ToList())
                {
                    list.RemoveRule(left.OriginalPattern);
                }
                _note($"{source}: too many patterns too costly to match; history applies none of them");
                return null;
            }
            _note($"the pattern '{Shorten(rule.OriginalPattern)}' of {source} is too costly to match; history does not apply it");
        }
        return Verdict(list, path, isDirectory);
    }

    private static bool IsCostly(IgnoreRule rule, string path, bool isDirectory)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            rule.IsMatch(path, isDirectory);
            return Stopwatch.GetElapsedTime(started) > CostlyMatch;
        }
        catch (RegexMatchTimeoutException)
        {
            return true;
        }
    }

    private static string Shorten(string pattern) => pattern.Length <= 80 ? pattern : pattern[..80] + "...";

    private static IEnumerable<string> Lines(string? gitignore) =>
        (gitignore ?? "").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith('#'));
}
