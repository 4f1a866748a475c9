using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>Huge exported variables cannot make a session slow or break it for good: over the limits, state is not kept.</summary>
public sealed class SessionStateLimitTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private ServerProcess Server => fixture.Server;

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnOversizedExportIsNotKeptTheResultSaysWhyAndTheSessionStaysUsable(string backend)
    {
        // Given a session with a small exported variable and a cwd
        var id = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(id, "mkdir -p sub && cd sub && export KEEP=yes");

        // When a command exports a 300,000-character variable and changes directory
        var big = await Server.ExecAsync(id, "cd .. && export BIG=$(head -c 300000 /dev/zero | tr '\\0' a) && echo exported");

        // Then the command ran, its state was not kept, and the note names the variable and the limit
        Assert.Equal("exported\n", big.Text("stdout"));
        var note = big.Text("note");
        Assert.Contains("not kept", note, StringComparison.Ordinal);
        Assert.Contains("BIG", note, StringComparison.Ordinal);
        Assert.Contains("65,536", note, StringComparison.Ordinal);

        // Then the next command sees the state from before it, and exports work again
        Assert.Equal("0 yes sub\n", await Server.RunAsync(id, "echo ${#BIG} $KEEP $(basename $PWD); export NEXT=1"));
        Assert.Equal("1\n", await Server.RunAsync(id, "echo $NEXT"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AStateFileOverItsLimitIsNotReadAndTheSessionStaysUsable(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When a command exports 1.2 MB across variables (each under the per-variable limit's reach only through many)
        var result = await Server.ExecAsync(id, "i=0; while [ $i -lt 24 ]; do export V$i=$(head -c 50000 /dev/zero | tr '\\0' b); i=$((i+1)); done; echo done");

        // Then the state is not kept and the note says so
        Assert.Equal("done\n", result.Text("stdout"));
        Assert.Contains("not kept", result.Text("note"), StringComparison.Ordinal);
        Assert.Equal("[]\n", await Server.RunAsync(id, "echo \"[$V0$V23]\""));
    }

    [Fact]
    public async Task ASessionCannotStartWithMoreStateThanItCouldKeep()
    {
        // When a session is created with a huge env
        var error = await Server.CallErrorAsync("session_create", new { backend = Backends.Local, env = new Dictionary<string, string> { ["HUGE"] = new string('x', 100_000) } });

        // Then it is refused, naming the variable and what to do instead
        Assert.Contains("HUGE", error, StringComparison.Ordinal);
        Assert.Contains("session_write_file", error, StringComparison.Ordinal);
    }
}
