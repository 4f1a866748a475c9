namespace SessionMcp.SessionRouting.Workspace;

/// <summary>
/// The path policy: every path is resolved inside the session's workspace. Symlinks are followed by hand, one component
/// at a time, with their targets read in the session's own namespace (so a container's <c>/workspace/a</c> maps to the
/// host's workspace and its <c>/etc/passwd</c> is refused, never read from the host). The result has no symlink left in
/// it; <see cref="WorkspaceFiles"/> then opens it without following links and re-checks the opened file, which closes
/// the window in which a command could swap a directory for a link.
/// </summary>
public static class WorkspacePaths
{
    private const int MaxSymlinkHops = 40;

    /// <summary>
    /// How deep the server goes into a workspace's directories when it walks them (history's scans, copies of a
    /// workspace). A session can nest directories without end, and each level of a walk holds a descriptor and a stack
    /// frame: twenty thousand levels would end the server. No project is anywhere near this deep.
    /// </summary>
    public const int MaxWalkDepth = 256;

    public static ResolvedPath Resolve(WorkspaceLocation workspace, string? requested)
    {
        if (string.IsNullOrEmpty(requested))
        {
            throw new PathPolicyException("path is empty; give a path relative to the workspace or an absolute path inside " + workspace.VisibleRoot);
        }
        if (requested.Contains('\0'))
        {
            throw new PathPolicyException("path contains a NUL byte; remove it");
        }

        var visibleRoot = TrimEnd(workspace.VisibleRoot);
        var hostRoot = TrimEnd(workspace.HostRoot);
        var pending = new List<string>(InitialComponents(requested, visibleRoot, hostRoot));
        var resolved = new List<string>();
        var hops = 0;
        var exists = true;

        for (var i = 0; i < pending.Count; i++)
        {
            var component = pending[i];
            if (component is "" or ".")
            {
                continue;
            }
            if (component == "..")
            {
                if (resolved.Count == 0)
                {
                    throw new PathPolicyException($"path '{requested}' leads outside the session workspace ({visibleRoot}); use a path inside it");
                }
                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }

            resolved.Add(component);
            if (!exists)
            {
                continue;
            }

            var hostPath = Join(hostRoot, resolved);
            FileSystemInfo info = new FileInfo(hostPath);
            if (!info.Exists && !Directory.Exists(hostPath) && info.LinkTarget is null)
            {
                exists = false;
                continue;
            }
            var target = info.LinkTarget;
            if (target is null)
            {
                continue;
            }
            if (++hops > MaxSymlinkHops)
            {
                throw new PathPolicyException($"path '{requested}' goes through too many symbolic links (a loop?)");
            }

            var linkVisible = Join(visibleRoot, resolved);
            resolved.RemoveAt(resolved.Count - 1);
            var rest = pending.Skip(i + 1).ToList();
            IEnumerable<string> targetComponents;
            if (target.StartsWith('/'))
            {
                targetComponents = AbsoluteInside(target, visibleRoot, hostRoot)
                    ?? throw new PathPolicyException($"path '{requested}' goes through the symbolic link {linkVisible} -> {target}, which points outside the session workspace ({visibleRoot}); refused");
                resolved.Clear();
            }
            else
            {
                targetComponents = target.Split('/');
            }
            pending = [.. targetComponents, .. rest];
            i = -1;
        }

        return new ResolvedPath(Join(hostRoot, resolved), Join(visibleRoot, resolved), resolved.Count == 0 ? "." : string.Join('/', resolved));
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="root"/> itself or below it.</summary>
    public static bool IsUnder(string path, string root)
    {
        root = TrimEnd(root);
        return path == root || path.StartsWith(root + "/", StringComparison.Ordinal) || root == "";
    }

    private static IEnumerable<string> InitialComponents(string requested, string visibleRoot, string hostRoot)
    {
        if (!requested.StartsWith('/'))
        {
            return requested.Split('/');
        }
        return AbsoluteInside(requested, visibleRoot, hostRoot)
            ?? throw new PathPolicyException($"path '{requested}' is outside the session workspace ({visibleRoot}); use a path inside it, or a relative path");
    }

    /// <summary>The components below the workspace root of an absolute path, or null when it is not inside.</summary>
    private static IEnumerable<string>? AbsoluteInside(string absolute, string visibleRoot, string hostRoot)
    {
        // Lexical check first: an absolute path is inside only if it names the root; '..' then cannot climb out because
        // the walk refuses to pop above the root.
        foreach (var root in new[] { visibleRoot, hostRoot })
        {
            if (IsUnder(absolute, root))
            {
                return absolute[root.Length..].Split('/');
            }
        }
        return null;
    }

    private static string Join(string root, List<string> components) =>
        components.Count == 0 ? (root == "" ? "/" : root) : root + "/" + string.Join('/', components);

    private static string TrimEnd(string path) => path.Length > 1 ? path.TrimEnd('/') : (path == "/" ? "" : path);
}
