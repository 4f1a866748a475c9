using SessionMcp.SessionRouting.History;

namespace SessionMcp.SessionRouting.Tests.History;

public sealed class TreeDeltaTests
{
    private static FileEntry File(string hash, int mode = 0x1A4, long size = 3) => new(EntryKind.File, mode, hash, size);

    private static Dictionary<string, FileEntry> Tree(params (string Path, FileEntry Entry)[] entries) =>
        entries.ToDictionary(e => e.Path, e => e.Entry, StringComparer.Ordinal);

    [Fact]
    public void GivenAMovedFile_ThenItIsOneRename_AndAContentChangeWithAModeChangeIsAModification()
    {
        var before = Tree(("a", File("h1")), ("b", File("h2")), ("c", File("h3")));
        var after = Tree(("moved/a", File("h1")), ("b", File("h2b", mode: 0x1ED)), ("c", File("h3", mode: 0x1ED)));

        var changes = TreeDelta.Between(before, after);

        Assert.Equal(
            [(ChangeKind.Modified, "b", (string?)null), (ChangeKind.ModeChanged, "c", null), (ChangeKind.Renamed, "moved/a", "a")],
            changes.Select(c => (c.Kind, c.Path, c.FromPath)));
    }

    [Fact]
    public void GivenEmptyFilesRemovedAndAdded_ThenTheyAreNotTakenForRenames()
    {
        var before = Tree(("old", File("empty", size: 0)));
        var after = Tree(("new", File("empty", size: 0)));

        var changes = TreeDelta.Between(before, after);

        Assert.Equal([ChangeKind.Added, ChangeKind.Removed], changes.Select(c => c.Kind));
    }

    [Fact]
    public void GivenAFileReplacedByALinkWithTheSameBytes_ThenItIsAModification()
    {
        var before = Tree(("x", File("same")));
        var after = Tree(("x", new FileEntry(EntryKind.Symlink, 0x1FF, "same", 3)));

        Assert.Equal(ChangeKind.Modified, Assert.Single(TreeDelta.Between(before, after)).Kind);
    }
}
