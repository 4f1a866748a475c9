using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Tests.Audit;
using SessionMcp.SessionRouting.Tests.Workspace;

namespace SessionMcp.SessionRouting.Tests.History;

/// <summary>The history core on real directories and a real SQLite file: scanning, recording, restoring, tampering.</summary>
public sealed class WorkspaceHistoryUnitTests : IDisposable
{
    private readonly ScratchWorkspace _workspace = new();
    private readonly ScratchDatabase _database = new();
    private readonly AuditLog _audit;
    private readonly HistoryStore _store;
    private readonly WorkspaceHistory _history;
    private readonly SessionRecord _session;

    public WorkspaceHistoryUnitTests()
    {
        _audit = new AuditLog(_database.Database);
        _store = new HistoryStore(_database.Database);
        _history = new WorkspaceHistory(_store, new HistoryOptions { MaxStoredFileBytes = 1024, IgnorePatterns = ["*.log"] });
        _session = new SessionRecord("s-aaaaaaaa", null, "local", SessionStatus.Running, _workspace.Root, _workspace.Root, _workspace.Root,
            new Dictionary<string, string>(), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
    }

    public void Dispose()
    {
        _history.Dispose();
        _workspace.Dispose();
        _database.Dispose();
    }

    [Fact]
    public void GivenAFirstStep_WhenRecorded_ThenItIsTheWholeWorkspaceAndTheNextStepOnlyWhatChanged()
    {
        Write("a.txt", "a\n");
        Write("src/b.txt", "b\n");
        var baseline = Record();
        Write("src/b.txt", "b2\n");
        var second = Record();

        Assert.Equal(["added a.txt", "added src/b.txt"], Describe(_history.Changes(_session.Id, 0, baseline)));
        Assert.Equal(["modified src/b.txt"], Describe(_history.Changes(_session.Id, baseline, second)));
        Assert.Equal("b2\n", System.Text.Encoding.UTF8.GetString(_store.Read(_store.TreeAt(_session.Id, second)["src/b.txt"].Hash)!));
    }

    [Fact]
    public void GivenDirectoriesMovedAndRemoved_WhenRecorded_ThenEveryFileUnderThemIsAccountedFor()
    {
        Write("d/x.txt", "x\n");
        Write("d/e/y.txt", "y\n");
        Write("gone/z.txt", "z\n");
        var baseline = Record();

        Directory.Move(_workspace.InRoot("d"), _workspace.InRoot("moved"));
        Directory.Delete(_workspace.InRoot("gone"), recursive: true);
        Write("moved/e/new.txt", "new\n");
        var step = Record();

        Assert.Equal(
            ["added moved/e/new.txt", "removed gone/z.txt", "renamed d/e/y.txt -> moved/e/y.txt", "renamed d/x.txt -> moved/x.txt"],
            Describe(_history.Changes(_session.Id, baseline, step)).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public void GivenIgnoredPaths_WhenTheyChange_ThenHistoryLeavesThemOut()
    {
        Write(".gitignore", "node_modules/\nbuild\n");
        Write("node_modules/pkg/index.js", "x");
        Write("app.log", "log");
        Write(".git/HEAD", "ref");
        Write("kept.txt", "kept");
        var baseline = Record();
        Write("node_modules/pkg/other.js", "y");
        Write("build", "artifact");
        var step = Record();

        Assert.Equal(["added .gitignore", "added kept.txt"], Describe(_history.Changes(_session.Id, 0, baseline)));
        Assert.Empty(_history.Changes(_session.Id, baseline, step));
    }

    [Fact]
    public void GivenNestedGitignores_WhenScanned_ThenEachSpeaksForItsDirectoryAndTheDeeperOneDecides()
    {
        Write(".gitignore", "*.log\n");
        Write("pkg/.gitignore", "dist/\n!keep.log\n");
        Write("pkg/dist/out.js", "built");
        Write("pkg/keep.log", "kept");
        Write("pkg/other.log", "dropped");
        Write("pkg/src/a.js", "a");
        Write("dist/top.js", "not under pkg");
        var baseline = Record();
        Write("pkg/.gitignore", "!keep.log\n");
        var step = Record();

        Assert.Equal(
            ["added .gitignore", "added dist/top.js", "added pkg/.gitignore", "added pkg/keep.log", "added pkg/src/a.js"],
            Describe(_history.Changes(_session.Id, 0, baseline)).Order(StringComparer.Ordinal).ToList());
        Assert.Equal(["added pkg/dist/out.js", "modified pkg/.gitignore"], Describe(_history.Changes(_session.Id, baseline, step)).Order(StringComparer.Ordinal).ToList());
    }

    [Fact]
    public void GivenDirectoriesNestedTwentyThousandDeep_WhenScanned_ThenTheStepIsRecordedUpToTheWalkDepthAndSaysSo()
    {
        // Deep enough to overflow a thread's stack in a recursive walk (it did, before the depth bound).
        _workspace.Nest("d", 20_000, "deep.txt");
        Write("a.txt", "a");

        var step = Record();

        var tree = _store.TreeAt(_session.Id, step);
        Assert.Contains("a.txt", tree.Keys);
        Assert.DoesNotContain(tree.Keys, p => p.EndsWith("deep.txt", StringComparison.Ordinal));
        var summary = _audit.ReadSession(_session.Id, step, 1)[0].Entry.Summary!;
        Assert.Contains($"nested more than {SessionMcp.SessionRouting.Workspace.WorkspacePaths.MaxWalkDepth} levels deep are not recorded", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void GivenAGitignorePatternTooCostlyToMatch_WhenScanned_ThenThePatternIsDroppedAndTheStepSaysSo()
    {
        // A backtracking matcher takes tens of milliseconds per name on this pattern (hours with a few more stars and a
        // longer name, which the server's regular-expression timeout cuts short); the cheap pattern next to it stays.
        var costly = string.Concat(Enumerable.Repeat("*a", 8)) + "*b";
        Write(".gitignore", $"{costly}\n*.tmp\n");
        Write(new string('a', 34), "named to make the pattern backtrack");
        Write("scratch.tmp", "ignored");
        Write("kept.txt", "kept");

        var step = Record();

        Assert.Equal([".gitignore", new string('a', 34), "kept.txt"], _store.TreeAt(_session.Id, step).Keys.Order(StringComparer.Ordinal));
        var summary = _audit.ReadSession(_session.Id, step, 1)[0].Entry.Summary!;
        Assert.Contains("of .gitignore is too costly to match; history does not apply it", summary, StringComparison.Ordinal);
    }

    [Fact]
    public void GivenADirectorySwappedForALinkToOutside_WhenScanned_ThenTheLinkIsRecordedAndNothingOutsideIsRead()
    {
        Write("inner/target.txt", "inside\n");
        var baseline = Record();
        Directory.Delete(_workspace.InRoot("inner"), recursive: true);
        File.CreateSymbolicLink(_workspace.InRoot("inner"), _workspace.Outside);
        var step = Record();

        var changes = Describe(_history.Changes(_session.Id, baseline, step));
        Assert.Equal(["added inner", "removed inner/target.txt"], changes);
        Assert.Equal(EntryKind.Symlink, _store.TreeAt(_session.Id, step)["inner"].Kind);
        Assert.DoesNotContain(_store.TreeAt(_session.Id, step).Keys, p => p.StartsWith("inner/", StringComparison.Ordinal));
    }

    [Fact]
    public void GivenAFileAboveTheStoredLimit_WhenRecorded_ThenItIsKnownByHashAndSizeOnlyAndRestoreSaysSo()
    {
        File.WriteAllBytes(_workspace.InRoot("big.bin"), new byte[4096]);
        var baseline = Record();
        var entry = _store.TreeAt(_session.Id, baseline)["big.bin"];

        Assert.False(entry.Stored);
        Assert.Equal(4096, entry.Size);
        File.Delete(_workspace.InRoot("big.bin"));
        var error = Assert.Throws<SessionMcp.SessionRouting.Backends.SessionException>(() =>
            WorkspaceWriter.Apply(_workspace.Local, TreeDelta.Between(WorkspaceTree.Empty, _store.TreeAt(_session.Id, baseline)), _store));
        Assert.Contains("big.bin (4096 bytes)", error.Message);
        Assert.False(File.Exists(_workspace.InRoot("big.bin")));
    }

    [Fact]
    public void GivenATamperedBlob_WhenRead_ThenItIsRefusedAndVerifyNamesIt()
    {
        Write("a.txt", "original content that compresses poorly 1234567890\n");
        var step = Record();
        var hash = _store.TreeAt(_session.Id, step)["a.txt"].Hash;
        Assert.Empty(_store.VerifyBlobs().Corrupt);

        _database.ExecuteRaw($"UPDATE blobs SET data = X'00{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes("forged content"))}', size = 14 WHERE hash = '{hash}'");

        Assert.Null(_store.Read(hash));
        Assert.Equal([hash], _store.VerifyBlobs().Corrupt);
    }

    [Fact]
    public void GivenRecordedRows_WhenOneIsAltered_ThenItsDigestNoLongerMatchesTheEventsSummary()
    {
        Write("a.txt", "a\n");
        var step = Record();
        var recorded = _store.DigestOf(_session.Id, step);
        Assert.Contains(recorded, _audit.ReadRange(step, 1)[0].Entry.Summary);

        _database.ExecuteRaw("DROP TRIGGER file_changes_are_kept; UPDATE file_changes SET mode = 511");

        Assert.NotEqual(recorded, _store.DigestOf(_session.Id, step));
    }

    private long Record()
    {
        using var step = _history.Observe(_session);
        var summary = step.Summary() is { } workspace ? new System.Text.Json.Nodes.JsonObject { ["workspace"] = workspace }.ToJsonString() : null;
        var appended = _audit.Append(new AuditEntry(DateTimeOffset.UtcNow, _session.Id, AuditKinds.ToolCall, "session_exec", null, null, AuditOutcomes.Ok, null, summary, 0, null), alongside: step.Write);
        step.Committed();
        return appended.Seq;
    }

    private void Write(string relative, string content)
    {
        var path = _workspace.InRoot(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private static List<string> Describe(IReadOnlyList<FileChange> changes) =>
        [.. changes.Select(c => c.Kind switch
        {
            ChangeKind.Renamed => $"renamed {c.FromPath} -> {c.Path}",
            _ => $"{HistoryStore.ChangeName(c.Kind)} {c.Path}",
        })];
}
