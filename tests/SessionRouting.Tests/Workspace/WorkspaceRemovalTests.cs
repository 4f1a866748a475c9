using System.Diagnostics;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

/// <summary><see cref="WorkspaceRemoval.RemoveTree"/>: any depth, any permissions, never through a link.</summary>
public sealed class WorkspaceRemovalTests : IDisposable
{
    private readonly ScratchWorkspace _scratch = new();

    [Fact]
    public async Task ATreeFarBeyondPathMaxIsRemovedWithoutTouchingWhatItsLinksPointAt()
    {
        // Given 3,003 nested directories (built in chunks of 1,000 moved under each other: a `mkdir d; cd d` loop takes
        // minutes this deep) with a file, a link out and an unreadable directory at the bottom, and a link out at the top
        await ShellAsync(_scratch.Root, $"""
            ln -s {_scratch.Outside} out
            p=d; i=1; while [ $i -lt 1000 ]; do p=$p/d; i=$((i+1)); done
            mkdir -p a/$p/locked && touch a/$p/f a/$p/locked/g && ln -s {_scratch.Outside} a/$p/out && chmod 000 a/$p/locked a/$p || exit 1
            for round in 1 2; do mkdir -p b/$p && mv a b/$p/a && mv b a || exit 1; done
            """);

        // When
        WorkspaceRemoval.RemoveTree(_scratch.Root);

        // Then
        Assert.False(Directory.Exists(_scratch.Root));
        _scratch.AssertOutsideUntouched(allowWorkspaceGone: true);
    }

    [Fact]
    public void AMissingDirectoryIsNothingToRemove() => WorkspaceRemoval.RemoveTree(Path.Combine(_scratch.Scratch, "missing"));

    [Fact]
    public void ALinkInPlaceOfTheDirectoryIsRemovedNotFollowed()
    {
        // Given the workspace replaced by a link to the outside directory
        Directory.Delete(_scratch.Root);
        File.CreateSymbolicLink(_scratch.Root, _scratch.Outside);

        // When
        WorkspaceRemoval.RemoveTree(_scratch.Root);

        // Then the link is gone, its target untouched
        Assert.False(Path.Exists(_scratch.Root));
        _scratch.AssertOutsideUntouched(allowWorkspaceGone: true);
    }

    public void Dispose() => _scratch.Dispose();

    private static async Task ShellAsync(string directory, string script)
    {
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = directory, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        using var process = Process.Start(start)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, stderr);
    }
}
