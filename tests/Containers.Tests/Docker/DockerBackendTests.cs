using SessionMcp.Containers.Docker;
using Docker.DotNet.Models;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>How a stopped container is described in a lost session's status_detail.</summary>
public sealed class DockerBackendTests
{
    [Fact]
    public void AContainerOomKilledAsAWholeIsDescribedWithTheSessionsMemoryLimit()
    {
        // Given a container the kernel stopped for memory
        var container = Container(new State { Status = "exited", OOMKilled = true, ExitCode = 137 }, memory: 64L << 20);

        // When
        var detail = DockerBackend.Describe(container);

        // Then
        Assert.Contains("OOM-killed", detail);
        Assert.Contains("64 MiB", detail);
    }

    [Fact]
    public void AContainerKilledOtherwiseIsNotCalledOom()
    {
        var detail = DockerBackend.Describe(Container(new State { Status = "exited", ExitCode = 137 }, memory: 64L << 20));

        Assert.DoesNotContain("OOM", detail);
        Assert.Contains("exit code 137, killed", detail);
    }

    private static ContainerInspectResponse Container(State state, long memory) => new()
    {
        ID = "0123456789abcdef",
        State = state,
        Config = new ContainerConfig(),
        HostConfig = new HostConfig { Memory = memory },
    };
}
