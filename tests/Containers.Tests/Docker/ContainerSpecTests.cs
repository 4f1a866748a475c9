using SessionMcp.Containers.Docker;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.Containers.Tests.Docker;

public sealed class ContainerSpecTests
{
    private static readonly DockerBackendOptions Options = new() { DataDir = "/data", SessionsDir = "/data/sessions", MaxCpus = 2 };

    private static NewSessionSpec Spec(string? network = null, ResourceLimits? limits = null) =>
        new("s-abcdefgh", null, new Dictionary<string, string>(), null, null, network, limits);

    [Fact]
    public void DefaultContainerIsHardened()
    {
        var request = ContainerSpec.Build(Options, Spec(), "img", "1000:1000", "/data/sessions/s-abcdefgh/workspace", "/data/helper-shells/abc");

        var host = request.HostConfig!;
        Assert.Equal("1000:1000", request.User);
        Assert.Equal(["ALL"], host.CapDrop);
        Assert.Equal(["no-new-privileges"], host.SecurityOpt);
        Assert.Equal("none", host.NetworkMode);
        Assert.Equal(Options.DefaultMemoryBytes, host.Memory);
        Assert.Equal(host.Memory, host.MemorySwap);
        Assert.Equal(Options.DefaultPids, host.PidsLimit);
        Assert.True(host.NanoCPUs > 0);
        Assert.True(host.ReadonlyRootfs);
        Assert.True(host.Init);
        Assert.Equal(["/data/sessions/s-abcdefgh/workspace:/workspace:rw", "/data/helper-shells/abc:/.session-mcp/bin:ro"], host.Binds);
        Assert.Contains("mode=1733", host.Tmpfs!["/.session-mcp/scratch"]);
        Assert.Contains("noexec", host.Tmpfs["/.session-mcp/scratch"]);
        Assert.Equal("sealed", request.Labels![ContainerSpec.HelperLabel]);
        Assert.Equal("s-abcdefgh", request.Labels![ContainerSpec.SessionLabel]);
        Assert.Equal("/data", request.Labels[ContainerSpec.DataDirLabel]);
    }

    [Fact]
    public void BridgeNetworkIsRefusedUnlessTheServerAllowsIt()
    {
        var refused = Assert.Throws<SessionException>(() => ContainerSpec.Build(Options, Spec("bridge"), "img", "1000:1000", "/w", "/h"));
        var allowed = ContainerSpec.Build(new DockerBackendOptions { AllowNetwork = true, MaxCpus = 2 }, Spec("bridge"), "img", "1000:1000", "/w", "/h");
        var unknown = Assert.Throws<SessionException>(() => ContainerSpec.Build(Options, Spec("host"), "img", "1000:1000", "/w", "/h"));

        Assert.Contains("not allowed", refused.Message);
        Assert.Equal("bridge", allowed.HostConfig!.NetworkMode);
        Assert.Contains("\"none\" or \"bridge\"", unknown.Message);
    }

    [Theory]
    [InlineData(1L << 20, null, null, "memory_mb")]
    [InlineData(1L << 44, null, null, "memory_mb must be between 16 and 8192 on this server, got 17592186044416")]
    [InlineData(null, 64.0, null, "cpus")]
    [InlineData(null, null, 1_000_000L, "pids_limit")]
    [InlineData(8L, null, null, "memory_mb")]
    public void LimitsOutsideTheConfiguredRangeAreRefused(long? memory, double? cpus, long? pids, string named)
    {
        var error = Assert.Throws<SessionException>(() => ContainerSpec.Build(Options, Spec(limits: new ResourceLimits(memory, cpus, pids)), "img", "1000:1000", "/w", "/h"));

        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void LimitsWithinRangeAreApplied()
    {
        var request = ContainerSpec.Build(Options, Spec(limits: new ResourceLimits(256, 0.5, 64)), "img", "1000:1000", "/w", "/h");

        Assert.Equal(256L << 20, request.HostConfig!.Memory);
        Assert.Equal(500_000_000, request.HostConfig.NanoCPUs);
        Assert.Equal(64, request.HostConfig.PidsLimit);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(64, 2)]
    public void TheDefaultCpuLimitLeavesTheHostACore(int hostCores, double expected)
    {
        // Given / When / Then: below the host's cores wherever there is more than one
        Assert.Equal(expected, DockerBackendOptions.DefaultCpusFor(hostCores));
        Assert.True(hostCores == 1 || DockerBackendOptions.DefaultCpusFor(hostCores) < hostCores);
    }

    [Fact]
    public void TheDefaultCpuLimitOfThisHostIsBelowItsCores()
    {
        // Given this host's defaults
        var options = new DockerBackendOptions();

        // Then a session may not use every core (unless there is only one)
        Assert.True(Environment.ProcessorCount == 1 || options.DefaultCpus < Environment.ProcessorCount, $"default cpus {options.DefaultCpus} on {Environment.ProcessorCount} cores");
    }
}
