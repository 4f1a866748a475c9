using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>The audited event store as seen from outside: what gets recorded, what is redacted, and that tampering shows.</summary>
public sealed partial class AuditTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string EnvSecret = "supersecret123";
    private const string GitHubToken = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    private ServerProcess Server => fixture.Server;

    public static TheoryData<string, string, string, string> RejectedCalls() => new()
    {
        // tool, arguments (JSON), what the error must say, the outcome recorded
        { "session_explode", """{"session_id":"s-00000000"}""", "unknown tool 'session_explode'", "rejected" },
        { "session_exec", """{"session_id":"s-00000000","command":"true","timeout_ms":"abc"}""", "'timeout_ms' must be integer", "rejected" },
        { "session_exec", """{"session_id":"s-00000000"}""", "missing required argument 'command'", "rejected" },
        { "session_exec", """{"session_id":"s-zzzzzzzz","command":"echo hi"}""", "no session 's-zzzzzzzz'", "rejected" },
        { "session_read_file", """{"session_id":"not-a-session","path":"x"}""", "'not-a-session' is not a session ID", "rejected" },
        { "session_exec", """{"session_id":"s-00000000","command":"true","bogus":1}""", "unknown argument 'bogus'", "rejected" },
    };

    [Theory]
    [MemberData(nameof(RejectedCalls))]
    public async Task ARejectedCallGetsASpecificErrorAndIsRecordedAsAnEvent(string tool, string arguments, string expectedError, string expectedOutcome)
    {
        // Given / When a call the server must refuse
        var error = await Server.CallErrorAsync(tool, JsonNode.Parse(arguments));

        // Then the error says precisely what was wrong, and names the event that recorded it
        Assert.Contains(expectedError, error, StringComparison.Ordinal);
        var seq = EventSeqOf(error);
        var recorded = (await ServerCli.ExportAsync(fixture.DataDir)).Single(e => e["seq"]!.GetValue<long>() == seq);
        Assert.Equal(tool, recorded.Text("tool"));
        Assert.Equal(expectedOutcome, recorded.Text("outcome"));
        Assert.Contains(expectedError, recorded.Text("error"), StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(arguments), recorded["arguments"]), $"arguments stored as {recorded["arguments"]?.ToJsonString()}");
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AFailingCommandAndAFailingEditAreRecordedWithTheirOutcome(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When a command exits non-zero and an edit fails
        var exec = await Server.ExecAsync(id, "echo oops >&2; exit 3");
        var editError = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path = "missing.txt", old_string = "a", new_string = "b" });

        // Then the command is an ok call with its exit code, the edit an error, both under the session
        var events = (await ServerCli.ExportAsync(fixture.DataDir)).ToDictionary(e => e["seq"]!.GetValue<long>());
        var execEvent = events[exec.EventSeq()];
        Assert.Equal(id, execEvent.Text("session_id"));
        Assert.Equal("ok", execEvent.Text("outcome"));
        Assert.Equal(3, execEvent["summary"]!["exit_code"]!.GetValue<int>());
        Assert.Equal("oops\n", execEvent["output"]!.Text("stderr"));
        Assert.Equal("session-mcp-tests/1.0", execEvent.Text("client"));
        var editEvent = events[EventSeqOf(editError)];
        Assert.Equal("error", editEvent.Text("outcome"));
        Assert.Equal(id, editEvent.Text("session_id"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task SecretsNeverReachTheStoredEvents(string backend)
    {
        // Given a session created with a secret-looking variable
        var created = await Server.CallAsync("session_create", new { backend, env = new Dictionary<string, string> { ["API_TOKEN"] = EnvSecret } });
        var id = created.Text("session_id");

        // When commands print a GitHub token (assembled by the shell), and name one in their arguments
        var printed = await Server.ExecAsync(id, "echo \"token: ghp_$(printf '%s' abcdefghijklmnopqrstuvwxyz)0123456789\"");
        var inArguments = await Server.CallAsync("session_exec", new { session_id = id, command = "true", env = new Dictionary<string, string> { ["GH"] = GitHubToken } });
        await Server.CallAsync("session_write_file", new { session_id = id, path = "cfg.txt", content = $"token={GitHubToken}\n" });
        // ...and a command prints the session's own secret variable, and one exported by an earlier command
        var echoed = await Server.ExecAsync(id, "echo \"$API_TOKEN\"; export DB_PASSWORD=hunter2-exported-later");
        var echoedLater = await Server.ExecAsync(id, "echo \"pw is $DB_PASSWORD\"");
        var printedThenUnset = await Server.ExecAsync(id, "echo \"gone: $DB_PASSWORD\"; unset DB_PASSWORD");

        // Then the model saw the output, but neither value is anywhere in the store
        Assert.Contains(GitHubToken, printed.Text("stdout"), StringComparison.Ordinal);
        Assert.Equal(0, inArguments["exit_code"]!.GetValue<int>());
        Assert.Equal(EnvSecret + "\n", echoed.Text("stdout"));
        Assert.Contains("hunter2-exported-later", echoedLater.Text("stdout"), StringComparison.Ordinal);
        Assert.Contains("hunter2-exported-later", printedThenUnset.Text("stdout"), StringComparison.Ordinal);
        var export = await ServerCli.ExportTextAsync(fixture.DataDir);
        Assert.Contains(id, export, StringComparison.Ordinal);
        Assert.DoesNotContain(EnvSecret, export, StringComparison.Ordinal);
        Assert.DoesNotContain(GitHubToken, export, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-exported-later", export, StringComparison.Ordinal);
        var replay = (await Server.CallAsync("session_replay", new { session_id = id, include_output = "full" })).ToJsonString();
        Assert.DoesNotContain(EnvSecret, replay, StringComparison.Ordinal);
        Assert.DoesNotContain(GitHubToken, replay, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuditVerifyPassesOnAnIntactLogAndNamesTheFirstTamperedEvent()
    {
        // Given a log written by a server that has stopped
        using var dataDir = new TempDirectory("data");
        long tampered;
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            var id = await server.CreateSessionAsync(Backends.Local);
            await server.RunAsync(id, "echo one");
            tampered = (await server.ExecAsync(id, "echo two")).EventSeq();
            await server.RunAsync(id, "echo three");
        }

        // When it is verified intact
        var intact = await ServerCli.VerifyAsync(dataDir.Path);

        // Then verify succeeds
        Assert.True(intact.ExitCode == 0, intact.ToString());
        Assert.Contains("intact", intact.Stdout, StringComparison.Ordinal);

        // When one stored output is rewritten behind the server's back
        using (var connection = Open(dataDir.Path))
        {
            Execute(connection, "DROP TRIGGER events_are_append_only_update");
            Execute(connection, $"UPDATE events SET output = replace(output, 'two', 'TWO') WHERE seq = {tampered}");
        }
        var broken = await ServerCli.VerifyAsync(dataDir.Path);

        // Then verify fails and names that event
        Assert.True(broken.ExitCode == 1, broken.ToString());
        Assert.Contains($"event {tampered}", broken.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSchemaRefusesToUpdateOrDeleteEvents()
    {
        // Given a log with events
        using var dataDir = new TempDirectory("data");
        await using (var server = await ServerProcess.StartAsync(dataDir.Path))
        {
            await server.CreateSessionAsync(Backends.Local);
        }
        using var connection = Open(dataDir.Path);

        // When SQL tries to change or remove an event
        var update = Assert.Throws<SqliteException>(() => Execute(connection, "UPDATE events SET outcome = 'ok' WHERE seq = 1"));
        var delete = Assert.Throws<SqliteException>(() => Execute(connection, "DELETE FROM events WHERE seq = 1"));

        // Then both are refused by the schema
        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        Assert.Contains("append-only", delete.Message, StringComparison.Ordinal);
        connection.Close();
        var verify = await ServerCli.VerifyAsync(dataDir.Path);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task TheAdminCommandsListSessionsAndTailEvents()
    {
        // Given a session with a command
        var id = await Server.CreateSessionAsync(Backends.Local, name: "admin-view");
        await Server.RunAsync(id, "echo tail-me");

        // When / Then
        var sessions = await ServerCli.RunAsync(fixture.DataDir, ["sessions"]);
        Assert.True(sessions.ExitCode == 0, sessions.ToString());
        Assert.Contains(id, sessions.Stdout, StringComparison.Ordinal);
        Assert.Contains("admin-view", sessions.Stdout, StringComparison.Ordinal);
        var tail = await ServerCli.RunAsync(fixture.DataDir, ["audit", "tail", "-n", "200"]);
        Assert.True(tail.ExitCode == 0, tail.ToString());
        Assert.Contains("echo tail-me", tail.Stdout, StringComparison.Ordinal);
    }

    private static long EventSeqOf(string error)
    {
        var match = EventSeqPattern().Match(error);
        Assert.True(match.Success, $"the error does not name its event: {error}");
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static SqliteConnection Open(string dataDir)
    {
        SQLitePCL.Batteries_V2.Init();
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDir, "session-mcp.db"), Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [GeneratedRegex(@"\(event_seq (\d+)\)")]
    private static partial Regex EventSeqPattern();
}
