using SessionMcp.Containers.Docker;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>How the end of a session's container is told (in session_list and the audited event): OOM, exit code, signal.</summary>
public sealed class ContainerEndTests
{
    [Fact]
    public void AnOomKilledContainerIsToldAsOomWithItsLimitAndExitCode()
    {
        // Given / When
        var text = DockerBackend.DescribeEnd(new ContainerLifecycle.ContainerEnd(OomKilled: true, 137, "exited", "2026-01-02T03:04:05Z", 16L << 20));

        // Then
        Assert.Contains("OOM-killed", text);
        Assert.Contains("16 MiB", text);
        Assert.Contains("exit code 137", text);
    }

    [Theory]
    [InlineData(137, "exit code 137, killed by signal 9 (SIGKILL)")]
    [InlineData(143, "exit code 143, killed by signal 15 (SIGTERM)")]
    [InlineData(1, "exit code 1)")]
    [InlineData(0, "exit code 0)")]
    public void ADeadContainerIsToldWithItsExitCodeAndTheSignalItImplies(long exitCode, string expected)
    {
        // Given / When
        var text = DockerBackend.DescribeEnd(new ContainerLifecycle.ContainerEnd(OomKilled: false, exitCode, "exited", null, 0));

        // Then
        Assert.Contains(expected, text);
        Assert.DoesNotContain("OOM", text);
    }
}
