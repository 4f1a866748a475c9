using System.Collections;

namespace SessionMcp.SessionRouting.History;

/// <summary>What a path in a workspace is. Directories are implied by the paths under them; an empty directory is not
/// recorded (as in git), so restoring or exporting never has to invent one.</summary>
internal enum EntryKind
{
    File,
    Symlink,
}

/// <summary>
/// One file of a workspace as history records it.
/// </summary>
/// <param name="Mode">The permission bits (07777). A patch or a git tree knows only 0644, 0755 and symlinks; restore
/// puts back the bits exactly.</param>
/// <param name="Hash">Lower-case hex SHA-256 of the content (of a symlink: of its target's bytes).</param>
/// <param name="Size">Bytes of content (of a symlink: of its target).</param>
/// <param name="Stored">Whether the content is kept in the blob store; false for a file above the configured limit,
/// known by hash and size only (and after its content was pruned).</param>
internal sealed record FileEntry(EntryKind Kind, int Mode, string Hash, long Size, bool Stored = true)
{
    public bool IsExecutable => Kind == EntryKind.File && (Mode & 0b001_001_001) != 0;

    /// <summary>The git mode of the entry: 100644, 100755 or 120000.</summary>
    public string GitMode => Kind == EntryKind.Symlink ? "120000" : IsExecutable ? "100755" : "100644";
}

/// <summary>
/// A workspace's files at one point of its history: relative paths ('/'-separated, no leading slash, never "." or
/// "..") to entries, in ordinal order so every listing and diff made from it is stable.
/// </summary>
internal sealed class WorkspaceTree : IReadOnlyDictionary<string, FileEntry>
{
    public static readonly WorkspaceTree Empty = new(new SortedDictionary<string, FileEntry>(StringComparer.Ordinal));

    private readonly SortedDictionary<string, FileEntry> _entries;

    private WorkspaceTree(SortedDictionary<string, FileEntry> entries) => _entries = entries;

    public static WorkspaceTree From(IEnumerable<KeyValuePair<string, FileEntry>> entries) =>
        new(new SortedDictionary<string, FileEntry>(entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal), StringComparer.Ordinal));

    /// <summary>This tree with <paramref name="changes"/> applied in order.</summary>
    public WorkspaceTree Apply(IEnumerable<FileChange> changes)
    {
        var next = new SortedDictionary<string, FileEntry>(_entries, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (change.FromPath is { } from)
            {
                next.Remove(from);
            }
            if (change.After is { } after)
            {
                next[change.Path] = after;
            }
            else
            {
                next.Remove(change.Path);
            }
        }
        return new WorkspaceTree(next);
    }

    public FileEntry this[string key] => _entries[key];

    public IEnumerable<string> Keys => _entries.Keys;

    public IEnumerable<FileEntry> Values => _entries.Values;

    public int Count => _entries.Count;

    public bool ContainsKey(string key) => _entries.ContainsKey(key);

    public bool TryGetValue(string key, out FileEntry value) => _entries.TryGetValue(key, out value!);

    public IEnumerator<KeyValuePair<string, FileEntry>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal enum ChangeKind
{
    Added,
    Removed,
    /// <summary>Content changed (the mode may have changed too).</summary>
    Modified,
    /// <summary>Only the permission bits changed.</summary>
    ModeChanged,
    /// <summary>Moved from <see cref="FileChange.FromPath"/> with the same content (the mode may have changed too).</summary>
    Renamed,
}

/// <summary>
/// One path's change between two trees. <see cref="Before"/> is null for an addition, <see cref="After"/> for a removal;
/// a rename has both, with <see cref="Before"/> being the entry that was at <see cref="FromPath"/>.
/// </summary>
internal sealed record FileChange(ChangeKind Kind, string Path, FileEntry? Before, FileEntry? After, string? FromPath = null);

/// <summary>Reads stored content by hash.</summary>
internal interface IBlobReader
{
    /// <summary>The content whose SHA-256 is <paramref name="hash"/>, checked against it; null when it was never stored
    /// (a file above the size limit) or was pruned.</summary>
    byte[]? Read(string hash);

    /// <summary>Several contents at once (those it has), for writers of many files.</summary>
    IReadOnlyDictionary<string, byte[]> ReadMany(IReadOnlyCollection<string> hashes) =>
        hashes.Distinct(StringComparer.Ordinal).Select(h => (h, Read(h))).Where(p => p.Item2 is not null).ToDictionary(p => p.h, p => p.Item2!, StringComparer.Ordinal);
}
