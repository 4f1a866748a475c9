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
