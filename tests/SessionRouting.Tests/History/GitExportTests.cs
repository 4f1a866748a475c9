using System.Security.Cryptography;
using SessionMcp.SessionRouting.History;

namespace SessionMcp.SessionRouting.Tests.History;

public sealed class GitExportTests : IDisposable
{
    private readonly ScratchTree _scratch = new();
    private readonly MemoryBlobs _blobs = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task GivenAGitSourceWithUncommittedWork_WhenASessionIsExported_ThenWorkingTreeIndexHeadAndBranchAreUntouched()
    {
        // Given a repository with a staged change, an unstaged change and an untracked file
        var source = NewRepository();
        ScratchTree.Write(source, "staged.txt", "staged\n");
        Git(source, "add", "staged.txt");
        ScratchTree.Write(source, "README.md", "edited but not committed\n");
        ScratchTree.Write(source, "untracked.txt", "mine\n");
        var before = Observe(source);

        // When a session's change is exported
        var (baseline, changes, _) = Session(source, work =>
        {
            ScratchTree.Write(work, "src/app.txt", "line 1\nline two\n");
            ScratchTree.Write(work, "added.bin", [0, 1, 2, 3]);
        });
        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s1"));

        // Then nothing the user sees changed, and the branch exists
        Assert.Equal(before, Observe(source));
        Assert.Equal(Git(source, "rev-parse", "session-mcp/s1"), result.Commit);
        Assert.Equal(Git(source, "rev-parse", "HEAD"), result.BaseCommit);
        Assert.Null(result.BaselineCommit);
        Assert.Equal("added.bin\nsrc/app.txt", Git(source, "diff", "--name-only", "HEAD", result.Commit));
    }

    [Fact]
    public async Task GivenACleanSource_WhenExported_ThenTheBranchTreeEqualsTheSessionFilesByteForByte()
    {
        // Given a clean repository and a session that adds, modifies, deletes, renames, chmods, links and writes binary
        var source = NewRepository();
        var (baseline, changes, work) = Session(source, work =>
        {
            ScratchTree.Write(work, "src/app.txt", "line 1\r\nline 2 changed\r\n");
            File.Delete(Path.Combine(work, "old.txt"));
            ScratchTree.Move(work, "move me.txt", "moved/naïve.txt");
            File.SetUnixFileMode(Path.Combine(work, "run.sh"), ScratchTree.Executable);
            ScratchTree.Link(work, "link", "src/app.txt");
            ScratchTree.Write(work, "data.bin", [0, 255, 0, 1]);
            ScratchTree.Write(work, "empty", "");
        });

        // When it is exported
        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s2"));

        // Then the branch's tree, extracted, is the session's workspace
        var extracted = _scratch.Dir("extracted");
        var archive = Path.Combine(_scratch.Root, "branch.tar");
        Git(source, "archive", "-o", archive, "session-mcp/s2");
        Assert.Equal(0, ScratchTree.Run(extracted, "tar", "-xf", archive).ExitCode);
        ScratchTree.AssertSameFiles(work, extracted);
        Assert.Equal(8, result.PathsChanged);
        Assert.Equal("Session s2's work", Git(source, "log", "-1", "--format=%s", "session-mcp/s2"));
        Assert.Equal("session-mcp <session-mcp@localhost>", Git(source, "log", "-1", "--format=%an <%ae>", "session-mcp/s2"));
    }

    [Fact]
    public async Task GivenAFileTheUserHadEditedWithoutCommitting_WhenTheSessionChangedItToo_ThenABaselineCommitHoldsTheUsersEdit()
    {
        // Given README.md edited in the working tree, then changed by the session
        var source = NewRepository();
        ScratchTree.Write(source, "README.md", "# Project\nuser's line\n");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "README.md", "# Project\nuser's line\nsession's line\n"));

        // When exported
        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s3"));

        // Then the baseline commit carries the user's edit, the session's commit only the session's line
        Assert.NotNull(result.BaselineCommit);
        Assert.Equal(result.BaselineCommit, Git(source, "rev-parse", result.Commit + "^"));
        Assert.Equal(result.BaseCommit, Git(source, "rev-parse", result.BaselineCommit + "^"));
        Assert.Contains("+user's line", Git(source, "diff", result.BaseCommit!, result.BaselineCommit!));
        var sessionDiff = Git(source, "diff", result.BaselineCommit!, result.Commit);
        Assert.Contains("+session's line", sessionDiff);
        Assert.DoesNotContain("+user's line", sessionDiff);
        Assert.Equal("# Project\nuser's line\n", File.ReadAllText(Path.Combine(source, "README.md")));
    }

    [Fact]
    public async Task GivenAnExistingBranch_WhenExportedWithoutForce_ThenItIsRefusedAndWithForceItMoves()
    {
        var source = NewRepository();
        Git(source, "branch", "session-mcp/s4");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "x.txt", "x\n"));

        var refused = await Assert.ThrowsAsync<ExportException>(() => GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s4")));
        Assert.Contains("already exists", refused.Message);
        Assert.Equal(Git(source, "rev-parse", "HEAD"), Git(source, "rev-parse", "session-mcp/s4"));

        var forced = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s4") with { Force = true });
        Assert.Equal(forced.Commit, Git(source, "rev-parse", "session-mcp/s4"));
    }

    [Fact]
    public async Task GivenTheCheckedOutBranch_WhenExportedWithForce_ThenItIsRefused()
    {
        var source = NewRepository();
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "x.txt", "x\n"));
        var head = Git(source, "rev-parse", "HEAD");

        var refused = await Assert.ThrowsAsync<ExportException>(() => GitExport.ExportAsync(Request(source, baseline, changes, "main") with { Force = true }));

        Assert.Contains("checked out", refused.Message);
        Assert.Equal(head, Git(source, "rev-parse", "HEAD"));
    }

    [Fact]
    public async Task GivenASourceThatIsAFolderOfTheRepository_WhenExported_ThenPathsLandUnderThatFolder()
    {
        var repository = NewRepository();
        var source = Path.Combine(repository, "src");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "app.txt", "new\n"));

        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s5"));

        Assert.Equal("src/app.txt", Git(repository, "diff", "--name-only", "HEAD", result.Commit));
    }

    [Fact]
    public async Task GivenASourceOutsideAnyRepository_WhenExported_ThenTheErrorSaysSoAndSuggestsAPatch()
    {
        var source = _scratch.Dir("plain");
        ScratchTree.Write(source, "a.txt", "a\n");
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "a.txt", "b\n"));

        var error = await Assert.ThrowsAsync<ExportException>(() => GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s6")));

        Assert.Contains("is not inside a git repository", error.Message);
        Assert.Contains("patch", error.Message);
    }

    [Fact]
    public async Task GivenABranchNameGitRejects_WhenExported_ThenNothingIsWritten()
    {
        var source = NewRepository();
        var (baseline, changes, _) = Session(source, work => ScratchTree.Write(work, "a.txt", "b\n"));

        var error = await Assert.ThrowsAsync<ExportException>(() => GitExport.ExportAsync(Request(source, baseline, changes, "bad..name")));

        Assert.Contains("not a valid branch name", error.Message);
        Assert.Equal("main", Git(source, "for-each-ref", "--format=%(refname:short)", "refs/heads/"));
    }

    [Fact]
    public async Task GivenAChangedFileWhoseContentIsNotStored_WhenExported_ThenItIsNamedAndLeftAsInHead()
    {
        var source = NewRepository();
        var (baseline, changes, _) = Session(source, work => { ScratchTree.Write(work, "old.txt", "huge\n"); ScratchTree.Write(work, "small.txt", "s\n"); });
        changes = [.. changes.Select(c => c.Path == "old.txt" ? c with { After = c.After! with { Stored = false } } : c)];

        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s7"));

        Assert.Equal(["old.txt"], result.ContentMissing);
        Assert.Equal("small.txt", Git(source, "diff", "--name-only", "HEAD", result.Commit));
    }

    [Fact]
    public async Task GivenManyChangedFiles_WhenExported_ThenEveryOneIsInTheCommit()
    {
        var source = NewRepository();
        var (baseline, changes, _) = Session(source, work =>
        {
            for (var i = 0; i < 600; i++)
            {
                ScratchTree.Write(work, $"gen/{i:D4}.txt", $"file {i}\n");
            }
        });

        var result = await GitExport.ExportAsync(Request(source, baseline, changes, "session-mcp/s8"));

        Assert.Equal(600, result.PathsChanged);
        Assert.Equal(600, Git(source, "diff", "--name-only", "HEAD", result.Commit).Split('\n').Length);
        Assert.Equal("file 577", Git(source, "show", $"{result.Commit}:gen/0577.txt"));
    }

    private GitExportRequest Request(string source, WorkspaceTree baseline, List<FileChange> changes, string branch) =>
        new(source, baseline, changes, _blobs, branch, "session-mcp", "session-mcp@localhost", $"Session {branch.Split('/')[^1]}'s work\n");

    private string NewRepository()
    {
        var dir = _scratch.Dir("repo");
        Git(dir, "init", "-q", "-b", "main");
        ScratchTree.Write(dir, "README.md", "# Project\n");
        ScratchTree.Write(dir, "src/app.txt", "line 1\r\nline 2\r\n");
        ScratchTree.Write(dir, "old.txt", "old\n");
        ScratchTree.Write(dir, "move me.txt", "moving\n");
        ScratchTree.Write(dir, "run.sh", "#!/bin/sh\necho hi\n");
        Git(dir, "add", "-A");
        Git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial");
        return dir;
    }

    /// <summary>Copies the source as a session would, lets <paramref name="work"/> change the copy, and returns the baseline and the change.</summary>
    private (WorkspaceTree Baseline, List<FileChange> Changes, string Work) Session(string source, Action<string> work)
    {
        var copy = Path.Combine(_scratch.Root, "session-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(copy);
        ScratchTree.Copy(source, copy);
        if (Directory.Exists(Path.Combine(copy, ".git")))
        {
            Directory.Delete(Path.Combine(copy, ".git"), recursive: true);
        }
        var baseline = ScratchTree.Scan(copy, _blobs);
        work(copy);
        return (baseline, ScratchTree.Delta(baseline, ScratchTree.Scan(copy, _blobs)), copy);
    }

    /// <summary>What the user sees of a repository: status, staged diff, HEAD, current branch, and every working-tree file's bytes.</summary>
    private static string Observe(string dir)
    {
        var files = string.Join("\n", Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/.git/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => $"{f} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))} {File.GetUnixFileMode(f)}"));
        var index = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, ".git", "index"))));
        return string.Join("\n---\n", Git(dir, "status", "--porcelain"), Git(dir, "diff", "--cached"), Git(dir, "diff"),
            Git(dir, "rev-parse", "HEAD"), Git(dir, "symbolic-ref", "HEAD"), index, files);
    }

    private static string Git(string dir, params string[] arguments)
    {
        var (exit, stdout, stderr) = ScratchTree.Run(dir, "git", arguments);
        Assert.True(exit == 0, $"git {string.Join(' ', arguments)}: {stderr}");
        return stdout.TrimEnd('\n');
    }
}
