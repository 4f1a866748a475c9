using System.Diagnostics;
using System.Security.Cryptography;
using SessionMcp.SessionRouting.History;

namespace SessionMcp.SessionRouting.Tests.History;

/// <summary>Content kept in memory by hash: the blob store as the history code sees it.</summary>
internal sealed class MemoryBlobs : IBlobReader
{
    private readonly Dictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);

    public string Add(byte[] content)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        _blobs[hash] = content;
        return hash;
    }

    public void Forget(string hash) => _blobs.Remove(hash);

    public byte[]? Read(string hash) => _blobs.TryGetValue(hash, out var content) ? content : null;
}

/// <summary>A temporary directory with helpers to lay out files, scan them into a tree and compare two directories.</summary>
internal sealed class ScratchTree : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("history-").FullName;

    public string Dir(string name)
    {
        var path = Path.Combine(Root, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public static void Write(string dir, string path, byte[] content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)
    {
        var full = Path.Combine(dir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        File.SetUnixFileMode(full, mode);
    }

    public static void Write(string dir, string path, string text) => Write(dir, path, System.Text.Encoding.UTF8.GetBytes(text));

    public static void Move(string dir, string from, string to)
    {
        var target = Path.Combine(dir, to);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Move(Path.Combine(dir, from), target);
    }

    public static void Link(string dir, string path, string target)
    {
        var full = Path.Combine(dir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.CreateSymbolicLink(full, target);
    }

    public const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Every file and symlink under <paramref name="dir"/> (not .git), its content put in <paramref name="blobs"/>.</summary>
    public static WorkspaceTree Scan(string dir, MemoryBlobs blobs)
    {
        var entries = new List<KeyValuePair<string, FileEntry>>();
        foreach (var full in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var relative = Path.GetRelativePath(dir, full);
            if (relative == ".git" || relative.StartsWith(".git/", StringComparison.Ordinal))
            {
                continue;
            }
            var info = new FileInfo(full);
            if (info.LinkTarget is { } target)
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(target);
                entries.Add(new(relative, new FileEntry(EntryKind.Symlink, 0b111_111_111, blobs.Add(bytes), bytes.Length)));
            }
            else if (!info.Attributes.HasFlag(FileAttributes.Directory))
            {
                var bytes = File.ReadAllBytes(full);
                entries.Add(new(relative, new FileEntry(EntryKind.File, (int)File.GetUnixFileMode(full), blobs.Add(bytes), bytes.Length)));
            }
        }
        return WorkspaceTree.From(entries);
    }

    /// <summary>A plain delta for tests: a removed and an added path with the same content pair up as a rename.</summary>
    public static List<FileChange> Delta(WorkspaceTree before, WorkspaceTree after)
    {
        var changes = new List<FileChange>();
        var removed = before.Where(e => !after.ContainsKey(e.Key)).ToList();
        foreach (var (path, entry) in after)
        {
            if (!before.TryGetValue(path, out var old))
            {
                // As git: empty files never pair up as renames.
                var source = removed.FirstOrDefault(r => r.Value.Hash == entry.Hash && r.Value.Kind == entry.Kind && entry.Size > 0);
                if (source.Key is not null)
                {
                    removed.Remove(source);
                    changes.Add(new FileChange(ChangeKind.Renamed, path, source.Value, entry, source.Key));
                }
                else
                {
                    changes.Add(new FileChange(ChangeKind.Added, path, null, entry));
                }
            }
            else if (old.Hash != entry.Hash || old.Kind != entry.Kind)
            {
                changes.Add(new FileChange(ChangeKind.Modified, path, old, entry));
            }
            else if (old.Mode != entry.Mode)
            {
                changes.Add(new FileChange(ChangeKind.ModeChanged, path, old, entry));
            }
        }
        changes.AddRange(removed.Select(r => new FileChange(ChangeKind.Removed, r.Key, r.Value, null)));
        return changes;
    }

    /// <summary>Copies a directory as is: symlinks stay links, modes are kept.</summary>
    public static void Copy(string from, string to)
    {
        var (exit, _, stderr) = Run(from, "cp", "-a", from + "/.", to);
        Assert.True(exit == 0, stderr);
    }

    /// <summary>Asserts both directories hold the same paths with the same bytes, executable bits and link targets.</summary>
    public static void AssertSameFiles(string expected, string actual)
    {
        var blobs = new MemoryBlobs();
        var a = Scan(expected, blobs);
        var b = Scan(actual, blobs);
        Assert.Equal(a.Keys.ToList(), b.Keys.ToList());
        foreach (var (path, entry) in a)
        {
            var other = b[path];
            Assert.True(entry.Hash == other.Hash, $"{path}: content differs");
            Assert.True(entry.GitMode == other.GitMode, $"{path}: {entry.GitMode} expected, {other.GitMode} found");
        }
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, string file, params string[] arguments) =>
        RunWithInput(workingDirectory, null, file, arguments);

    public static (int ExitCode, string Stdout, string Stderr) RunWithInput(string workingDirectory, string? input, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        if (input is not null)
        {
            process.StandardInput.Write(input);
        }
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
