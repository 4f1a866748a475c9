namespace SessionMcp.SessionRouting.History;

/// <summary>The change from one workspace tree to another, path by path.</summary>
internal static class TreeDelta
{
    /// <summary>
    /// The changes that turn <paramref name="before"/> into <paramref name="after"/>, in path order. A removed path and
    /// an added one with the same content become one rename (exact renames only, as git's 100% similarity; empty files are
    /// never paired, since any two of them are "the same"). <paramref name="paths"/>: only these paths are compared (the
    /// ones a scan touched); null compares both trees whole.
    /// </summary>
    public static IReadOnlyList<FileChange> Between(
        IReadOnlyDictionary<string, FileEntry> before,
        IReadOnlyDictionary<string, FileEntry> after,
        IEnumerable<string>? paths = null)
    {
        var candidates = paths ?? before.Keys.Concat(after.Keys);
        var changes = new List<FileChange>();
        foreach (var path in candidates.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            before.TryGetValue(path, out var old);
            after.TryGetValue(path, out var now);
            if (Of(path, old, now) is { } change)
            {
                changes.Add(change);
            }
        }
        return PairRenames(changes);
    }

    /// <summary>The change of one path, or null when it did not change.</summary>
    public static FileChange? Of(string path, FileEntry? before, FileEntry? after) => (before, after) switch
    {
        (null, null) => null,
        (null, { } added) => new FileChange(ChangeKind.Added, path, null, added),
        ({ } removed, null) => new FileChange(ChangeKind.Removed, path, removed, null),
        ({ } old, { } now) when old.Kind != now.Kind || old.Hash != now.Hash => new FileChange(ChangeKind.Modified, path, old, now),
        ({ } old, { } now) when old.Mode != now.Mode => new FileChange(ChangeKind.ModeChanged, path, old, now),
        _ => null,
    };

    private static List<FileChange> PairRenames(List<FileChange> changes)
    {
        var removedByContent = changes
            .Where(c => c.Kind == ChangeKind.Removed && c.Before!.Size > 0)
            .GroupBy(c => (c.Before!.Kind, c.Before.Hash))
            .ToDictionary(g => g.Key, g => new Queue<FileChange>(g));
        if (removedByContent.Count == 0)
        {
            return changes;
        }
        var renamedFrom = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<FileChange>(changes.Count);
        foreach (var change in changes)
        {
            if (change.Kind == ChangeKind.Added
                && removedByContent.TryGetValue((change.After!.Kind, change.After.Hash), out var sources)
                && sources.TryDequeue(out var source))
            {
                renamedFrom.Add(source.Path);
                result.Add(new FileChange(ChangeKind.Renamed, change.Path, source.Before, change.After, source.Path));
            }
            else
            {
                result.Add(change);
            }
        }
        result.RemoveAll(c => c.Kind == ChangeKind.Removed && renamedFrom.Contains(c.Path));
        return result;
    }
}
