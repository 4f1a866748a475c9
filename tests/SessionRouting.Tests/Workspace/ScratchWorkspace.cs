using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

/// <summary>
/// A real workspace directory and a real directory outside it (with a file whose content tests check stays unchanged),
/// both under a fresh temp directory.
/// </summary>
internal sealed class ScratchWorkspace : IDisposable
{
    public const string OutsideContent = "outside secret\n";

    public ScratchWorkspace()
    {
        var scratch = Path.Combine(Path.GetTempPath(), "session-mcp-tests", $"ws-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(scratch, "workspace"));
        Directory.CreateDirectory(Path.Combine(scratch, "outside"));
        // Canonical, so expected paths compare equal to what the policy computes (/tmp may itself be a link).
        Scratch = Libc.CanonicalPath(scratch) ?? scratch;
        Root = Path.Combine(Scratch, "workspace");
        Outside = Path.Combine(Scratch, "outside");
        OutsideFile = Path.Combine(Outside, "target.txt");
        File.WriteAllText(OutsideFile, OutsideContent);
    }

    public string Scratch { get; }

    public string Root { get; }

    public string Outside { get; }

    public string OutsideFile { get; }

    /// <summary>The workspace as the local backend sees it: the same path on both sides.</summary>
    public WorkspaceLocation Local => new(Root, Root);

    /// <summary>The workspace as a container sees it: mounted at /workspace.</summary>
    public WorkspaceLocation Container => new(Root, "/workspace");

    public string InRoot(string relative) => Path.Combine(Root, relative);

    public void Write(string relative, string content)
    {
        var path = InRoot(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    public void Link(string relative, string target)
    {
        var path = InRoot(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.CreateSymbolicLink(path, target);
    }

    /// <summary>
    /// Directories named <paramref name="name"/> nested <paramref name="depth"/> deep from the root, with the file
    /// <paramref name="file"/> at the bottom: made one level at a time below the last (a path that long is no path).
    /// </summary>
    public void Nest(string name, int depth, string file)
    {
        var fd = Libc.Open(Root, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        for (var i = 0; i < depth; i++)
        {
            Libc.MkdirAt(fd, name, 0b111_101_101);
            var next = Libc.OpenAt(fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            Libc.Close(fd);
            Assert.True(next >= 0, $"level {i} could not be made");
            fd = next;
        }
        Libc.Close(Libc.OpenAt(fd, file, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_100_100));
        Libc.Close(fd);
    }

    /// <summary>Fails when anything outside the workspace changed.</summary>
    public void AssertOutsideUntouched(bool allowWorkspaceGone = false)
    {
        Assert.Equal(OutsideContent, File.ReadAllText(OutsideFile));
        Assert.Equal(["target.txt"], Directory.GetFileSystemEntries(Outside).Select(Path.GetFileName));
        Assert.Equal(
            allowWorkspaceGone && !Path.Exists(Root) ? ["outside"] : ["outside", "workspace"],
            Directory.GetFileSystemEntries(Scratch).Select(Path.GetFileName).Order());
    }

    public void Dispose() => WorkspaceRemoval.RemoveTree(Scratch);
}
