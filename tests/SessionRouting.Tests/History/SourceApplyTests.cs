using SessionMcp.SessionRouting.History;

namespace SessionMcp.SessionRouting.Tests.History;

public sealed class SourceApplyTests : IDisposable
{
    private readonly ScratchTree _scratch = new();
    private readonly MemoryBlobs _blobs = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task GivenAnUnchangedSource_WhenTheSessionIsApplied_ThenTheSourceEqualsTheSessionFiles()
    {
        // Given a source and a session that adds, modifies, deletes, renames, chmods, links and writes binary
        var source = NewSource();
        var (baseline, changes, work) = Session(source, work =>
        {
            ScratchTree.Write(work, "src/app.txt", "line 1\r\nline 2 changed\r\n");
            File.Delete(Path.Combine(work, "gone/only.txt"));
            ScratchTree.Move(work, "move me.txt", "moved/naïve.txt");
            File.SetUnixFileMode(Path.Combine(work, "run.sh"), ScratchTree.Executable);
            ScratchTree.Link(work, "link", "src/app.txt");
            File.Delete(Path.Combine(work, "was-link"));
            ScratchTree.Write(work, "was-link", "now a file\n");
            ScratchTree.Write(work, "data.bin", [0, 255, 0, 1]);
            ScratchTree.Write(work, "empty", "");
        });

        // When applied
        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs));

        // Then every file is as the session left it, and the emptied directory is gone
        Assert.True(result.Applied);
        Assert.Empty(result.Conflicts);
        ScratchTree.AssertSameFiles(work, source);
        Assert.False(Directory.Exists(Path.Combine(source, "gone")));
        Assert.Contains(result.Plan, s => s is { Action: SourceAction.Rename, Path: "moved/naïve.txt", FromPath: "move me.txt" });
        Assert.Contains(result.Plan, s => s is { Action: SourceAction.Chmod, Path: "run.sh" });
        Assert.Contains(result.Plan, s => s is { Action: SourceAction.Delete, Path: "gone/only.txt" });
    }

    [Fact]
    public async Task GivenADryRun_WhenApplied_ThenThePlanIsReturnedAndNothingIsWritten()
    {
        var source = NewSource();
        var (baseline, changes, _) = Session(source, work => { ScratchTree.Write(work, "new.txt", "n\n"); File.Delete(Path.Combine(work, "README.md")); });
        var copy = _scratch.Dir("untouched");
        ScratchTree.Copy(source, copy);

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs, DryRun: true));

        Assert.False(result.Applied);
        Assert.Equal([(SourceAction.Create, "new.txt"), (SourceAction.Delete, "README.md")], result.Plan.Select(s => (s.Action, s.Path)).Order());
        ScratchTree.AssertSameFiles(copy, source);
    }

    [Fact]
    public async Task GivenTheSourceChangedAFileTheSessionChanged_WhenApplied_ThenItIsRefusedListingTheFileAndNothingIsWritten()
    {
        // Given the user edited README.md and deleted src/app.txt after the session copied them, and the session changed both
        var source = NewSource();
        var (baseline, changes, _) = Session(source, work =>
        {
            ScratchTree.Write(work, "README.md", "# Session's title\n");
            ScratchTree.Write(work, "src/app.txt", "session\n");
            ScratchTree.Write(work, "unrelated.txt", "fine\n");
        });
        ScratchTree.Write(source, "README.md", "# User's title\n");
        File.Delete(Path.Combine(source, "src/app.txt"));

        // When applied
        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs));

        // Then both files are listed, and not even the unrelated file was written
        Assert.False(result.Applied);
        Assert.Equal(["README.md", "src/app.txt"], result.Conflicts.Select(c => c.Path).Order());
        Assert.Contains("the source changed it too", result.Conflicts.Single(c => c.Path == "README.md").Reason);
        Assert.Contains("removed it", result.Conflicts.Single(c => c.Path == "src/app.txt").Reason);
        Assert.False(File.Exists(Path.Combine(source, "unrelated.txt")));
        Assert.Equal("# User's title\n", File.ReadAllText(Path.Combine(source, "README.md")));
    }

    [Fact]
    public async Task GivenEditsToDifferentLinesOnBothSides_WhenAppliedWithMerge_ThenBothEditsAreKept()
    {
        var source = NewSource();
        ScratchTree.Write(source, "notes.txt", "1\n2\n3\n4\n5\n6\n7\n8\n");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "notes.txt", "1\n2\n3\n4\n5\n6\n7\nsession 8\n"));
        ScratchTree.Write(source, "notes.txt", "user 1\n2\n3\n4\n5\n6\n7\n8\n");

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs, Merge: true));

        Assert.True(result.Applied);
        Assert.Empty(result.MergeConflicts);
        Assert.Equal("user 1\n2\n3\n4\n5\n6\n7\nsession 8\n", File.ReadAllText(Path.Combine(source, "notes.txt")));
        Assert.Equal("merged cleanly", result.Plan.Single().Detail);
    }

    [Fact]
    public async Task GivenEditsToTheSameLine_WhenAppliedWithMerge_ThenConflictMarkersAreWrittenAndReported()
    {
        var source = NewSource();
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "README.md", "# Session\n"));
        ScratchTree.Write(source, "README.md", "# User\n");

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs, Merge: true));

        Assert.True(result.Applied);
        Assert.Equal(["README.md"], result.MergeConflicts);
        Assert.Equal("<<<<<<< source\n# User\n=======\n# Session\n>>>>>>> session\n", File.ReadAllText(Path.Combine(source, "README.md")));
    }

    [Fact]
    public async Task GivenABinaryFileChangedOnBothSides_WhenAppliedWithMerge_ThenItIsStillRefused()
    {
        var source = NewSource();
        ScratchTree.Write(source, "image.bin", [0, 1, 2]);
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "image.bin", [0, 1, 3]));
        ScratchTree.Write(source, "image.bin", [0, 1, 4]);

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs, Merge: true));

        Assert.False(result.Applied);
        Assert.Contains("cannot be merged", Assert.Single(result.Conflicts).Reason);
        Assert.Equal([0, 1, 4], File.ReadAllBytes(Path.Combine(source, "image.bin")));
    }

    [Fact]
    public async Task GivenADirectoryOfTheSourceReplacedByALinkOutside_WhenApplied_ThenNothingIsWrittenThroughIt()
    {
        // Given src/ became a link to a directory outside the source after the copy
        var source = NewSource();
        var outside = _scratch.Dir("outside");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "src/new.txt", "x\n"));
        Directory.Delete(Path.Combine(source, "src"), recursive: true);
        ScratchTree.Link(source, "src", outside);

        // When applied
        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs));

        // Then it is refused, and the outside directory is empty
        Assert.False(result.Applied);
        Assert.Contains("link or a file", Assert.Single(result.Conflicts).Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
    }

    [Fact]
    public async Task GivenTheSourceAlreadyHoldsTheSessionsResult_WhenApplied_ThenThoseFilesAreAlreadyDone()
    {
        var source = NewSource();
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "README.md", "# Same\n"));
        ScratchTree.Write(source, "README.md", "# Same\n");

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs));

        Assert.True(result.Applied);
        Assert.Equal(SourceAction.AlreadyDone, Assert.Single(result.Plan).Action);
    }

    [Fact]
    public async Task GivenAChangedFileWhoseContentIsNotStored_WhenApplied_ThenItIsNamedAndTheRestIsWritten()
    {
        var source = NewSource();
        var (baseline, changes, _) = Session(source, work => { ScratchTree.Write(work, "big.log", "huge\n"); ScratchTree.Write(work, "small.txt", "s\n"); });
        changes = [.. changes.Select(c => c.Path == "big.log" ? c with { After = c.After! with { Stored = false } } : c)];

        var result = await SourceApply.ApplyAsync(new SourceApplyRequest(source, baseline, changes, _blobs));

        Assert.True(result.Applied);
        Assert.Equal(["big.log"], result.ContentMissing);
        Assert.False(File.Exists(Path.Combine(source, "big.log")));
        Assert.Equal("s\n", File.ReadAllText(Path.Combine(source, "small.txt")));
    }

    private string NewSource()
    {
        var dir = _scratch.Dir("source");
        ScratchTree.Write(dir, "README.md", "# Project\n");
        ScratchTree.Write(dir, "src/app.txt", "line 1\r\nline 2\r\n");
        ScratchTree.Write(dir, "gone/only.txt", "old\n");
        ScratchTree.Write(dir, "move me.txt", "moving\n");
        ScratchTree.Write(dir, "run.sh", "#!/bin/sh\necho hi\n");
        ScratchTree.Link(dir, "was-link", "README.md");
        return dir;
    }

    private (WorkspaceTree Baseline, List<FileChange> Changes, string Work) Session(string source, Action<string> work)
    {
        var copy = _scratch.Dir("session");
        ScratchTree.Copy(source, copy);
        var baseline = ScratchTree.Scan(copy, _blobs);
        work(copy);
        return (baseline, ScratchTree.Delta(baseline, ScratchTree.Scan(copy, _blobs)), copy);
    }
}
