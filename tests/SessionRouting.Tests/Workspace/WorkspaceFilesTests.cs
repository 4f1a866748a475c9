using System.Text;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

public sealed class WorkspaceFilesTests : IDisposable
{
    private readonly ScratchWorkspace _ws = new();

    [Fact]
    public void ReadReturnsTheBytesAndTheResolvedPath()
    {
        // Given
        _ws.Write("src/a.txt", "héllo\n");

        // When
        var (content, path) = WorkspaceFiles.Read(_ws.Local, "src/a.txt");

        // Then
        Assert.Equal(Encoding.UTF8.GetBytes("héllo\n"), content);
        Assert.Equal(_ws.InRoot("src/a.txt"), path.VisiblePath);
    }

    [Fact]
    public void ReadingAMissingFileOrADirectorySaysSo()
    {
        // Given
        Directory.CreateDirectory(_ws.InRoot("dir"));

        // When / Then
        Assert.Contains("does not exist", Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, "nope.txt")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, "nodir/nope.txt")).Message, StringComparison.Ordinal);
        Assert.Contains("directory", Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, "dir")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFileOverTheSizeLimitIsRefused()
    {
        // Given a sparse file one byte over the limit
        using (var file = File.Create(_ws.InRoot("big.bin")))
        {
            file.SetLength(WorkspaceFiles.MaxFileBytes + 1);
        }

        // When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, "big.bin"));
        Assert.Contains("session_exec", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteCreatesAFileAndLeavesNoTemporaryBehind()
    {
        // Given / When
        WorkspaceFiles.WriteAtomic(_ws.Local, "new.txt", "content\n"u8, createDirectories: false);

        // Then
        Assert.Equal("content\n", File.ReadAllText(_ws.InRoot("new.txt")));
        Assert.Equal(["new.txt"], Directory.GetFileSystemEntries(_ws.Root).Select(Path.GetFileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(_ws.InRoot("new.txt")));
    }

    [Fact]
    public void OverwritingAFileKeepsItsModeAndReplacesItsContent()
    {
        // Given an executable script
        _ws.Write("run.sh", "old\n");
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        File.SetUnixFileMode(_ws.InRoot("run.sh"), mode);

        // When
        WorkspaceFiles.WriteAtomic(_ws.Local, "run.sh", "new\n"u8, createDirectories: false);

        // Then
        Assert.Equal("new\n", File.ReadAllText(_ws.InRoot("run.sh")));
        Assert.Equal(mode, File.GetUnixFileMode(_ws.InRoot("run.sh")));
    }

    [Fact]
    public void MissingDirectoriesAreCreatedOnlyWhenAsked()
    {
        // Given / When / Then
        var refused = Assert.Throws<PathPolicyException>(() => WorkspaceFiles.WriteAtomic(_ws.Local, "a/b/c.txt", "x"u8, createDirectories: false));
        Assert.Contains("create_dirs", refused.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_ws.InRoot("a")));

        WorkspaceFiles.WriteAtomic(_ws.Local, "a/b/c.txt", "x"u8, createDirectories: true);
        Assert.Equal("x", File.ReadAllText(_ws.InRoot("a/b/c.txt")));
    }

    [Fact]
    public async Task CreateDirsNeverCreatesOutsideWhileADirectoryIsSwappedForALink()
    {
        // Given a concurrent "command" that keeps turning workspace/a into a link to the outside directory and back
        using var stop = new CancellationTokenSource();
        var swapper = Task.Run(() =>
        {
            var a = _ws.InRoot("a");
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (Directory.Exists(a) && new DirectoryInfo(a).LinkTarget is null)
                    {
                        Directory.Delete(a, recursive: true);
                    }
                    File.CreateSymbolicLink(a, _ws.Outside);
                    File.Delete(a);
                }
                catch (IOException)
                {
                }
            }
        });

        // When writes with create_dirs race it
        for (var i = 0; i < 400; i++)
        {
            try
            {
                WorkspaceFiles.WriteAtomic(_ws.Container, $"a/b{i}/f.txt", "x"u8, createDirectories: true);
            }
            catch (PathPolicyException)
            {
                // Refused or raced: either is fine, as long as nothing lands outside.
            }
        }
        await stop.CancelAsync();
        await swapper;

        // Then the outside directory holds only what it held before
        Assert.Equal([_ws.OutsideFile], Directory.EnumerateFileSystemEntries(_ws.Outside));
    }

    [Fact]
    public void RewritingAFileDropsSetuidBitsAndNeverReadsModesThroughLinks()
    {
        // Given a setuid file in the workspace
        _ws.Write("tool", "old");
        File.SetUnixFileMode(_ws.InRoot("tool"), UnixFileMode.SetUser | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // When
        WorkspaceFiles.WriteAtomic(_ws.Local, "tool", "new"u8, createDirectories: false);

        // Then the permissions survive, the setuid bit does not
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_ws.InRoot("tool")));
    }

    [Fact]
    public void TheRootAndPathsEndingInASlashAreNotFiles()
    {
        Assert.Contains("is a directory", Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, ".")).Message);
        Assert.Contains("is a directory", Assert.Throws<PathPolicyException>(() => WorkspaceFiles.WriteAtomic(_ws.Local, "newdir/", "x"u8, createDirectories: true)).Message);
        Assert.False(File.Exists(_ws.InRoot("newdir")));
    }

    [Fact]
    public void ReadingAFifoIsRefusedInsteadOfHanging()
    {
        // Given a named pipe nobody writes to, as a command could plant one
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", _ws.InRoot("pipe")))
        {
            mkfifo.WaitForExit();
        }

        // When / Then: refused at once (a blocking open would never return)
        var error = Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, "pipe"));
        Assert.Contains("not a regular file", error.Message);
    }

    [Fact]
    public void WritingADirectoryIsRefused()
    {
        // Given
        Directory.CreateDirectory(_ws.InRoot("dir"));

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspaceFiles.WriteAtomic(_ws.Local, "dir", "x"u8, createDirectories: false));
        Assert.True(Directory.Exists(_ws.InRoot("dir")));
    }

    public static TheoryData<string, string, string> Escapes() => new()
    {
        // link name (in the workspace), link target ({outside}, {outsideFile} are filled in), path used
        { "leak", "/etc/passwd", "leak" },
        { "leak", "{outsideFile}", "leak" },
        { "root", "/", "root{outsideFile}" },
        { "up", "..", "up/outside/target.txt" },
        { "outdir", "{outside}", "outdir/target.txt" },
        { "c2", "c3", "c2" },
        { "dangling", "{outside}/created.txt", "dangling" },
    };

    [Theory]
    [MemberData(nameof(Escapes))]
    public void ReadsAndWritesThroughALinkOutsideAreRefusedAndChangeNothing(string link, string target, string path)
    {
        // Given a link planted in the workspace (and for the chain, its next hop)
        string Fill(string s) => s.Replace("{outsideFile}", _ws.OutsideFile, StringComparison.Ordinal).Replace("{outside}", _ws.Outside, StringComparison.Ordinal);
        _ws.Link(link, Fill(target));
        if (link == "c2")
        {
            _ws.Link("c3", _ws.OutsideFile);
        }
        var passwd = File.ReadAllBytes("/etc/passwd");

        // When / Then
        Assert.Throws<PathPolicyException>(() => WorkspaceFiles.Read(_ws.Local, Fill(path)));
        Assert.Throws<PathPolicyException>(() => WorkspaceFiles.WriteAtomic(_ws.Local, Fill(path), "pwned\n"u8, createDirectories: true));
        _ws.AssertOutsideUntouched();
        Assert.Equal(passwd, File.ReadAllBytes("/etc/passwd"));
    }

    [Fact]
    public void WritingThroughALinkInsideReplacesTheTargetAndKeepsTheLink()
    {
        // Given
        _ws.Write("real/f.txt", "old\n");
        _ws.Link("alias", "real/f.txt");

        // When
        var resolved = WorkspaceFiles.WriteAtomic(_ws.Local, "alias", "new\n"u8, createDirectories: false);

        // Then
        Assert.Equal(_ws.InRoot("real/f.txt"), resolved.HostPath);
        Assert.Equal("new\n", File.ReadAllText(_ws.InRoot("real/f.txt")));
        Assert.Equal("real/f.txt", new FileInfo(_ws.InRoot("alias")).LinkTarget);
    }

    [Fact]
    public async Task TheFileLockSerialisesReadModifyWriteCycles()
    {
        // Given a counter file
        _ws.Write("counter.txt", "0");
        var path = WorkspacePaths.Resolve(_ws.Local, "counter.txt");

        // When 50 increments race through the lock
        await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => WorkspaceFiles.WithFileLockAsync(path, () =>
        {
            var (content, _) = WorkspaceFiles.Read(_ws.Local, "counter.txt");
            var next = int.Parse(Encoding.ASCII.GetString(content), System.Globalization.CultureInfo.InvariantCulture) + 1;
            return WorkspaceFiles.WriteAtomic(_ws.Local, "counter.txt", Encoding.ASCII.GetBytes($"{next}"), createDirectories: false);
        }, CancellationToken.None))));

        // Then none was lost
        Assert.Equal("50", File.ReadAllText(_ws.InRoot("counter.txt")));
    }

    [Fact]
    public void Sha256HexIsLowercaseHex()
    {
        // Given / When / Then
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", WorkspaceFiles.Sha256Hex("abc"u8));
    }

    public void Dispose() => _ws.Dispose();
}
