using System.Text.Json.Nodes;
using SessionMcp.McpServer.Tests.Infrastructure;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Workspace history through the real server: every step's change recorded with its event, shown by session_replay
/// {format: "diff"} and session_diff, and taken back (session_restore) or branched off (session_fork).
/// </summary>
public sealed class WorkspaceHistoryTests
{
    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task EachStepsDiffSaysExactlyWhatItChanged(string backend)
    {
        // Given a session copied from a project
        using var data = new TempDirectory("data");
        using var projects = new TempDirectory("projects");
        var project = MakeProject(projects.Path);
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", projects.Path]);
        var id = (await server.CallAsync("session_create", new { backend, source_dir = project })).Text("session_id");

        // When each step changes the workspace one way
        var steps = new Dictionary<string, long>();
        async Task Step(string name, string command) => steps[name] = (await server.CallAsync("session_exec", new { session_id = id, command })).EventSeq();
        await Step("modify", "printf 'two\\n' >> a.txt");
        await Step("add", "echo new > added.txt && : > empty.txt");
        await Step("delete", "rm gone.txt");
        await Step("rename", "mv dir/old.txt dir/new.txt");
        await Step("chmod", "chmod 755 tool.sh");
        await Step("symlink", "ln -s added.txt link2");
        await Step("binary", "printf 'b\\000\\001\\002' > bin.dat");
        await Step("nothing", "true");
        steps["edit"] = (await server.CallAsync("session_edit_file", new { session_id = id, path = "a.txt", old_string = "one", new_string = "uno" })).EventSeq();
        var replay = await server.CallAsync("session_replay", new { session_id = id, format = "diff", limit = 100 });

        // Then each step lists exactly its change, with the diff a person expects
        var byStep = replay["steps"]!.AsArray().ToDictionary(s => s!["seq"]!.GetValue<long>(), s => s!);
        JsonArray Files(string step) => byStep[steps[step]]["changes"]?["files"]?.AsArray() ?? [];
        string Diff(string step) => byStep[steps[step]]["changes"]!["diff"]!.GetValue<string>();
        string Describe(string step) => string.Join(" ", Files(step).Select(f => $"{f!["change"]}:{f["path"]}"));

        Assert.Equal("modified:a.txt", Describe("modify"));
        Assert.Contains("+two\n", Diff("modify"));
        Assert.Equal("added:added.txt added:empty.txt", Describe("add"));
        Assert.Contains("new file mode 100644", Diff("add"));
        Assert.Equal("removed:gone.txt", Describe("delete"));
        Assert.Contains("-bye\n", Diff("delete"));
        Assert.Equal("renamed:dir/new.txt", Describe("rename"));
        Assert.Equal("dir/old.txt", Files("rename")[0]!["from_path"]!.GetValue<string>());
        Assert.Equal("mode_changed:tool.sh", Describe("chmod"));
        Assert.Equal("100644 -> 100755", Files("chmod")[0]!["mode"]!.GetValue<string>());
        Assert.Equal("added:link2", Describe("symlink"));
        Assert.Contains("new file mode 120000", Diff("symlink"));
        Assert.Equal("modified:bin.dat", Describe("binary"));
        Assert.Contains("Binary files a/bin.dat and b/bin.dat differ", Diff("binary"));
        Assert.Empty(Files("nothing"));
        Assert.Equal("modified:a.txt", Describe("edit"));
        Assert.Contains("-one\n+uno\n", Diff("edit"));

        // And session_diff combines them from the session's start
        var combined = await server.CallAsync("session_diff", new { session_id = id });
        var files = combined["changes"]!["files"]!.AsArray().Select(f => $"{f!["change"]}:{f["path"]}").ToList();
        Assert.Equal(
            ["modified:a.txt", "added:added.txt", "modified:bin.dat", "renamed:dir/new.txt", "added:empty.txt", "removed:gone.txt", "added:link2", "mode_changed:tool.sh"],
            files);
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task RestoringToAStepThenDiffingAgainstItFindsNothing(string backend)
    {
        // Given a session with a few steps
        using var data = new TempDirectory("data");
        using var projects = new TempDirectory("projects");
        var project = MakeProject(projects.Path);
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", projects.Path]);
        var id = (await server.CallAsync("session_create", new { backend, source_dir = project })).Text("session_id");
        var keep = (await server.ExecAsync(id, "echo kept > kept.txt && chmod 755 tool.sh")).EventSeq();
        await server.RunAsync(id, "rm -r dir && echo later > a.txt && mkdir -p deep/er && echo x > deep/er/x && ln -s /etc/passwd out && chmod 600 tool.sh");

        // When it is restored to the first step (after a dry run that changes nothing)
        var dry = await server.CallAsync("session_restore", new { session_id = id, to_seq = keep, dry_run = true });
        Assert.Equal("later\n", await server.RunAsync(id, "cat a.txt"));
        var restored = await server.CallAsync("session_restore", new { session_id = id, to_seq = keep });

        // Then the files are as they were, and the diff from that step to now is empty
        Assert.Equal(dry["changes"]!["total_files"]!.GetValue<int>(), restored["changes"]!["total_files"]!.GetValue<int>());
        Assert.Equal("one\n", await server.RunAsync(id, "cat a.txt"));
        Assert.Equal("moved\n", await server.RunAsync(id, "cat dir/old.txt"));
        Assert.Equal("gone\n", await server.RunAsync(id, "[ -e deep ] || [ -e out ] || echo gone"));
        Assert.Contains("rwxr-xr-x", await server.RunAsync(id, "ls -l tool.sh"));
        var diff = await server.CallAsync("session_diff", new { session_id = id, from_seq = keep });
        Assert.Equal(0, diff["changes"]!["total_files"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AForkStartsFromItsStepAndBothHistoriesStaySeparate(string backend)
    {
        // Given a session with two steps
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var parent = await server.CreateSessionAsync(backend);
        var first = (await server.ExecAsync(parent, "echo v1 > f.txt")).EventSeq();
        await server.RunAsync(parent, "echo v2 > f.txt");

        // When it is forked at the first step and both go on
        var forked = await server.CallAsync("session_fork", new { session_id = parent, at_seq = first, name = "branch" });
        var fork = forked["session"]!.Text("session_id");
        await server.RunAsync(fork, "echo fork > only-fork.txt");
        await server.RunAsync(parent, "echo parent > only-parent.txt");

        // Then the fork began from v1, each sees only its own changes, and the list shows the lineage
        Assert.Equal("v1\n", await server.RunAsync(fork, "cat f.txt"));
        Assert.Equal("v2\n", await server.RunAsync(parent, "cat f.txt"));
        Assert.Equal("no\n", await server.RunAsync(parent, "[ -e only-fork.txt ] || echo no"));
        var forkDiff = (await server.CallAsync("session_diff", new { session_id = fork }))["changes"]!["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>());
        var parentDiff = (await server.CallAsync("session_diff", new { session_id = parent }))["changes"]!["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>());
        Assert.Equal(["only-fork.txt"], forkDiff);
        Assert.Equal(["f.txt", "only-parent.txt"], parentDiff);
        var listed = (await server.CallAsync("session_list"))["sessions"]!.AsArray().Single(s => s!["session_id"]!.GetValue<string>() == fork)!;
        Assert.Equal(parent, listed.Text("forked_from"));
        Assert.Equal(first, listed["fork_seq"]!.GetValue<long>());
    }

    [DockerFact]
    public async Task ASessionExploredLocallyCanBeContinuedInDocker()
    {
        // Given a local session with work in it
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var local = await server.CreateSessionAsync(Backends.Local);
        await server.RunAsync(local, "mkdir -p src && printf 'print(1)\\n' > src/main.py && chmod 755 src/main.py");

        // When it is forked (now) onto docker
        var forked = await server.CallAsync("session_fork", new { session_id = local, backend = Backends.Docker });

        // Then the container has the same files, modes included
        var container = forked["session"]!.Text("session_id");
        Assert.Equal("docker", forked["session"]!.Text("backend"));
        Assert.Equal("print(1)\n", await server.RunAsync(container, "cat src/main.py"));
        Assert.Contains("rwxr-xr-x", await server.RunAsync(container, "ls -l src/main.py"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ABackgroundJobsChangesAreRecordedWithItsEnd(string backend)
    {
        // Given a background job that writes a file and ends while nobody reads its output
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var id = await server.CreateSessionAsync(backend);
        await server.CallAsync("session_exec", new { session_id = id, command = "sleep 0.3; echo built > artifact.txt", background = true });

        // When its end is recorded (replay only reads, so it takes no step of its own)
        JsonNode? ended = null;
        for (var waited = 0; ended is null && waited < 200; waited++)
        {
            await Task.Delay(100);
            var events = await server.CallAsync("session_replay", new { session_id = id, format = "diff" });
            ended = events["steps"]!.AsArray().FirstOrDefault(s => s!["kind"]!.GetValue<string>() == "job_ended");
        }
        var next = await server.ExecAsync(id, "echo later > later.txt");
        var replay = await server.CallAsync("session_replay", new { session_id = id, format = "diff" });

        // Then the job_ended event carries the file, and the next call only its own
        Assert.NotNull(ended);
        Assert.Equal("added:artifact.txt", string.Join(" ", ended!["changes"]!["files"]!.AsArray().Select(f => $"{f!["change"]}:{f["path"]}")));
        var nextStep = replay["steps"]!.AsArray().Single(s => s!["seq"]!.GetValue<long>() == next.EventSeq());
        Assert.Equal("added:later.txt", string.Join(" ", nextStep!["changes"]!["files"]!.AsArray().Select(f => $"{f!["change"]}:{f["path"]}")));
    }

    [Fact]
    public async Task AGitignoreWrittenToStallTheServerCostsOneCallASecondNotACore()
    {
        // Given a session that writes a pattern a backtracking matcher needs hours for on the long name next to it
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var id = await server.CreateSessionAsync(Backends.Local);
        var pattern = string.Concat(Enumerable.Repeat("*a", 16)) + "*b";
        var name = new string('a', 80);

        // When the step that wrote them is recorded, and the next one
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var written = await server.CallAsync("session_exec", new { session_id = id, command = $"printf '%s\\n' '{pattern}' > .gitignore && echo x > {name}" }, deadline.Token);
        var next = await server.CallAsync("session_exec", new { session_id = id, command = "echo y > after.txt" }, deadline.Token);

        // Then both came back, the pattern was dropped with a note, and the files are recorded
        var replay = await server.CallAsync("session_replay", new { session_id = id, from_seq = written.EventSeq(), limit = 1 });
        Assert.Contains("is too costly to match; history does not apply it", replay.ToJsonString(), StringComparison.Ordinal);
        var files = (await server.CallAsync("session_diff", new { session_id = id }))["changes"]!["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>());
        Assert.Equal([".gitignore", name, "after.txt"], files.Order(StringComparer.Ordinal));
        Assert.NotEqual(0, next.EventSeq());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task RestoreRefusesAnEventOfAnotherSessionAndChangesNothing(string backend)
    {
        using var data = new TempDirectory("data");
        await using var server = await ServerProcess.StartAsync(data.Path);
        var one = await server.CreateSessionAsync(backend);
        var other = await server.CreateSessionAsync(Backends.Local);
        var foreign = (await server.ExecAsync(other, "echo x > x")).EventSeq();
        await server.RunAsync(one, "echo mine > mine.txt");

        var error = await server.CallErrorAsync("session_restore", new { session_id = one, to_seq = foreign });

        Assert.Contains($"event {foreign} is not an event of session {one}", error);
        Assert.Equal("mine\n", await server.RunAsync(one, "cat mine.txt"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ARerunReportsExactlyTheStepsThatDoNotReproduce(string backend)
    {
        // Given a session whose steps are deterministic except one that prints the date
        using var data = new TempDirectory("data");
        using var projects = new TempDirectory("projects");
        var project = MakeProject(projects.Path);
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", projects.Path]);
        var id = (await server.CallAsync("session_create", new { backend, source_dir = project })).Text("session_id");
        await server.RunAsync(id, "mkdir -p out && cd out && echo built > result.txt");
        await server.CallAsync("session_write_file", new { session_id = id, path = "notes.md", content = "# notes\n" });
        await server.CallAsync("session_edit_file", new { session_id = id, path = "notes.md", old_string = "# notes", new_string = "# Notes" });
        var dated = (await server.ExecAsync(id, "date > stamp.txt && cat stamp.txt")).EventSeq();
        await server.RunAsync(id, "cat result.txt ../a.txt | wc -l");
        var dry = await server.CallAsync("session_replay", new { session_id = id, mode = "rerun", dry_run = true });
        await Task.Delay(1100); // date prints seconds: the rerun's must differ

        // When the session is rerun
        var rerun = (await server.CallAsync("session_replay", new { session_id = id, mode = "rerun" }))["rerun"]!;

        // Then every step ran again in a new session, and only the dated one differs (output and files)
        Assert.Equal(5, dry["rerun"]!["steps"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "planned"));
        Assert.Equal(5, rerun["run"]!.GetValue<int>());
        Assert.Equal(1, rerun["differing"]!.GetValue<int>());
        var differing = rerun["steps"]!.AsArray().Single(s => s!["status"]!.GetValue<string>() == "differs")!;
        Assert.Equal(dated, differing["seq"]!.GetValue<long>());
        var differences = string.Join("\n", differing["differences"]!.AsArray().Select(d => d!.GetValue<string>()));
        Assert.Contains("stdout differs at line 1", differences);
        Assert.True(differences.Contains("resulting files differ: out/stamp.txt", StringComparison.Ordinal), differences);
        var into = rerun["into_session_id"]!.GetValue<string>();
        Assert.Equal("built\n", await server.RunAsync(into, "cat result.txt"));
        Assert.Equal("# Notes\n", await server.RunAsync(into, "cat ../notes.md"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task TheWorkGoesBackIntoTheProjectAsAPatchAsABranchOrApplied(string backend)
    {
        // Given a project under git, and a session that changed it in every way
        using var data = new TempDirectory("data");
        using var projects = new TempDirectory("projects");
        var project = MakeProject(projects.Path);
        Git(project, "init", "-q");
        Git(project, "add", "-A");
        Git(project, "commit", "-q", "-m", "start");
        var head = Git(project, "rev-parse", "HEAD");
        await using var server = await ServerProcess.StartAsync(data.Path, ["--source-roots", projects.Path]);
        var id = (await server.CallAsync("session_create", new { backend, source_dir = project })).Text("session_id");
        await server.RunAsync(id, "printf 'two\n' >> a.txt && rm gone.txt && mv dir/old.txt dir/new.txt && chmod 755 tool.sh && printf 'b\\000\\377' > bin.dat && echo fresh > 'with space.txt' && ln -s a.txt link");

        // When it is exported as a patch and as a branch
        var patch = await server.CallAsync("session_export", new { session_id = id });
        var branch = await server.CallAsync("session_export", new { session_id = id, format = "git" });

        // Then the patch applies to a clean copy of the project and gives the session's files
        using var copy = new TempDirectory("copy");
        Git(project, "worktree", "add", "-q", "--detach", Path.Combine(copy.Path, "clean"), "HEAD");
        var clean = Path.Combine(copy.Path, "clean");
        Git(clean, "apply", patch.Text("patch_path"));
        Assert.Equal("one\ntwo\n", File.ReadAllText(Path.Combine(clean, "a.txt")));
        Assert.False(File.Exists(Path.Combine(clean, "gone.txt")));
        Assert.Equal("moved\n", File.ReadAllText(Path.Combine(clean, "dir", "new.txt")));
        Assert.True(File.GetUnixFileMode(Path.Combine(clean, "tool.sh")).HasFlag(UnixFileMode.UserExecute));
        Assert.Equal(new byte[] { (byte)'b', 0, 0xFF }, File.ReadAllBytes(Path.Combine(clean, "bin.dat")));
        Assert.Equal("a.txt", new FileInfo(Path.Combine(clean, "link")).LinkTarget);
        // And the branch holds the same files while the project's working tree, index and HEAD are as they were
        Assert.Equal("", Git(project, "status", "--porcelain"));
        Assert.Equal(head, Git(project, "rev-parse", "HEAD"));
        Assert.Equal("one\ntwo", Git(project, "show", $"{branch.Text("branch")}:a.txt"));
        Assert.Equal("fresh", Git(project, "show", $"{branch.Text("branch")}:with space.txt"));

        // When the project changed a file the session changed too, apply refuses and writes nothing
        File.WriteAllText(Path.Combine(project, "a.txt"), "edited by the user\n");
        var refused = await ServerCli.RunAsync(data.Path, ["apply", id]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("a.txt", refused.Stderr);
        Assert.True(File.Exists(Path.Combine(project, "gone.txt")));
        // And once the user's change is gone, it applies
        Git(project, "checkout", "-q", "--", "a.txt");
        var applied = await ServerCli.RunAsync(data.Path, ["apply", id]);
        Assert.True(applied.ExitCode == 0, applied.ToString());
        Assert.Equal("one\ntwo\n", File.ReadAllText(Path.Combine(project, "a.txt")));
        Assert.False(File.Exists(Path.Combine(project, "gone.txt")));
    }

    private static string Git(string directory, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-c", "user.name=test", "-c", "user.email=test@localhost" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }
        using var git = System.Diagnostics.Process.Start(start)!;
        var output = git.StandardOutput.ReadToEnd();
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git {string.Join(' ', arguments)} failed: {error}");
        return output.TrimEnd('\n');
    }

    [Fact]
    public async Task AuditVerifyChecksEveryStoredContentAndEveryStepsRows()
    {
        // Given a session with recorded workspace history, and verify passing on it
        using var data = new TempDirectory("data");
        await using (var server = await ServerProcess.StartAsync(data.Path))
        {
            var id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo 'some content worth keeping' > kept.txt && echo second > other.txt");
        }
        var intact = await ServerCli.VerifyAsync(data.Path);
        Assert.True(intact.ExitCode == 0, intact.ToString());
        Assert.Contains("workspace history intact: ", intact.Stdout);

        // When one stored content is altered, and then one step's rows
        Sql(data.Path, "UPDATE blobs SET data = X'00' || CAST('forged!!' AS BLOB), size = 8 WHERE hash = (SELECT hash FROM blobs ORDER BY hash LIMIT 1)");
        var blobTampered = await ServerCli.VerifyAsync(data.Path);
        Sql(data.Path, "DROP TRIGGER file_changes_are_kept; UPDATE file_changes SET mode = 511 WHERE path = 'other.txt'");
        var rowTampered = await ServerCli.VerifyAsync(data.Path);

        // Then verify fails and says what
        Assert.Equal(1, blobTampered.ExitCode);
        Assert.Contains("does not match its hash (it was altered)", blobTampered.Stderr);
        Assert.Contains("do not match the digest the event recorded", rowTampered.Stderr);
    }

    private static void Sql(string dataDir, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDir, "session-mcp.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>A small project with one file of each kind the steps touch.</summary>
    internal static string MakeProject(string root)
    {
        var project = Path.Combine(root, "app");
        Directory.CreateDirectory(Path.Combine(project, "dir"));
        File.WriteAllText(Path.Combine(project, "a.txt"), "one\n");
        File.WriteAllText(Path.Combine(project, "gone.txt"), "bye\n");
        File.WriteAllText(Path.Combine(project, "dir", "old.txt"), "moved\n");
        File.WriteAllText(Path.Combine(project, "tool.sh"), "echo tool\n");
        File.SetUnixFileMode(Path.Combine(project, "tool.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.WriteAllBytes(Path.Combine(project, "bin.dat"), [0, 1, 2, 3]);
        return project;
    }
}
