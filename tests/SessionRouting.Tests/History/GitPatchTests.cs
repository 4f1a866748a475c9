using System.Text;
using SessionMcp.SessionRouting.History;

namespace SessionMcp.SessionRouting.Tests.History;

/// <summary>Every patch is checked by the real `git apply` on a copy of the "before" directory, then compared byte for byte with "after".</summary>
public sealed class GitPatchTests : IDisposable
{
    private readonly ScratchTree _scratch = new();
    private readonly MemoryBlobs _blobs = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void GivenAnAddedModifiedAndDeletedTextFile_WhenThePatchIsApplied_ThenTheCopyEqualsTheResult()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "keep.txt", "one\ntwo\nthree\n"); ScratchTree.Write(before, "gone.txt", "bye\n"); },
            after => { ScratchTree.Write(after, "keep.txt", "one\nTWO\nthree\n"); File.Delete(Path.Combine(after, "gone.txt")); ScratchTree.Write(after, "src/new.txt", "hello\n"); });

        Assert.Contains("--- /dev/null\n+++ b/src/new.txt\n", patch.Text);
        Assert.Contains("deleted file mode 100644\n", patch.Text);
        Assert.Contains("--- a/gone.txt\n+++ /dev/null\n", patch.Text);
        Assert.Equal(3, patch.FilesChanged);
        Assert.Equal(2, patch.LinesAdded);
        Assert.Equal(2, patch.LinesRemoved);
    }

    [Fact]
    public void GivenARenamedFile_WhenThePatchIsWritten_ThenItIsARenameAtFullSimilarityAndApplies()
    {
        var patch = AssertApplies(
            before => ScratchTree.Write(before, "old name.txt", "content\n"),
            after => ScratchTree.Move(after, "old name.txt", "dir/new name.txt"));

        Assert.Contains("similarity index 100%\nrename from old name.txt\nrename to dir/new name.txt\n", patch.Text);
        Assert.DoesNotContain("@@", patch.Text);
    }

    [Fact]
    public void GivenAModeChangeAndAnExecutableRename_WhenThePatchIsApplied_ThenTheExecutableBitsFollow()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "run.sh", "#!/bin/sh\n"u8.ToArray()); ScratchTree.Write(before, "tool", "x\n"u8.ToArray(), ScratchTree.Executable); },
            after => { File.SetUnixFileMode(Path.Combine(after, "run.sh"), ScratchTree.Executable); ScratchTree.Move(after, "tool", "bin/tool"); File.SetUnixFileMode(Path.Combine(after, "bin/tool"), UnixFileMode.UserRead | UnixFileMode.UserWrite); });

        Assert.Contains("diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n", patch.Text);
        Assert.Contains("old mode 100755\nnew mode 100644\nsimilarity index 100%\nrename from tool\nrename to bin/tool\n", patch.Text);
    }

    [Fact]
    public void GivenSymlinksAddedRetargetedAndRemoved_WhenThePatchIsApplied_ThenTheLinksAreThere()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "a.txt", "a\n"); ScratchTree.Link(before, "moving", "a.txt"); ScratchTree.Link(before, "dropped", "a.txt"); },
            after => { File.Delete(Path.Combine(after, "moving")); ScratchTree.Link(after, "moving", "b.txt"); File.Delete(Path.Combine(after, "dropped")); ScratchTree.Link(after, "sub/up", "../a.txt"); });

        Assert.Contains("diff --git a/sub/up b/sub/up\nnew file mode 120000\n", patch.Text);
        Assert.Contains("-a.txt\n\\ No newline at end of file\n+b.txt\n\\ No newline at end of file\n", patch.Text);
    }

    [Fact]
    public void GivenAFileThatBecomesASymlink_WhenThePatchIsApplied_ThenThePathIsALink()
    {
        var patch = AssertApplies(
            before => ScratchTree.Write(before, "thing", "a file\n"),
            after => { File.Delete(Path.Combine(after, "thing")); ScratchTree.Link(after, "thing", "elsewhere"); });

        Assert.Contains("deleted file mode 100644\n", patch.Text);
        Assert.Contains("new file mode 120000\n", patch.Text);
    }

    [Fact]
    public void GivenBinaryFilesAddedModifiedAndRemoved_WhenThePatchIsApplied_ThenTheBytesAreExact()
    {
        var random = new Random(7);
        byte[] Bytes(int n) { var b = new byte[n]; random.NextBytes(b); b[0] = 0; return b; }
        var large = Bytes(100_000);
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "image.png", Bytes(3000)); ScratchTree.Write(before, "old.bin", Bytes(10)); },
            after => { ScratchTree.Write(after, "image.png", large); File.Delete(Path.Combine(after, "old.bin")); ScratchTree.Write(after, "new.bin", [0, 1, 2]); });

        Assert.Contains("GIT binary patch\nliteral 100000\n", patch.Text);
        Assert.Contains("GIT binary patch\nliteral 3\n", patch.Text);
        // The removal's forward literal is git's own zlib stream of nothing.
        Assert.Contains("GIT binary patch\nliteral 0\nHcmV?d00001\n\nliteral 10\n", patch.Text);
    }

    [Fact]
    public void GivenTextThatIsNotUtf8_WhenThePatchIsApplied_ThenItTravelsAsBinaryAndKeepsItsBytes()
    {
        var patch = AssertApplies(
            before => ScratchTree.Write(before, "latin1.txt", [(byte)'c', 0xE9, (byte)'\n']),
            after => ScratchTree.Write(after, "latin1.txt", [(byte)'c', 0xE8, (byte)'\n']));

        Assert.Contains("GIT binary patch\n", patch.Text);
    }

    [Fact]
    public void GivenEmptyFilesAddedRemovedAndFilled_WhenThePatchIsApplied_ThenTheyMatch()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "was-empty", ""); ScratchTree.Write(before, "empty-gone", ""); },
            after => { ScratchTree.Write(after, "was-empty", "now\n"); File.Delete(Path.Combine(after, "empty-gone")); ScratchTree.Write(after, "new-empty", ""); });

        Assert.Contains("diff --git a/new-empty b/new-empty\nnew file mode 100644\nindex 0000000..e69de29\n", patch.Text);
        Assert.Contains("@@ -0,0 +1,1 @@\n+now\n", patch.Text);
    }

    [Fact]
    public void GivenFilesWithoutAFinalNewlineAndWithCrlf_WhenThePatchIsApplied_ThenLineEndingsAreKept()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "tail.txt", "a\nb"); ScratchTree.Write(before, "dos.txt", "one\r\ntwo\r\nthree\r\n"); },
            after => { ScratchTree.Write(after, "tail.txt", "a\nb\nc"); ScratchTree.Write(after, "dos.txt", "one\r\nTWO\r\nthree\r\n"); });

        Assert.Contains("-b\n\\ No newline at end of file\n+b\n+c\n\\ No newline at end of file\n", patch.Text);
        Assert.Contains("-two\r\n+TWO\r\n", patch.Text);
    }

    [Fact]
    public void GivenPathsWithSpacesUnicodeAndQuotes_WhenThePatchIsApplied_ThenEveryPathIsFound()
    {
        var patch = AssertApplies(
            before => { ScratchTree.Write(before, "my dir/a file.txt", "x\n"); ScratchTree.Write(before, "naïve/日本.txt", "y\n"); },
            after => { ScratchTree.Write(after, "my dir/a file.txt", "x2\n"); ScratchTree.Write(after, "naïve/日本.txt", "y2\n"); ScratchTree.Write(after, "say \"hi\"\\tab.txt", "z\n"); });

        Assert.Contains("--- a/my dir/a file.txt\t\n", patch.Text);
        Assert.Contains("diff --git \"a/say \\\"hi\\\"\\\\tab.txt\" \"b/say \\\"hi\\\"\\\\tab.txt\"\n", patch.Text);
    }

    [Fact]
    public void GivenAPatchFromGit_WhenOursIsWrittenForTheSameChange_ThenGitAppliesOursInReverseToo()
    {
        // Given a change written as our patch and applied
        var before = _scratch.Dir("before");
        ScratchTree.Write(before, "bin.dat", [0, 1, 2, 3]);
        ScratchTree.Write(before, "t.txt", "1\n2\n");
        var after = _scratch.Dir("after");
        ScratchTree.Copy(before, after);
        ScratchTree.Write(after, "bin.dat", [0, 9, 9]);
        ScratchTree.Write(after, "t.txt", "1\n3\n");
        var patch = Patch(before, after);
        var target = _scratch.Dir("target");
        ScratchTree.Copy(after, target);

        // When it is applied with -R to the result
        var file = Path.Combine(_scratch.Root, "change.patch");
        File.WriteAllText(file, patch.Text);
        var (exit, _, stderr) = ScratchTree.Run(target, "git", "apply", "-R", file);

        // Then the "before" state comes back
        Assert.True(exit == 0, stderr);
        ScratchTree.AssertSameFiles(before, target);
    }

    [Fact]
    public void GivenFilesWhoseContentIsNotStored_WhenThePatchIsWritten_ThenTheyAreListedAndLeftOutAndTheRestApplies()
    {
        // Given a file above the size limit (not stored) changed, and a stored one changed
        var before = _scratch.Dir("before");
        ScratchTree.Write(before, "big.log", "old\n");
        ScratchTree.Write(before, "small.txt", "a\n");
        var after = _scratch.Dir("after");
        ScratchTree.Copy(before, after);
        ScratchTree.Write(after, "big.log", "new\n");
        ScratchTree.Write(after, "small.txt", "b\n");
        var changes = ScratchTree.Delta(ScratchTree.Scan(before, _blobs), ScratchTree.Scan(after, _blobs));
        changes = [.. changes.Select(c => c.Path == "big.log" ? c with { After = c.After! with { Stored = false } } : c)];

        // When the patch is written for git and for review
        var patch = GitPatch.Write(changes, _blobs);
        var review = GitPatch.Write(changes, _blobs, PatchStyle.Review);

        // Then the file is named, absent from the applicable patch, explained in the readable one
        Assert.Equal(["big.log"], patch.ContentMissing);
        Assert.DoesNotContain("big.log", patch.Text);
        Assert.Contains("Content not stored (above the size limit, or pruned): 4 bytes -> 4 bytes", review.Text);
        var target = _scratch.Dir("target");
        ScratchTree.Copy(before, target);
        ApplyWithGit(target, patch.Text);
        Assert.Equal("b\n", File.ReadAllText(Path.Combine(target, "small.txt")));
        Assert.Equal("old\n", File.ReadAllText(Path.Combine(target, "big.log")));
    }

    [Fact]
    public void GivenABinaryChange_WhenWrittenForReview_ThenTheFileIsOnlyNamed()
    {
        var before = _scratch.Dir("before");
        ScratchTree.Write(before, "x.bin", [0, 1]);
        var after = _scratch.Dir("after");
        ScratchTree.Write(after, "x.bin", [0, 2]);
        ScratchTree.Write(after, "y.bin", [0, 3]);

        var review = GitPatch.Write(ScratchTree.Delta(ScratchTree.Scan(before, _blobs), ScratchTree.Scan(after, _blobs)), _blobs, PatchStyle.Review);

        Assert.Contains("Binary files a/x.bin and b/x.bin differ\n", review.Text);
        Assert.Contains("Binary files /dev/null and b/y.bin differ\n", review.Text);
        Assert.DoesNotContain("GIT binary patch", review.Text);
    }

    [Fact]
    public void GivenOnlyBitsGitDoesNotRecord_WhenThePatchIsWritten_ThenItSaysNothing()
    {
        var entry = new FileEntry(EntryKind.File, 0b110_100_100, _blobs.Add("x\n"u8.ToArray()), 2);
        var change = new FileChange(ChangeKind.ModeChanged, "private.txt", entry, entry with { Mode = 0b110_000_000 });

        var patch = GitPatch.Write([change], _blobs);

        Assert.Equal("", patch.Text);
        Assert.Equal(0, patch.FilesChanged);
    }

    [Fact]
    public void GivenAUtf8FileWithAByteOrderMark_WhenThePatchIsApplied_ThenTheMarkIsKept()
    {
        AssertApplies(
            before => ScratchTree.Write(before, "bom.txt", [0xEF, 0xBB, 0xBF, (byte)'a', (byte)'\n']),
            after => ScratchTree.Write(after, "bom.txt", [0xEF, 0xBB, 0xBF, (byte)'b', (byte)'\n']));
    }

    [Fact]
    public void GivenNoChanges_WhenThePatchIsWritten_ThenItIsEmpty()
    {
        var patch = GitPatch.Write([], _blobs);

        Assert.Equal("", patch.Text);
        Assert.Equal(0, patch.FilesChanged);
    }

    private GitPatchResult Patch(string before, string after) =>
        GitPatch.Write(ScratchTree.Delta(ScratchTree.Scan(before, _blobs), ScratchTree.Scan(after, _blobs)), _blobs);

    /// <summary>Lays out "before", copies it to "after" and changes it, writes the patch and applies it to a third copy.</summary>
    private GitPatchResult AssertApplies(Action<string> arrangeBefore, Action<string> change)
    {
        var before = _scratch.Dir("before");
        arrangeBefore(before);
        var after = _scratch.Dir("after");
        ScratchTree.Copy(before, after);
        change(after);
        var patch = Patch(before, after);
        Assert.Empty(patch.ContentMissing);

        var target = _scratch.Dir("target");
        ScratchTree.Copy(before, target);
        ApplyWithGit(target, patch.Text);
        ScratchTree.AssertSameFiles(after, target);
        return patch;
    }

    private void ApplyWithGit(string target, string patch)
    {
        var file = Path.Combine(_scratch.Root, "change.patch");
        File.WriteAllText(file, patch, new UTF8Encoding(false));
        var check = ScratchTree.Run(target, "git", "apply", "--check", file);
        Assert.True(check.ExitCode == 0, $"git apply --check: {check.Stderr}\n{patch}");
        var apply = ScratchTree.Run(target, "git", "apply", file);
        Assert.True(apply.ExitCode == 0, $"git apply: {apply.Stderr}\n{patch}");
    }
}
