namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>One server on a fresh data directory, shared by the tests of a class (each test makes its own sessions).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly TempDirectory _dataDir = new("data");
    private ServerProcess? _server;

    public ServerProcess Server => _server ?? throw new InvalidOperationException("the server is not started");

    public string DataDir => _dataDir.Path;

    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync(_dataDir.Path).ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        _dataDir.Dispose();
    }
}
