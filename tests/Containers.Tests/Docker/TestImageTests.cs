using SessionMcp.Containers.Docker.Engine;
using SessionMcp.Tests.Shared;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>The suite builds the image its Docker tests need when an engine answers (<see cref="DockerRequirement"/>).</summary>
public sealed class TestImageTests : IDisposable
{
    private readonly DockerEngineClient _client = DockerEngineClient.Create();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    [DockerFact]
    public async Task AMissingImageIsBuiltOnceAndThenReused()
    {
        // Given a tag nobody has built
        var tag = $"session-mcp/busybox:build-test-{Guid.NewGuid():N}";
        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => _client.InspectImageAsync(tag, _timeout.Token));
        try
        {
            // When
            var first = DockerRequirement.EnsureImage(tag);

            // Then
            Assert.True(first.Succeeded, $"{first.Problem}{first.OutputSection}");
            Assert.True(first.WasBuilt);
            var built = await _client.InspectImageAsync(tag, _timeout.Token);
            Assert.Contains(tag, built.RepoTags!);

            // And a second call finds it instead of rebuilding it
            var second = DockerRequirement.EnsureImage(tag);
            Assert.True(second.Succeeded);
            Assert.False(second.WasBuilt);
            Assert.Equal(built.ID, (await _client.InspectImageAsync(tag, _timeout.Token)).ID);
        }
        finally
        {
            DockerRequirement.RemoveImage(tag);
        }

        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => _client.InspectImageAsync(tag, _timeout.Token));
    }
}
