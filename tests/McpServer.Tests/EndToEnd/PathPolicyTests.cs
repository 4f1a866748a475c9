using SessionMcp.McpServer.Tests.Infrastructure;

namespace SessionMcp.McpServer.Tests.EndToEnd;

/// <summary>
/// Every way out of the workspace the issue names, tried through read, write and edit: each is refused with a clear
/// error and the target outside is left exactly as it was.
/// </summary>
public sealed class PathPolicyTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private const string OutsideContent = "outside secret\n";

    /// <summary>Escape attempts: how the session prepares it (a command run in the workspace root) and the path then used.</summary>
    private static readonly Dictionary<string, (string Setup, string Path)> Escapes = new()
    {
        ["dot-dot"] = ("", "../escape.txt"),
        ["dot-dot inside a path"] = ("mkdir -p src", "src/../../escape.txt"),
        ["absolute /etc/passwd"] = ("", "/etc/passwd"),
        ["absolute path of another directory"] = ("", "{outside}/target.txt"),
        ["NUL byte"] = ("", "notes\0.txt"),
        ["link to /etc/passwd"] = ("ln -s /etc/passwd leak", "leak"),
        ["link to /"] = ("ln -s / root", "root/etc/passwd"),
        ["link to .."] = ("ln -s .. up", "up/escape.txt"),
        ["relative link climbing out of a subdirectory"] = ("mkdir -p d && ln -s ../.. d/out", "d/out/escape.txt"),
        ["link to a directory outside"] = ("ln -s {outside} outdir", "outdir/target.txt"),
        ["chain of links ending outside"] = ("ln -s /etc/passwd c3 && ln -s c3 c2 && ln -s c2 chain", "chain"),
        ["link inside pointing at a link outside"] = ("mkdir -p sub && ln -s /etc sub/etc && ln -s sub/etc/passwd via", "via"),
    };

    private readonly TempDirectory _outside = new("outside");
    private readonly byte[] _passwdBefore = File.ReadAllBytes("/etc/passwd");

    private ServerProcess Server => fixture.Server;

    public static TheoryData<string, string> BackendsAndEscapes()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in Backends.Names)
        {
            foreach (var name in Escapes.Keys)
            {
                data.Add(backend, name);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BackendsAndEscapes))]
    public async Task AnEscapeAttemptIsRefusedByReadWriteAndEditAndLeavesTheOutsideUntouched(string backend, string escape)
    {
        // Given a session, a file outside its workspace, and whatever link the session's own command planted
        File.WriteAllText(Path.Combine(_outside.Path, "target.txt"), OutsideContent);
        var created = await Server.CallAsync("session_create", new { backend });
        var id = created.Text("session_id");
        var (setup, template) = Escapes[escape];
        if (setup.Length > 0)
        {
            await Server.RunAsync(id, setup.Replace("{outside}", _outside.Path, StringComparison.Ordinal));
        }
        var path = template.Replace("{outside}", _outside.Path, StringComparison.Ordinal);

        // When the file tools are pointed through it
        var read = await Server.CallErrorAsync("session_read_file", new { session_id = id, path });
        var write = await Server.CallErrorAsync("session_write_file", new { session_id = id, path, content = "pwned\n" });
        var edit = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path, old_string = "root", new_string = "pwned" });
        var editOutside = await Server.CallErrorAsync("session_edit_file", new { session_id = id, path, old_string = "outside", new_string = "pwned" });

        // Then each is refused, saying why
        foreach (var error in new[] { read, write, edit, editOutside })
        {
            Assert.True(
                error.Contains("outside the session workspace", StringComparison.Ordinal) || error.Contains("NUL byte", StringComparison.Ordinal),
                $"{escape}: unclear refusal: {error}");
        }

        // Then nothing outside changed
        Assert.Equal(_passwdBefore, File.ReadAllBytes("/etc/passwd"));
        Assert.Equal(OutsideContent, File.ReadAllText(Path.Combine(_outside.Path, "target.txt")));
        Assert.Equal(["target.txt"], Directory.GetFileSystemEntries(_outside.Path).Select(Path.GetFileName));
        if (backend == Backends.Local)
        {
            var workspaceParent = Path.GetDirectoryName(created.Text("workdir"))!;
            Assert.False(File.Exists(Path.Combine(workspaceParent, "escape.txt")), "a file was written next to the workspace");
            Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(workspaceParent)!, "escape.txt")), "a file was written two levels above the workspace");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task LinksThatStayInsideTheWorkspaceWork(string backend)
    {
        // Given links, relative and absolute, to a file and a directory inside the workspace
        var id = await Server.CreateSessionAsync(backend);
        await Server.RunAsync(id, "mkdir -p real && printf 'hello\\n' > real/f.txt && ln -s real/f.txt inlink && ln -s real indir && ln -s \"$PWD/real/f.txt\" abslink && mkdir -p a/b && ln -s ../../real a/b/up");

        // When the file tools go through them
        var viaRelative = await Server.CallAsync("session_read_file", new { session_id = id, path = "inlink" });
        var viaAbsolute = await Server.CallAsync("session_read_file", new { session_id = id, path = "abslink" });
        var viaClimb = await Server.CallAsync("session_read_file", new { session_id = id, path = "a/b/up/f.txt" });
        await Server.CallAsync("session_write_file", new { session_id = id, path = "indir/g.txt", content = "new\n" });
        await Server.CallAsync("session_edit_file", new { session_id = id, path = "inlink", old_string = "hello", new_string = "bye" });

        // Then they reach the real files, and the links stay links
        Assert.Contains("hello", viaRelative.Text("content"), StringComparison.Ordinal);
        Assert.Contains("hello", viaAbsolute.Text("content"), StringComparison.Ordinal);
        Assert.Contains("hello", viaClimb.Text("content"), StringComparison.Ordinal);
        Assert.Equal("new\nbye\nlink\n", await Server.RunAsync(id, "cat real/g.txt real/f.txt; [ -L inlink ] && echo link"));
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task AnAbsolutePathInsideTheWorkspaceIsAccepted(string backend)
    {
        // Given a file and the session's own absolute name for it
        var id = await Server.CreateSessionAsync(backend);
        var root = (await Server.RunAsync(id, "printf 'x\\n' > inside.txt && pwd")).TrimEnd('\n');

        // When / Then
        var read = await Server.CallAsync("session_read_file", new { session_id = id, path = $"{root}/inside.txt" });
        Assert.Equal(1, read["total_lines"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Backends.Names), MemberType = typeof(Backends))]
    public async Task ACwdOutsideTheWorkspaceIsRefused(string backend)
    {
        // Given a session
        var id = await Server.CreateSessionAsync(backend);

        // When / Then
        var error = await Server.CallErrorAsync("session_exec", new { session_id = id, command = "pwd", cwd = "../.." });
        Assert.Contains("outside the session workspace", error, StringComparison.Ordinal);
    }

    public void Dispose() => _outside.Dispose();
}
