using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

public sealed class WorkspacePathsTests : IDisposable
{
    private readonly ScratchWorkspace _ws = new();

    [Theory]
    [InlineData("a.txt", "a.txt")]
    [InlineData("src/a.txt", "src/a.txt")]
    [InlineData("./src/./a.txt", "src/a.txt")]
    [InlineData("src/../a.txt", "a.txt")]
    [InlineData("src//a.txt", "src/a.txt")]
    [InlineData("new/dir/file.txt", "new/dir/file.txt")]
    public void RelativePathsResolveInsideTheWorkspace(string requested, string expected)
    {
        // Given / When
        var resolved = WorkspacePaths.Resolve(_ws.Local, requested);

        // Then
        Assert.Equal(_ws.InRoot(expected), resolved.HostPath);
        Assert.Equal(_ws.InRoot(expected), resolved.VisiblePath);
    }

    [Fact]
    public void AnAbsolutePathInsideTheWorkspaceIsAccepted()
    {
        // Given / When
        var resolved = WorkspacePaths.Resolve(_ws.Local, _ws.InRoot("src/a.txt"));

        // Then
        Assert.Equal(_ws.InRoot("src/a.txt"), resolved.HostPath);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("..")]
    [InlineData("src/../../x")]
    [InlineData("a/b/../../../x")]
    [InlineData("/etc/passwd")]
    [InlineData("/")]
    public void PathsLeadingOutAreRefused(string requested)
    {
        // Given / When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, requested));
        Assert.Contains("outside the session workspace", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheAbsolutePathOfAnotherDirectoryIsRefused()
    {
        // Given / When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, _ws.OutsideFile));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, _ws.Root + "/../outside/target.txt"));
    }

    [Fact]
    public void ASiblingWhoseNameStartsLikeTheWorkspaceIsRefused()
    {
        // Given a directory next to the workspace whose name extends the workspace's ("workspace-evil")
        Directory.CreateDirectory(_ws.Root + "-evil");

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, _ws.Root + "-evil/x"));
    }

    [Theory]
    [InlineData("a\0b")]
    [InlineData("\0")]
    [InlineData("src/\0/../x")]
    public void APathWithANulByteIsRefused(string requested)
    {
        // Given / When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, requested));
        Assert.Contains("NUL", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void AnEmptyPathIsRefused(string? requested)
    {
        // Given / When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, requested));
        Assert.Contains("empty", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALinkToAFileOutsideIsRefused()
    {
        // Given
        _ws.Link("leak", "/etc/passwd");
        _ws.Link("leak2", _ws.OutsideFile);

        // When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "leak"));
        Assert.Contains("symbolic link", refused.Message, StringComparison.Ordinal);
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "leak2"));
    }

    [Fact]
    public void ALinkToTheRootIsRefused()
    {
        // Given
        _ws.Link("root", "/");

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "root/etc/passwd"));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "root"));
    }

    [Fact]
    public void ALinkToTheParentIsRefused()
    {
        // Given
        _ws.Link("up", "..");
        _ws.Link("deep/er/out", "../../..");

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "up/outside/target.txt"));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "deep/er/out/outside/target.txt"));
    }

    [Fact]
    public void ALinkedDirectoryOutsideIsRefusedForFilesInIt()
    {
        // Given
        _ws.Link("outdir", _ws.Outside);

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "outdir/target.txt"));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "outdir/new.txt"));
    }

    [Fact]
    public void AChainOfLinksEndingOutsideIsRefused()
    {
        // Given
        _ws.Link("c3", _ws.OutsideFile);
        _ws.Link("c2", "c3");
        _ws.Link("sub/c1", "../c2");

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "sub/c1"));
    }

    [Fact]
    public void ADanglingLinkOutsideIsRefused()
    {
        // Given a link to a path outside that does not exist yet (a write would create it)
        _ws.Link("dangling", Path.Combine(_ws.Outside, "created-by-write.txt"));

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "dangling"));
    }

    [Fact]
    public void ALinkLoopIsRefused()
    {
        // Given
        _ws.Link("a", "b");
        _ws.Link("b", "a");

        // When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Local, "a"));
        Assert.Contains("too many symbolic links", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LinksThatStayInsideResolveToTheirTargets()
    {
        // Given relative, absolute and chained links inside
        _ws.Write("real/f.txt", "x");
        _ws.Link("rel", "real/f.txt");
        _ws.Link("abs", _ws.InRoot("real/f.txt"));
        _ws.Link("dir", "real");
        _ws.Link("a/b/up", "../../real");
        _ws.Link("chain", "rel");

        // When / Then every one resolves to the real file, with no link left in the path
        foreach (var path in new[] { "rel", "abs", "dir/f.txt", "a/b/up/f.txt", "chain" })
        {
            Assert.Equal(_ws.InRoot("real/f.txt"), WorkspacePaths.Resolve(_ws.Local, path).HostPath);
        }
        Assert.Equal(_ws.InRoot("real/new.txt"), WorkspacePaths.Resolve(_ws.Local, "dir/new.txt").HostPath);
    }

    [Fact]
    public void InAContainerLinkTargetsAreReadInTheContainersNamespace()
    {
        // Given a workspace mounted at /workspace, with links written by commands in the container
        _ws.Write("real/f.txt", "x");
        _ws.Link("abs", "/workspace/real/f.txt");
        _ws.Link("etc", "/etc/passwd");

        // When / Then /workspace maps to the host directory, and the container's /etc is refused, not read on the host
        var resolved = WorkspacePaths.Resolve(_ws.Container, "abs");
        Assert.Equal(_ws.InRoot("real/f.txt"), resolved.HostPath);
        Assert.Equal("/workspace/real/f.txt", resolved.VisiblePath);
        Assert.Equal(_ws.InRoot("real/f.txt"), WorkspacePaths.Resolve(_ws.Container, "/workspace/real/f.txt").HostPath);
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Container, "etc"));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Container, "/etc/passwd"));
        Assert.Throws<PathPolicyException>(() => WorkspacePaths.Resolve(_ws.Container, "/workspace/../etc/passwd"));
    }

    [Theory]
    [InlineData("/srv/ws", "/srv/ws", true)]
    [InlineData("/srv/ws/a", "/srv/ws", true)]
    [InlineData("/srv/ws/a", "/srv/ws/", true)]
    [InlineData("/srv/ws-evil", "/srv/ws", false)]
    [InlineData("/srv", "/srv/ws", false)]
    [InlineData("/srv/wsa/b", "/srv/ws", false)]
    public void IsUnderComparesWholePathComponents(string path, string root, bool expected)
    {
        // Given / When / Then
        Assert.Equal(expected, WorkspacePaths.IsUnder(path, root));
    }

    public void Dispose() => _ws.Dispose();
}
