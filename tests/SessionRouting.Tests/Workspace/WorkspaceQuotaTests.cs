using System.Diagnostics;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Tests.Workspace;

/// <summary>
/// The loop-mounted ext4 quota on a real kernel: made, full, mounted again after a "reboot" (an unmount), released.
/// Needs root, loop devices and e2fsprogs (bash .ci/start-docker.sh installs e2fsprogs); fails rather than skips without.
/// </summary>
public sealed class WorkspaceQuotaTests : IDisposable
{
    private readonly string _sessionDir = Path.Combine(Path.GetTempPath(), "session-mcp-tests", $"quota-{Guid.NewGuid():N}");

    private string Workspace => Path.Combine(_sessionDir, "workspace");

    [Fact]
    public void AQuotaWorkspaceRefusesWritesPastItsSizeAndReportsItselfFull()
    {
        // Given
        Assert.Null(WorkspaceQuota.Unavailable());
        WorkspaceQuota.Create(_sessionDir, Workspace, 8, 1000, 1000);

        // When a file larger than the quota is written
        var error = Assert.ThrowsAny<IOException>(() => File.WriteAllBytes(Path.Combine(Workspace, "big"), new byte[16 << 20]));

        // Then it fails with ENOSPC, the workspace shows as full, and it belongs to the session's user with no lost+found
        Assert.True(WorkspaceQuota.IsNoSpace(error), error.ToString());
        Assert.NotNull(WorkspaceQuota.NearlyFull(Workspace, 8));
        Assert.Equal(["big"], Directory.GetFileSystemEntries(Workspace).Select(Path.GetFileName));
        Assert.Equal("1000:1000", Stat(Workspace));
    }

    [Fact]
    public void AQuotaWhoseMountDidNotSurviveARebootIsMountedAgainWithItsFiles()
    {
        // Given a quota workspace with a file, unmounted as a reboot would
        WorkspaceQuota.Create(_sessionDir, Workspace, 8, null, null);
        File.WriteAllText(Path.Combine(Workspace, "kept.txt"), "kept");
        Run("umount", Workspace);
        Assert.False(WorkspaceQuota.IsMountPoint(Workspace));

        // When
        var mounted = WorkspaceQuota.EnsureMounted(_sessionDir, Workspace);

        // Then
        Assert.True(mounted);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(Workspace, "kept.txt")));
        Assert.False(WorkspaceQuota.EnsureMounted(_sessionDir, Workspace));
    }

    [Fact]
    public void ReleasingAQuotaUnmountsItAndDeletesItsImage()
    {
        // Given
        WorkspaceQuota.Create(_sessionDir, Workspace, 8, null, null);

        // When
        WorkspaceQuota.Release(_sessionDir, Workspace);

        // Then
        Assert.False(WorkspaceQuota.IsMountPoint(Workspace));
        Assert.False(File.Exists(Path.Combine(_sessionDir, WorkspaceQuota.ImageName)));
    }

    [Fact]
    public void ANewQuotaOnAnExistingImageIsRefusedRatherThanReused()
    {
        // Given an image left from an earlier workspace
        WorkspaceQuota.Create(_sessionDir, Workspace, 8, null, null);

        // When / Then a second one in the same place does not silently take over the first
        Assert.ThrowsAny<IOException>(() => WorkspaceQuota.Create(_sessionDir, Workspace, 8, null, null));
    }

    private static string Stat(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("stat", ["-c", "%u:%g", path]) { RedirectStandardOutput = true })!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return output;
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments))!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    public void Dispose()
    {
        if (WorkspaceQuota.IsMountPoint(Workspace))
        {
            WorkspaceQuota.Release(_sessionDir, Workspace);
        }
        if (Directory.Exists(_sessionDir))
        {
            Directory.Delete(_sessionDir, recursive: true);
        }
    }
}
