using SessionMcp.SessionRouting.Sessions;
using SessionMcp.SessionRouting.Tests.Audit;

namespace SessionMcp.SessionRouting.Tests.Sessions;

public sealed class SessionRegistryTests : IDisposable
{
    private static readonly DateTimeOffset Created = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);
    private readonly ScratchDatabase _scratch = new();

    [Fact]
    public void ASessionRoundTripsThroughTheDatabase()
    {
        // Given
        var registry = new SessionRegistry(_scratch.Database);
        var session = Session("s-aaaaaaaa") with { Name = "named", BackendState = """{"container":"c1"}""", StatusDetail = "detail" };

        // When
        registry.Add(session);
        var found = registry.Find(session.Id);

        // Then
        Assert.NotNull(found);
        Assert.Equal(session with { Env = found.Env }, found);
        Assert.Equal(session.Env.OrderBy(p => p.Key), found.Env.OrderBy(p => p.Key));
        Assert.Null(registry.Find("s-bbbbbbbb"));
    }

    [Fact]
    public void ListReturnsSessionsInCreationOrderWithTheirStatus()
    {
        // Given
        var registry = new SessionRegistry(_scratch.Database);
        registry.Add(Session("s-bbbbbbbb") with { CreatedAt = Created.AddMinutes(1) });
        registry.Add(Session("s-aaaaaaaa"));
        registry.Add(Session("s-cccccccc") with { CreatedAt = Created.AddMinutes(2), Status = SessionStatus.Lost });

        // When
        var listed = registry.List();

        // Then
        Assert.Equal(["s-aaaaaaaa", "s-bbbbbbbb", "s-cccccccc"], listed.Select(s => s.Id));
        Assert.Equal(["running", "running", "lost"], listed.Select(s => s.StatusText));
    }

    [Fact]
    public void UpdateCannotChangeTheIdAndFailsForAnUnknownSession()
    {
        // Given
        var registry = new SessionRegistry(_scratch.Database);
        registry.Add(Session("s-aaaaaaaa"));

        // When
        var updated = registry.Update("s-aaaaaaaa", s => s with { Id = "s-zzzzzzzz", Cwd = "/w/src" });

        // Then
        Assert.Equal("s-aaaaaaaa", updated.Id);
        Assert.Equal("/w/src", registry.Find("s-aaaaaaaa")!.Cwd);
        Assert.Null(registry.Find("s-zzzzzzzz"));
        Assert.Throws<KeyNotFoundException>(() => registry.Update("s-bbbbbbbb", s => s));
    }

    [Fact]
    public void ConcurrentUpdatesFromTwoProcessesAreAllKept()
    {
        // Given one session and two registries on independent connections, as two server processes have
        var first = new SessionRegistry(_scratch.Database);
        var second = new SessionRegistry(_scratch.OpenAnother());
        first.Add(Session("s-aaaaaaaa"));

        // When 100 read-modify-write updates, each adding its own variable, run at once through both
        Parallel.For(0, 100, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n =>
            (n % 2 == 0 ? first : second).Update("s-aaaaaaaa", s => s with
            {
                Env = new Dictionary<string, string>(s.Env) { [$"V{n}"] = $"{n}" },
            }));

        // Then no update overwrote another
        var env = first.Find("s-aaaaaaaa")!.Env;
        Assert.All(Enumerable.Range(0, 100), n => Assert.Equal($"{n}", env[$"V{n}"]));
    }

    [Fact]
    public void SessionsSurviveReopeningTheDatabase()
    {
        // Given
        new SessionRegistry(_scratch.Database).Add(Session("s-aaaaaaaa"));

        // When
        var reopened = new SessionRegistry(_scratch.OpenAnother());

        // Then
        Assert.Equal("s-aaaaaaaa", Assert.Single(reopened.List()).Id);
    }

    private static SessionRecord Session(string id) => new(
        id, null, "local", SessionStatus.Running, $"/data/sessions/{id}/workspace", $"/data/sessions/{id}/workspace",
        $"/data/sessions/{id}/workspace", new Dictionary<string, string> { ["PATH"] = "/bin", ["A"] = "1" },
        Created, Created, null, null);

    public void Dispose() => _scratch.Dispose();
}
