using System.Formats.Tar;
using System.Text;
using Docker.DotNet.Models;
using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Docker.Engine;

/// <summary>Against the real engine and the local test image (built by the suite when missing, see DockerRequirement).</summary>
public sealed class DockerEngineClientTests : IAsyncLifetime
{
    private const string TestLabel = "session-mcp.test";

    private readonly DockerEngineClient _client = DockerEngineClient.Create();
    private readonly List<string> _createdContainers = [];

    // Bounds every engine call so a wedged engine fails the test instead of hanging the run.
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    private CancellationToken Token => _timeout.Token;

    public Task InitializeAsync()
    {
        DockerRequirement.ThrowIfUnavailable();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var containerId in _createdContainers)
        {
            try
            {
                await _client.RemoveContainerAsync(containerId, force: true, removeVolumes: true, CancellationToken.None);
            }
            catch (DockerContainerNotFoundException)
            {
                // Already gone.
            }
        }

        _client.Dispose();
        _timeout.Dispose();
    }

    [DockerFact]
    public async Task TheEngineTellsItsVersionAndOs()
    {
        // Given / When
        var server = await _client.GetVersionAsync(Token);

        // Then
        Assert.False(string.IsNullOrEmpty(server.Version));
        Assert.False(string.IsNullOrEmpty(server.APIVersion));
        Assert.Equal("linux", server.Os);
    }

    [DockerFact]
    public async Task ASandboxedContainerReportsItsRestrictionsOnInspect()
    {
        // Given / When
        var containerId = await StartSandboxContainerAsync();
        var inspect = await _client.InspectContainerAsync(containerId, Token);

        // Then
        Assert.Equal(containerId, inspect.ID);
        Assert.True(inspect.State!.Running);
        Assert.Equal("running", inspect.State!.Status);
        Assert.True(inspect.State!.Pid > 0);
        Assert.Equal("1000:1000", inspect.Config!.User);
        Assert.Equal(DockerTestImage.Name, inspect.Config!.Image);
        Assert.Equal("1", inspect.Config!.Labels![TestLabel]);
        Assert.Equal("none", inspect.HostConfig!.NetworkMode);
        Assert.Equal(["ALL"], inspect.HostConfig!.CapDrop!);
        Assert.Contains("no-new-privileges", inspect.HostConfig!.SecurityOpt!);
        Assert.Equal(64L * 1024 * 1024, inspect.HostConfig!.Memory);
        Assert.Equal(64L * 1024 * 1024, inspect.HostConfig!.MemorySwap);
        Assert.Equal(64L, inspect.HostConfig!.PidsLimit);
        Assert.Equal(500_000_000L, inspect.HostConfig!.NanoCPUs);
        Assert.Equal("rw,size=16m", inspect.HostConfig!.Tmpfs!["/tmp"]);
    }

    [DockerFact]
    public async Task AStoppedContainerReportsItsExitState()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        await _client.StopContainerAsync(containerId, timeoutSeconds: 0, Token);
        await _client.StopContainerAsync(containerId, timeoutSeconds: 0, Token);
        var inspect = await _client.InspectContainerAsync(containerId, Token);

        // Then: stopping twice is fine, and the container is no longer running
        Assert.False(inspect.State!.Running);
        Assert.Equal("exited", inspect.State!.Status);
        Assert.True(DateTimeOffset.Parse(inspect.State!.FinishedAt, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UnixEpoch);
    }

    [DockerFact]
    public async Task RunExecCollectsBothStreamsAndTheExitCode()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        var output = await _client.RunExecAsync(containerId, ["sh", "-c", "echo out; echo err >&2; exit 3"], cancellationToken: Token);

        // Then
        Assert.Equal(new ExecOutput(3, "out\n", "err\n"), output);
    }

    [DockerFact]
    public async Task RunExecHonoursUserAndWorkingDirectory()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        var output = await _client.RunExecAsync(containerId, ["sh", "-c", "id -u; pwd"], user: "0", workingDir: "/tmp", Token);

        // Then
        Assert.Equal(new ExecOutput(0, "0\n/tmp\n", ""), output);
    }

    [DockerFact]
    public async Task RunningAMissingBinaryIsAnExitCodeNotAnError()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        var output = await _client.RunExecAsync(containerId, ["/no/such/binary"], cancellationToken: Token);

        // Then
        Assert.Equal(126, output.ExitCode);
        Assert.Contains("no such file", output.Stdout + output.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [DockerFact]
    public async Task AnAttachedShellAnswersOnStdoutAndEndsWhenStdinCloses()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();
        var execId = await _client.CreateExecAsync(containerId, new ContainerExecCreateParameters { Cmd = ["/bin/sh"], AttachStdin = true, AttachStdout = true, AttachStderr = true }, Token);
        await using var attached = await _client.StartExecAttachedAsync(execId, Token);

        // When
        await attached.WriteAsync("echo hi\n"u8.ToArray(), Token);
        var stdout = await ReadStdoutUntilAsync(attached, "hi\n");
        await attached.CloseStdinAsync(Token);
        var afterClose = await attached.ReadFrameAsync(Token);

        // Then
        Assert.Equal("hi\n", stdout);
        Assert.Null(afterClose);
    }

    [DockerFact]
    public async Task AnAttachedShellSeparatesStderrFromStdout()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();
        var execId = await _client.CreateExecAsync(containerId, new ContainerExecCreateParameters { Cmd = ["/bin/sh"], AttachStdin = true, AttachStdout = true, AttachStderr = true }, Token);
        await using var attached = await _client.StartExecAttachedAsync(execId, Token);

        // When
        await attached.WriteAsync("echo oops >&2; exit 5\n"u8.ToArray(), Token);
        var frames = new List<DockerFrame>();
        while (await attached.ReadFrameAsync(Token) is { } frame)
        {
            frames.Add(frame);
        }

        // Then
        var stderr = string.Concat(frames.Where(f => f.Stream == DockerStreamKind.Stderr).Select(f => Encoding.UTF8.GetString(f.Payload.Span)));
        Assert.Equal("oops\n", stderr);
    }

    [DockerFact]
    public async Task AttachingToAnUnknownExecIsAnEngineError()
    {
        // Given
        await _client.PingAsync(Token);

        // When
        var exception = await Assert.ThrowsAsync<DockerEngineException>(() => _client.StartExecAttachedAsync("no-such-exec", Token));

        // Then
        Assert.Equal(System.Net.HttpStatusCode.NotFound, exception.StatusCode);
        Assert.Contains("no-such-exec", exception.EngineMessage, StringComparison.Ordinal);
    }

    [DockerFact]
    public async Task CreatingFromAMissingImageNamesTheImage()
    {
        // Given
        const string missingImage = "session-mcp/does-not-exist:never";

        // When
        var exception = await Assert.ThrowsAsync<DockerImageNotFoundException>(
            () => _client.CreateContainerAsync(new CreateContainerParameters { Image = missingImage }, cancellationToken: Token));

        // Then
        Assert.Equal(missingImage, exception.Image);
        Assert.StartsWith($"Docker image '{missingImage}' not found on the engine", exception.Message, StringComparison.Ordinal);
    }

    [DockerFact]
    public async Task InspectingTheTestImageWorksAndAMissingOneIsNotFound()
    {
        // Given / When
        var image = await _client.InspectImageAsync(DockerTestImage.Name, Token);
        var missing = await Assert.ThrowsAsync<DockerImageNotFoundException>(() => _client.InspectImageAsync("session-mcp/does-not-exist:never", Token));

        // Then
        Assert.Contains(DockerTestImage.Name, image.RepoTags!);
        Assert.Equal("/workspace", image.Config?.WorkingDir);
        Assert.Equal("session-mcp/does-not-exist:never", missing.Image);
    }

    [DockerFact]
    public async Task InspectingAMissingContainerIsContainerNotFound()
    {
        // Given
        const string missingContainer = "session-mcp-no-such-container";

        // When
        var exception = await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => _client.InspectContainerAsync(missingContainer, Token));

        // Then
        Assert.Equal(missingContainer, exception.ContainerId);
    }

    [DockerFact]
    public async Task ExecInAStoppedContainerIsAConflict()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();
        await _client.KillContainerAsync(containerId, cancellationToken: Token);

        // When / Then
        await Assert.ThrowsAsync<DockerConflictException>(() => _client.RunExecAsync(containerId, ["true"], cancellationToken: Token));
    }

    [DockerFact]
    public async Task AFilePutAsTarComesBackAsTar()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();
        var upload = new MemoryStream();
        await using (var writer = new TarWriter(upload, TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "notes/hello.txt")
            {
                DataStream = new MemoryStream("hello from the host\n"u8.ToArray()),
                Uid = 1000,
                Gid = 1000,
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            };
            await writer.WriteEntryAsync(entry, Token);
        }

        upload.Position = 0;

        // When
        await _client.PutArchiveAsync(containerId, "/workspace", upload, Token);
        var cat = await _client.RunExecAsync(containerId, ["cat", "/workspace/notes/hello.txt"], cancellationToken: Token);
        await using var download = await _client.GetArchiveAsync(containerId, "/workspace/notes/hello.txt", Token);
        var downloaded = await ReadSingleFileAsync(download);

        // Then
        Assert.Equal("hello from the host\n", cat.Stdout);
        Assert.Equal(("hello.txt", "hello from the host\n"), downloaded);
    }

    [DockerFact]
    public async Task GettingAMissingPathFromAnExistingContainerIsNotContainerNotFound()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        var exception = await Assert.ThrowsAsync<DockerEngineException>(() => _client.GetArchiveAsync(containerId, "/workspace/nope", Token));

        // Then
        Assert.IsNotType<DockerContainerNotFoundException>(exception);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, exception.StatusCode);
    }

    [DockerFact]
    public async Task ContainersCanBeListedByLabel()
    {
        // Given
        var testCase = Guid.NewGuid().ToString("N");
        var containerId = await StartSandboxContainerAsync(("session-mcp.test.case", testCase));

        // When
        var byValue = await _client.ListContainersAsync(
            new Dictionary<string, string?> { [TestLabel] = "1", ["session-mcp.test.case"] = testCase }, all: true, Token);
        var byOtherValue = await _client.ListContainersAsync(
            new Dictionary<string, string?> { ["session-mcp.test.case"] = "other" }, all: true, Token);
        var byPresence = await _client.ListContainersAsync(new Dictionary<string, string?> { ["session-mcp.test.case"] = null }, all: true, Token);

        // Then
        var listed = Assert.Single(byValue);
        Assert.Equal(containerId, listed.ID);
        Assert.Equal("running", listed.State);
        Assert.Equal(testCase, listed.Labels!["session-mcp.test.case"]);
        Assert.DoesNotContain(byOtherValue, summary => summary.ID == containerId);
        Assert.Contains(byPresence, summary => summary.ID == containerId);
    }

    [DockerFact]
    public async Task RemovingAContainerMakesItNotFound()
    {
        // Given
        var containerId = await StartSandboxContainerAsync();

        // When
        await _client.RemoveContainerAsync(containerId, force: true, cancellationToken: Token);

        // Then
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => _client.InspectContainerAsync(containerId, Token));
    }

    private async Task<string> StartSandboxContainerAsync(params (string Key, string Value)[] extraLabels)
    {
        var labels = new Dictionary<string, string> { [TestLabel] = "1" };
        foreach (var (key, value) in extraLabels)
        {
            labels[key] = value;
        }

        var containerId = await _client.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = DockerTestImage.Name,
                Cmd = ["sleep", "3600"],
                User = "1000:1000",
                Labels = labels,
                HostConfig = new HostConfig
                {
                    NetworkMode = "none",
                    CapDrop = ["ALL"],
                    SecurityOpt = ["no-new-privileges"],
                    Memory = 64L * 1024 * 1024,
                    MemorySwap = 64L * 1024 * 1024,
                    PidsLimit = 64,
                    NanoCPUs = 500_000_000,
                    Tmpfs = new Dictionary<string, string> { ["/tmp"] = "rw,size=16m" },
                },
            },
            name: $"session-mcp-test-{Guid.NewGuid():N}",
            Token);
        _createdContainers.Add(containerId);
        await _client.StartContainerAsync(containerId, Token);
        return containerId;
    }

    private async Task<string> ReadStdoutUntilAsync(DockerAttachedStream attached, string expected)
    {
        var stdout = new StringBuilder();
        while (stdout.Length < expected.Length && await attached.ReadFrameAsync(Token) is { } frame)
        {
            if (frame.Stream == DockerStreamKind.Stdout)
            {
                stdout.Append(Encoding.UTF8.GetString(frame.Payload.Span));
            }
        }

        return stdout.ToString();
    }

    private async Task<(string Name, string Content)> ReadSingleFileAsync(Stream tar)
    {
        var reader = new TarReader(tar);
        var entry = await reader.GetNextEntryAsync(copyData: true, Token);
        Assert.NotNull(entry);
        Assert.NotNull(entry.DataStream);
        using var content = new StreamReader(entry.DataStream);
        var text = await content.ReadToEndAsync(Token);
        Assert.Null(await reader.GetNextEntryAsync(copyData: false, Token));
        return (entry.Name, text);
    }
}
