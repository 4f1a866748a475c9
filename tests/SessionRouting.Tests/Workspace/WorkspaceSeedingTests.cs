using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

/// <summary>Where <c>session_create {source_dir}</c> may copy from: <see cref="WorkspaceSeeding.CheckSource"/>.</summary>
public sealed class WorkspaceSeedingTests : IDisposable
{
    // The scratch "workspace" plays the operator's source root; "outside" is a directory next to it that is not offered.
    private readonly ScratchWorkspace _scratch = new();

    [Fact]
    public void ARelativeSourceDirIsTakenFromTheFirstSourceRoot()
    {
        // Given a project under the first of two roots
        _scratch.Write("app/src/main.py", "print('hi')\n");

        // When it is named relative to that root
        var checkedPath = WorkspaceSeeding.CheckSource("app", [_scratch.Root, _scratch.Outside]);
        var itself = WorkspaceSeeding.CheckSource(".", [_scratch.Root]);

        // Then it resolves to the project's canonical path
        Assert.Equal(_scratch.InRoot("app"), checkedPath);
        Assert.Equal(_scratch.Root, itself);
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("app/../../outside")]
    public void ARelativeSourceDirCannotEscapeTheRootWithDotDot(string source)
    {
        // Given a root with a project, and a directory next to the root that is not offered
        _scratch.Write("app/main.py", "");

        // When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CheckSource(source, [_scratch.Root]));
        Assert.Contains("outside the directories this server copies from", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARelativeSourceDirThroughALinkOutOfTheRootIsRefused()
    {
        // Given a link inside the root that points at the directory outside it
        _scratch.Link("escape", _scratch.Outside);

        // When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CheckSource("escape", [_scratch.Root]));
        Assert.Contains("outside the directories this server copies from", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingRelativeSourceDirSaysWhereItWasLookedFor()
    {
        // Given an empty root
        // When / Then
        var missing = Assert.Throws<SessionException>(() => WorkspaceSeeding.CheckSource("nope", [_scratch.Root]));
        Assert.Contains($"a relative path is taken from {_scratch.Root}", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnAbsoluteSourceDirOutsideEveryRootIsStillRefused()
    {
        // Given / When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CheckSource(_scratch.Outside, [_scratch.Root]));
        Assert.Contains("outside the directories this server copies from", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("data")]
    [InlineData("data/sessions/s-1/workspace")]
    [InlineData("link-to-data/sessions")]
    public void NothingInsideTheDataDirectoryMayBeCopied(string source)
    {
        // Given the server's data directory under the source root, and a link to it
        _scratch.Write("data/sessions/s-1/workspace/secret", "x");
        _scratch.Link("link-to-data", _scratch.InRoot("data"));

        // When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CheckSource(source, [_scratch.Root], _scratch.InRoot("data")));
        Assert.Contains("inside this server's data directory", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACopyOfADirectoryThatHoldsTheDataDirectoryLeavesItOut()
    {
        // Given a root with a project file and the data directory in it
        _scratch.Write("app.txt", "project");
        _scratch.Write("data/sessions/s-1/workspace/secret", "x");
        var destination = Path.Combine(_scratch.Outside, "copy");

        // When
        WorkspaceSeeding.CopyDirectory(_scratch.Root, destination, 1 << 20, skip: _scratch.InRoot("data"));

        // Then
        Assert.Equal(["app.txt"], Directory.GetFileSystemEntries(destination).Select(Path.GetFileName));
    }

    [Fact]
    public void ACopyKeepsFilesModesAndLinksAndLeavesPipesOut()
    {
        // Given a tree: a wide directory (copied on every core), a nested one, an executable, a link and a pipe
        for (var i = 0; i < 40; i++)
        {
            _scratch.Write($"wide/{i:D2}.txt", $"file {i}\n");
        }
        _scratch.Write("deep/er/still/tool.sh", "#!/bin/sh\n");
        File.SetUnixFileMode(_scratch.InRoot("deep/er/still/tool.sh"), (UnixFileMode)0b111_101_000);
        _scratch.Write("empty.txt", "");
        _scratch.Link("wide/link", "../empty.txt");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", _scratch.InRoot("pipe")))
        {
            mkfifo.WaitForExit();
        }
        var destination = Path.Combine(_scratch.Outside, "copy");

        // When
        WorkspaceSeeding.CopyDirectory(_scratch.Root, destination, 1 << 20);

        // Then every file, mode and link arrived, and the pipe did not
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal($"file {i}\n", File.ReadAllText(Path.Combine(destination, "wide", $"{i:D2}.txt")));
        }
        Assert.Equal("#!/bin/sh\n", File.ReadAllText(Path.Combine(destination, "deep/er/still/tool.sh")));
        Assert.Equal((UnixFileMode)0b111_101_000, File.GetUnixFileMode(Path.Combine(destination, "deep/er/still/tool.sh")));
        Assert.Equal("", File.ReadAllText(Path.Combine(destination, "empty.txt")));
        Assert.Equal("../empty.txt", new FileInfo(Path.Combine(destination, "wide/link")).LinkTarget);
        Assert.False(Path.Exists(Path.Combine(destination, "pipe")));
    }

    [Fact]
    public void ACopyOfMoreThanTheLimitIsRefused()
    {
        // Given files of 3 KiB in all
        for (var i = 0; i < 12; i++)
        {
            _scratch.Write($"d/{i}.bin", new string('x', 256));
        }

        // When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CopyDirectory(_scratch.Root, Path.Combine(_scratch.Outside, "copy"), 2048));
        Assert.Contains("holds more than", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACopyOfDirectoriesNestedTwentyThousandDeepIsRefusedNotACrash()
    {
        // Given what a session can make with `mkdir d; cd d` in a loop (a recursive copy overflowed its stack on it)
        _scratch.Nest("d", 20_000, "deep.txt");

        // When / Then
        var refused = Assert.Throws<SessionException>(() => WorkspaceSeeding.CopyDirectory(_scratch.Root, Path.Combine(_scratch.Outside, "copy"), 1 << 20));
        Assert.Contains($"nested more than {WorkspacePaths.MaxWalkDepth} levels deep", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSessionsDirectoryIsMadePrivateEvenWhenItExistedOpen()
    {
        // Given a sessions directory an older version left at 0755
        var sessions = _scratch.InRoot("sessions");
        Directory.CreateDirectory(sessions);
        File.SetUnixFileMode(sessions, (UnixFileMode)0b111_101_101);

        // When
        WorkspaceSeeding.SecureSessionsRoot(sessions);
        WorkspaceSeeding.SecureSessionsRoot(_scratch.InRoot("new-sessions"));

        // Then only the server's user can reach the workspaces in them
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(sessions));
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(_scratch.InRoot("new-sessions")));
    }

    public void Dispose() => _scratch.Dispose();
}
