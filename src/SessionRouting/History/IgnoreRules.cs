using MAB.DotIgnore;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Which workspace paths history leaves out: <c>.git/</c> always, the configured patterns, and the workspace's root
/// <c>.gitignore</c> (gitignore syntax, read by MAB.DotIgnore). Nested <c>.gitignore</c> files are not read: one file
/// at the root is what keeps a <c>node_modules</c>-sized tree out, and the scanner reloads it whenever it changes.
/// An ignored directory is neither walked nor watched, so it costs nothing however large it grows.
/// </summary>
internal sealed class IgnoreRules
{
    /// <summary>A session writes its own <c>.gitignore</c>: past this size the rest of it is not read.</summary>
    public const int MaxGitignoreBytes = 64 * 1024;

    public const string GitignoreName = ".gitignore";

    private readonly IgnoreList _list;

    public IgnoreRules(IEnumerable<string> configured, string? gitignore)
    {
        var rules = new List<string> { ".git/" };
        rules.AddRange(configured);
        if (gitignore is not null)
        {
            rules.AddRange(gitignore.Split('\n').Select(l => l.TrimEnd('\r')));
        }
        _list = new IgnoreList(rules.Where(r => r.Length > 0 && !r.StartsWith('#')), MatchFlags.PATHNAME);
    }

    public bool IsIgnored(string relativePath, bool isDirectory) => _list.IsIgnored(relativePath, isDirectory);
}
