using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// Keeps one workspace's current files (<see cref="Working"/>) up to date, cheaply. A stat cache keyed by (device,
/// inode, size, mtime, ctime, mode) — git's index trick — means a file is read only when its metadata moved; an inotify
/// watch (<see cref="DirectoryWatch"/>) means only touched paths are even stat'ed, so a step costs what it changed. A
/// full walk happens at the first scan, after lost events, and when a <c>.gitignore</c> (at any depth) changes.
/// <para>
/// Everything is opened relative to a directory opened without following links (<c>openat</c> + <c>O_NOFOLLOW</c>), so
/// a session swapping a directory for a link to <c>/etc</c> mid-scan makes the scanner see a link, never read through it.
/// </para>
/// Not thread-safe: <see cref="WorkspaceHistory"/> serialises the scans of a session.
/// </summary>
internal sealed class WorkspaceScanner : IDisposable
{
    private static readonly int DirectoryFlags = Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NOFOLLOW;

    private readonly string _root;
    private readonly HistoryOptions _options;
    private readonly Func<string, bool> _isStored;
    private readonly DirectoryWatch? _watch;
    private readonly Dictionary<string, FileEntry> _working = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (FileStatus Status, FileEntry Entry)> _stats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FileEntry?> _before = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _newBlobs = new(StringComparer.Ordinal);
    private readonly List<string> _notes = [];
    private IgnoreRules _ignore;
    private bool _fullWalkNeeded = true;
    private long _storedThisStep;

    /// <param name="root">The workspace directory on the server's host.</param>
    /// <param name="isStored">Whether the blob store already has a content (then it is not compressed again).</param>
    public WorkspaceScanner(string root, HistoryOptions options, Func<string, bool> isStored)
    {
        _root = root.TrimEnd('/');
        _options = options;
        _isStored = isStored;
        _watch = DirectoryWatch.TryCreate();
        _ignore = new IgnoreRules(options.IgnorePatterns, null);
    }

    /// <summary>The files as of the last <see cref="Refresh"/>.</summary>
    public IReadOnlyDictionary<string, FileEntry> Working => _working;

    /// <summary>
    /// What changed since <see cref="ClearTouched"/>: each touched path from its entry then to its entry now (a path
    /// changed and changed back is no change).
    /// </summary>
    public IReadOnlyList<FileChange> Changes()
    {
        var after = _before.Keys.Where(_working.ContainsKey).ToDictionary(p => p, p => _working[p], StringComparer.Ordinal);
        var before = _before.Where(b => b.Value is not null).ToDictionary(b => b.Key, b => b.Value!, StringComparer.Ordinal);
        return TreeDelta.Between(before, after, _before.Keys);
    }

    /// <summary>Content read since <see cref="ClearTouched"/> that the store does not have yet: hash → compressed blob.</summary>
    public IReadOnlyDictionary<string, byte[]> NewBlobs => _newBlobs;

    /// <summary>What this step could not record fully (limits reached, events lost), for the step's summary.</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>Brings <see cref="Working"/> up to date with the workspace.</summary>
    public void Refresh()
    {
        var rootFd = Libc.Open(_root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (rootFd < 0)
        {
            return; // the workspace is gone (destroyed): nothing more to record
        }
        try
        {
            var touched = new Dictionary<string, bool>(StringComparer.Ordinal);
            _watch?.Drain(t => touched[t.Path] = touched.GetValueOrDefault(t.Path) || t.Deep);
            if (touched.Keys.Any(IgnoreRules.IsGitignore))
            {
                _fullWalkNeeded = true;
            }
            if (_fullWalkNeeded || _watch is null || _watch.Incomplete)
            {
                FullWalk(rootFd);
                return;
            }
            foreach (var (path, deep) in touched.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                Look(rootFd, path, deep);
            }
        }
        finally
        {
            Libc.Close(rootFd);
        }
    }

    /// <summary>Starts a new step: what was touched and read so far is taken (committed) by the caller.</summary>
    public void ClearTouched()
    {
        _before.Clear();
        _newBlobs.Clear();
        _notes.Clear();
        _storedThisStep = 0;
    }

    /// <summary>
    /// Takes files the server itself just wrote as known: each with what <c>statx</c> said after the write, so the scan
    /// that follows finds them by their metadata instead of reading them back (a change after the write moves the
    /// metadata, and the file is read as usual).
    /// </summary>
    public void Prime(IEnumerable<(string Path, FileStatus Status, FileEntry Entry)> written)
    {
        foreach (var (path, status, entry) in written)
        {
            _stats[path] = (status, entry);
        }
    }

    /// <summary>Makes the next <see cref="Refresh"/> walk everything (after a failure to record a step).</summary>
    public void Invalidate() => _fullWalkNeeded = true;

    /// <summary>Replaces the working view wholesale (the state history last recorded, when a scanner starts on an existing
    /// session): the first walk then finds exactly what changed since.</summary>
    public void Seed(IReadOnlyDictionary<string, FileEntry> recorded)
    {
        _working.Clear();
        foreach (var (path, entry) in recorded)
        {
            _working[path] = entry;
        }
        _fullWalkNeeded = true;
    }

    public void Dispose() => _watch?.Dispose();

    private void FullWalk(int rootFd)
    {
        _ignore = new IgnoreRules(_options.IgnorePatterns, ReadGitignore(rootFd), AddNote);
        _watch?.Reset();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var dup = Libc.OpenAt(rootFd, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dup >= 0)
        {
            Walk(dup, "", seen);
        }
        foreach (var gone in _working.Keys.Where(p => !seen.Contains(p)).ToList())
        {
            SetEntry(gone, null);
        }
        _fullWalkNeeded = false;
        if (_watch is { Incomplete: true })
        {
            _notes.Add($"the server could not watch every directory of this workspace (inotify limit, fs.inotify.max_user_watches); every step walks the whole workspace");
        }
    }

    /// <summary>Walks the directory open as <paramref name="fd"/> (which it closes), recording every file under it into
    /// <paramref name="seen"/>.</summary>
    private void Walk(int fd, string relative, HashSet<string> seen)
    {
        var directory = Libc.FdOpenDir(fd);
        if (directory == 0)
        {
            Libc.Close(fd);
            return;
        }
        try
        {
            _watch?.Add(fd, relative);
            if (relative.Length > 0)
            {
                _ignore.SetFile(relative, ReadGitignore(Libc.DirFd(directory)));
            }
            var subdirectories = new List<string>();
            while (Libc.ReadDir(directory) is var entry && entry != 0)
            {
                var name = Libc.DirentName(entry);
                if (name is "." or "..")
                {
                    continue;
                }
                var path = WorkspaceTreePaths.Join(relative, name);
                var type = Libc.DirentType(entry);
                if (type == Libc.DT_DIR)
                {
                    subdirectories.Add(name);
                    continue;
                }
                if (type is Libc.DT_REG or Libc.DT_LNK or 0 && !_ignore.IsIgnored(path, isDirectory: false))
                {
                    if (LookAtFile(Libc.DirFd(directory), name, path) is var isDirectory && isDirectory)
                    {
                        subdirectories.Add(name); // d_type unknown, and it is a directory
                        continue;
                    }
                    if (_working.ContainsKey(path))
                    {
                        seen.Add(path);
                    }
                }
            }
            foreach (var name in subdirectories)
            {
                var path = WorkspaceTreePaths.Join(relative, name);
                if (_ignore.IsIgnored(path, isDirectory: true) || TooDeep(path))
                {
                    continue;
                }
                var child = Libc.OpenAt(Libc.DirFd(directory), name, DirectoryFlags | Libc.O_DIRECTORY, 0);
                if (child >= 0)
                {
                    Walk(child, path, seen);
                }
            }
        }
        finally
        {
            Libc.CloseDir(directory);
        }
    }

    /// <summary>Looks again at one touched path (and, when <paramref name="deep"/> or new, everything under it).</summary>
    private void Look(int rootFd, string path, bool deep)
    {
        if (IsUnderIgnored(path))
        {
            return;
        }
        var parentFd = OpenDirectory(rootFd, WorkspaceTreePaths.Parent(path));
        if (parentFd < 0)
        {
            Remove(path, deep); // its directory is gone or is no longer a directory
            return;
        }
        try
        {
            var name = path[(path.LastIndexOf('/') + 1)..];
            var status = Libc.StatAt(parentFd, name);
            if (status is not { } found || found.Type is not (Libc.S_IFREG or Libc.S_IFLNK or Libc.S_IFDIR)
                || _ignore.IsIgnored(path, isDirectory: found.Type == Libc.S_IFDIR))
            {
                Remove(path, deep);
                return;
            }
            if (found.Type == Libc.S_IFDIR)
            {
                SetEntry(path, null); // a file that became a directory
                if ((deep || _watch?.IsWatched(path) != true) && !TooDeep(path))
                {
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    var fd = Libc.OpenAt(parentFd, name, DirectoryFlags | Libc.O_DIRECTORY, 0);
                    if (fd >= 0)
                    {
                        Walk(fd, path, seen);
                    }
                    foreach (var gone in _working.Keys.Where(p => p.Length > path.Length && WorkspaceTreePaths.IsAtOrUnder(p, path) && !seen.Contains(p)).ToList())
                    {
                        SetEntry(gone, null);
                    }
                }
                return;
            }
            if (deep || _watch?.IsWatched(path) != false)
            {
                RemoveUnder(path + "/"); // a directory that became a file (only a watched path was one)
            }
            LookAtFile(parentFd, name, path);
        }
        finally
        {
            Libc.Close(parentFd);
        }
    }

    /// <summary>
    /// Records the file or link <paramref name="name"/> in <paramref name="dirFd"/>; returns true when it turned out to be
    /// a directory (the caller walks it). Other kinds (pipes, sockets, devices) are not part of a workspace's history.
    /// </summary>
    private bool LookAtFile(int dirFd, string name, string path)
    {
        if (Libc.StatAt(dirFd, name) is not { } status)
        {
            SetEntry(path, null);
            return false;
        }
        if (status.Type == Libc.S_IFDIR)
        {
            return true;
        }
        if (status.Type is not (Libc.S_IFREG or Libc.S_IFLNK))
        {
            SetEntry(path, null);
            return false;
        }
        if (_stats.TryGetValue(path, out var cached) && cached.Status == status)
        {
            SetEntry(path, cached.Entry);
            return false;
        }
        if (!_working.ContainsKey(path) && _working.Count >= _options.MaxFiles)
        {
            AddNote($"this workspace has more than {_options.MaxFiles} files; files past that are not recorded");
            return false;
        }
        var entry = status.Type == Libc.S_IFLNK ? ReadLink(dirFd, name, status) : ReadFile(dirFd, name, ref status);
        if (entry is null)
        {
            SetEntry(path, null);
            return false;
        }
        _stats[path] = (status, entry);
        SetEntry(path, entry);
        return false;
    }

    private FileEntry? ReadLink(int dirFd, string name, FileStatus status)
    {
        if (Libc.ReadLink(dirFd, name) is not { } target)
        {
            return null;
        }
        return Entry(EntryKind.Symlink, 0x1FF, target, status.Size);
    }

    private FileEntry? ReadFile(int dirFd, string name, ref FileStatus status)
    {
        // Opened without following a link and without blocking (a FIFO swapped in would otherwise hang the scan); the
        // entry then describes the file actually opened.
        var fd = Libc.OpenAt(dirFd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.StatOf(fd) is not { Type: Libc.S_IFREG } opened)
        {
            return null;
        }
        status = opened;
        var mode = opened.Permissions;
        if (opened.Size > _options.MaxHashedFileBytes)
        {
            // Not read at all: a fingerprint of its metadata stands for its content.
            var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"unread:{opened.Device}:{opened.Inode}:{opened.Size}:{opened.ModifiedNs}:{opened.ChangedNs}")));
            AddNote($"files larger than {_options.MaxHashedFileBytes} bytes are recorded by size and time, not content");
            return new FileEntry(EntryKind.File, mode, fingerprint, opened.Size, Stored: false);
        }
        if (opened.Size > _options.MaxStoredFileBytes)
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                long offset = 0;
                while (offset < opened.Size)
                {
                    var read = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, opened.Size - offset)), offset);
                    if (read == 0)
                    {
                        break;
                    }
                    sha.AppendData(buffer, 0, read);
                    offset += read;
                }
                return new FileEntry(EntryKind.File, mode, Convert.ToHexStringLower(sha.GetHashAndReset()), offset, Stored: false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        // Exactly the size seen: a file that keeps growing cannot make this read unbounded.
        var content = new byte[opened.Size];
        var total = 0;
        while (total < content.Length && RandomAccess.Read(handle, content.AsSpan(total), total) is var n && n > 0)
        {
            total += n;
        }
        return Entry(EntryKind.File, mode, total == content.Length ? content : content[..total], total);
    }

    /// <summary>An entry for <paramref name="content"/>, queued for the store unless it has it or the step's budget is spent.</summary>
    private FileEntry Entry(EntryKind kind, int mode, byte[] content, long size)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        if (_newBlobs.ContainsKey(hash) || _isStored(hash))
        {
            return new FileEntry(kind, mode, hash, size);
        }
        if (_storedThisStep + content.Length > _options.MaxStoredBytesPerStep)
        {
            AddNote($"this step changed more than {_options.MaxStoredBytesPerStep} bytes of content; the rest is recorded by hash only");
            return new FileEntry(kind, mode, hash, size, Stored: false);
        }
        _storedThisStep += content.Length;
        _newBlobs[hash] = BlobCodec.Encode(content);
        return new FileEntry(kind, mode, hash, size);
    }

    private void SetEntry(string path, FileEntry? entry)
    {
        var had = _working.TryGetValue(path, out var old);
        if (entry is null)
        {
            _stats.Remove(path);
            if (had)
            {
                _before.TryAdd(path, old);
                _working.Remove(path);
            }
            return;
        }
        if (!had || old != entry)
        {
            _before.TryAdd(path, had ? old : null);
            _working[path] = entry;
        }
    }

    /// <summary>A path that is gone: a file is one entry; only a directory (watched, or named by a directory event) needs
    /// the search of everything under it.</summary>
    private void Remove(string path, bool deep)
    {
        if (!deep && _watch?.IsWatched(path) == false)
        {
            SetEntry(path, null);
            return;
        }
        RemoveUnder(path);
    }

    /// <summary>Removes <paramref name="path"/> and everything under it (a path ending in '/': only what is under it).</summary>
    private void RemoveUnder(string path)
    {
        var directory = path.TrimEnd('/');
        var gone = _working.Keys.Where(p => path.EndsWith('/') ? p.StartsWith(path, StringComparison.Ordinal) : WorkspaceTreePaths.IsAtOrUnder(p, directory)).ToList();
        foreach (var p in gone)
        {
            SetEntry(p, null);
        }
        if (path.EndsWith('/'))
        {
            foreach (var child in gone.Select(WorkspaceTreePaths.Parent).Distinct(StringComparer.Ordinal).Where(d => d.Length >= directory.Length))
            {
                _watch?.Forget(child);
            }
            return;
        }
        _watch?.Forget(directory);
    }

    /// <summary>Whether a directory above <paramref name="path"/> is ignored (an ignored directory is never watched, but
    /// a path under it can reach here through a move).</summary>
    private bool IsUnderIgnored(string path)
    {
        var slash = -1;
        while ((slash = path.IndexOf('/', slash + 1)) >= 0)
        {
            if (_ignore.IsIgnored(path[..slash], isDirectory: true))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Whether the directory <paramref name="path"/> is past <see cref="WorkspacePaths.MaxWalkDepth"/>: it is not
    /// walked (nor watched), and the step says so.</summary>
    private bool TooDeep(string path)
    {
        if (path.Count(c => c == '/') < WorkspacePaths.MaxWalkDepth)
        {
            return false;
        }
        AddNote($"directories nested more than {WorkspacePaths.MaxWalkDepth} levels deep are not recorded");
        return true;
    }

    /// <summary>Opens a directory of the workspace by walking down from the root without following links; -1 if it is not one.</summary>
    private static int OpenDirectory(int rootFd, string relative)
    {
        var fd = Libc.OpenAt(rootFd, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (relative.Length == 0 || fd < 0)
        {
            return fd;
        }
        foreach (var component in relative.Split('/'))
        {
            var next = Libc.OpenAt(fd, component, DirectoryFlags | Libc.O_DIRECTORY, 0);
            Libc.Close(fd);
            if (next < 0)
            {
                return -1;
            }
            fd = next;
        }
        return fd;
    }

    /// <summary>The <c>.gitignore</c> of the directory open as <paramref name="directoryFd"/>, when it is a regular file.</summary>
    private static string? ReadGitignore(int directoryFd)
    {
        var fd = Libc.OpenAt(directoryFd, IgnoreRules.GitignoreName, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.StatOf(fd) is not { Type: Libc.S_IFREG })
        {
            return null;
        }
        var buffer = new byte[IgnoreRules.MaxGitignoreBytes];
        var read = RandomAccess.Read(handle, buffer, 0);
        return Encoding.UTF8.GetString(buffer, 0, read);
    }

    private void AddNote(string note)
    {
        if (!_notes.Contains(note))
        {
            _notes.Add(note);
        }
    }
}

/// <summary>How blob contents are kept: Brotli at its fastest setting, or as they are when that does not make them smaller.
/// The first byte says which.</summary>
internal static class BlobCodec
{
    private const byte Raw = 0, Brotli = 1;

    public static byte[] Encode(ReadOnlySpan<byte> content)
    {
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(content.Length) + 1];
        if (BrotliEncoder.TryCompress(content, buffer.AsSpan(1), out var written, quality: 1, window: 22) && written < content.Length)
        {
            buffer[0] = Brotli;
            return buffer[..(written + 1)];
        }
        var raw = new byte[content.Length + 1];
        raw[0] = Raw;
        content.CopyTo(raw.AsSpan(1));
        return raw;
    }

    /// <summary>The content, or null when <paramref name="stored"/> is not a blob of <paramref name="size"/> bytes.</summary>
    public static byte[]? Decode(byte[] stored, long size)
    {
        if (stored.Length == 0 || size is < 0 or > int.MaxValue)
        {
            return null;
        }
        if (stored[0] == Raw)
        {
            return stored.Length - 1 == size ? stored[1..] : null;
        }
        var content = new byte[size];
        return stored[0] == Brotli && BrotliDecoder.TryDecompress(stored.AsSpan(1), content, out var written) && written == size ? content : null;
    }
}
