using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SessionMcp.McpServer.Hosting;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// <c>session-mcp [serve]</c> runs the MCP server over stdio; <c>sessions</c>, <c>audit tail|export|verify</c> are
/// admin commands that read the same database.
/// </summary>
internal static class CommandLine
{
    private const string Usage = """
        usage: session-mcp [command] [options]
          serve                         run the MCP server over stdio (default)
          sessions                      list sessions
          audit tail [-n N]             show the last N events (default 20)
          audit export --format jsonl [--from SEQ]   write events as JSON lines to stdout
          audit verify                  check the hash chain; exit 1 at the first broken link
        options (each also as an environment variable):
          --data-dir DIR                SESSION_MCP_DATA_DIR   (default $XDG_DATA_HOME/session-mcp or ~/.local/share/session-mcp)
          --backend local|docker        SESSION_MCP_BACKEND    default backend of session_create (default local)
          --sync normal|full            SESSION_MCP_SYNC       full = fsync every event (survives power loss)
          --shell PATH                  SESSION_MCP_SHELL      shell of the local backend (default /bin/sh)
          --docker-host URI             DOCKER_HOST            Docker engine (default unix:///var/run/docker.sock)
          --docker-image NAME           SESSION_MCP_DOCKER_IMAGE  default image (default session-mcp/busybox:latest)
          --docker-allow-network true   SESSION_MCP_DOCKER_ALLOW_NETWORK  allow network: "bridge" sessions
          --source-roots DIR[:DIR]      SESSION_MCP_SOURCE_ROOTS  where source_dir may copy from (default: the working directory)
          --docker-orphan-grace SECONDS SESSION_MCP_DOCKER_ORPHAN_GRACE_SECONDS  reap unregistered containers older than this at start-up (default 60)
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var words = new List<string>();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
                return 0;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal) || arg == "-n")
            {
                var name = arg.TrimStart('-');
                var eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    options[name[..eq]] = name[(eq + 1)..];
                }
                else if (i + 1 < args.Length)
                {
                    options[name] = args[++i];
                }
                else
                {
                    await stderr.WriteLineAsync($"session-mcp: option {arg} needs a value\n{Usage}").ConfigureAwait(false);
                    return 2;
                }
                continue;
            }
            words.Add(arg);
        }

        ServerSettings settings;
        try
        {
            settings = ServerSettings.Resolve(options, Environment.GetEnvironmentVariable);
        }
        catch (ArgumentException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        var command = string.Join(' ', words);
        return command switch
        {
            "" or "serve" => await ServeAsync(settings, cancellationToken).ConfigureAwait(false),
            "sessions" => WithCore(settings, services => ListSessions(services, stdout)),
            "audit tail" => WithCore(settings, services => Tail(services, stdout, options)),
            "audit export" => WithCore(settings, services => Export(services, stdout, stderr, options)),
            "audit verify" => WithCore(settings, services => Verify(services, stdout, stderr)),
            _ => await Unknown(command, stderr).ConfigureAwait(false),
        };
    }

    private static async Task<int> ServeAsync(ServerSettings settings, CancellationToken cancellationToken)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        // stdout is the protocol: every log line goes to stderr.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information);
        builder.Services.AddSessionCore(settings).AddSessionMcpServer();
        using var host = builder.Build();
        await host.Services.GetRequiredService<SessionRouter>().ResumeAllAsync(cancellationToken).ConfigureAwait(false);
        await host.RunAsync(cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static int WithCore(ServerSettings settings, Func<IServiceProvider, int> run)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSessionCore(settings);
        using var provider = services.BuildServiceProvider();
        return run(provider);
    }

    private static int ListSessions(IServiceProvider services, TextWriter stdout)
    {
        var sessions = services.GetRequiredService<SessionRegistry>().List();
        stdout.WriteLine($"{"ID",-11} {"BACKEND",-7} {"STATUS",-8} {"CREATED",-20} {"LAST ACTIVITY",-20} {"NAME",-16} CWD");
        foreach (var s in sessions)
        {
            stdout.WriteLine($"{s.Id,-11} {s.Backend,-7} {s.StatusText,-8} {s.CreatedAt:yyyy-MM-dd HH:mm:ss}  {s.LastActivityAt:yyyy-MM-dd HH:mm:ss}  {s.Name ?? "-",-16} {s.Cwd}");
        }
        if (sessions.Count == 0)
        {
            stdout.WriteLine("(no sessions)");
        }
        return 0;
    }

    private static int Tail(IServiceProvider services, TextWriter stdout, Dictionary<string, string> options)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var count = options.TryGetValue("n", out var n) && int.TryParse(n, out var parsed) && parsed > 0 ? parsed : 20;
        var events = audit.ReadRange(Math.Max(1, audit.LastSeq() - count + 1), count);
        stdout.Write(Transcript.Render(events, OutputDetail.None));
        return 0;
    }

    private static int Export(IServiceProvider services, TextWriter stdout, TextWriter stderr, Dictionary<string, string> options)
    {
        if (!options.TryGetValue("format", out var format) || format != "jsonl")
        {
            stderr.WriteLine("session-mcp: audit export needs --format jsonl");
            return 2;
        }
        var audit = services.GetRequiredService<AuditLog>();
        var from = options.TryGetValue("from", out var f) && long.TryParse(f, out var parsed) ? parsed : 1;
        while (true)
        {
            var page = audit.ReadRange(from, 1000);
            foreach (var e in page)
            {
                var line = new JsonObject
                {
                    ["seq"] = e.Seq,
                    ["time"] = HashChain.FormatTime(e.Entry.Time),
                    ["session_id"] = e.Entry.SessionId,
                    ["kind"] = e.Entry.Kind,
                    ["tool"] = e.Entry.Tool,
                    ["client"] = e.Entry.Client,
                    ["arguments"] = Transcript.Parse(e.Entry.Arguments),
                    ["outcome"] = e.Entry.Outcome,
                    ["error"] = e.Entry.Error,
                    ["summary"] = Transcript.Parse(e.Entry.Summary),
                    ["duration_ms"] = e.Entry.DurationMs,
                    ["output"] = Transcript.Parse(e.Entry.Output),
                    ["prev_hash"] = e.PrevHash,
                    ["hash"] = e.Hash,
                };
                stdout.WriteLine(line.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            }
            if (page.Count < 1000)
            {
                return 0;
            }
            from = page[^1].Seq + 1;
        }
    }

    private static int Verify(IServiceProvider services, TextWriter stdout, TextWriter stderr)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var (count, chainBreak) = audit.Verify();
        if (chainBreak is null)
        {
            // The head hash commits to the whole log: recorded elsewhere, it also exposes a log rewritten from scratch.
            var head = count == 0 ? HashChain.Genesis : audit.ReadRange(audit.LastSeq(), 1)[0].Hash;
            stdout.WriteLine($"audit chain intact: {count} events verified; head hash {head}");
            return 0;
        }
        stderr.WriteLine($"audit chain BROKEN at event {chainBreak.Seq}: {chainBreak.Reason}");
        return 1;
    }

    private static async Task<int> Unknown(string command, TextWriter stderr)
    {
        await stderr.WriteLineAsync($"session-mcp: unknown command '{command}'\n{Usage}").ConfigureAwait(false);
        return 2;
    }
}
