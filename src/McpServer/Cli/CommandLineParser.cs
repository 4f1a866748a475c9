using System.Globalization;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Cli;

/// <summary>What a command line asks for: help, the version, a command, or nothing valid (with the reason).</summary>
internal abstract record ParsedCommandLine;

internal sealed record HelpRequested : ParsedCommandLine;

internal sealed record VersionRequested : ParsedCommandLine;

/// <summary>A command to run.</summary>
/// <param name="Name"><c>serve</c>, <c>sessions</c>, <c>audit tail</c>, <c>audit export</c> or <c>audit verify</c>.</param>
/// <param name="Settings">The server settings given as flags, by name without dashes (<c>data-dir</c>); see <see cref="Hosting.ServerSettings"/>.</param>
/// <param name="Count"><c>audit tail -n</c>.</param>
/// <param name="Session"><c>audit tail --session</c>, <c>audit export --session</c>.</param>
/// <param name="Follow"><c>audit tail --follow</c>.</param>
/// <param name="From"><c>audit export --from</c>.</param>
/// <param name="ExpectSeq"><c>audit verify --expect-seq</c>: the log must hold this event.</param>
/// <param name="ExpectHead"><c>audit verify --expect-head</c>: the hash that event (or, alone, some event) must have; lowercase.</param>
internal sealed record CommandRequested(
    string Name,
    IReadOnlyDictionary<string, string> Settings,
    int Count = 20,
    string? Session = null,
    bool Follow = false,
    long From = 1,
    long? ExpectSeq = null,
    string? ExpectHead = null) : ParsedCommandLine
{
    /// <summary><c>terminal export</c>: the session and the terminal; <c>token revoke</c>: the token's name.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary><c>token create --name</c>, already checked against <see cref="TokenStore.NameProblem"/>.</summary>
    public string? TokenName { get; init; }

    /// <summary><c>token create --scope</c> (default full).</summary>
    public AccessScope TokenScope { get; init; } = AccessScope.Full;

    /// <summary><c>token create --expires-in</c>: how long the token authenticates (null: until revoked).</summary>
    public TimeSpan? TokenLifetime { get; init; }
    /// <summary><c>serve --daemon</c>: auto, never or require; null when not given (the environment or the default decides).</summary>
    public string? Daemon { get; init; }

    /// <summary><c>audit prune</c>: what to remove (its limits already parsed).</summary>
    public RetentionPolicy? Retention { get; init; }

    /// <summary><c>audit prune --dry-run</c>: report what would go, remove nothing; <c>apply --dry-run</c>: show the plan, write nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary><c>attach --write</c>: the person's keys go to the terminal.</summary>
    public bool Write { get; init; }

    /// <summary><c>audit export --format</c>: <see cref="CommandLineParser.ExportFormat"/> (default) or <see cref="CommandLineParser.MarkdownFormat"/>.</summary>
    public string Format { get; init; } = CommandLineParser.ExportFormat;

    /// <summary><c>export --format git --branch</c>: the branch to create (null: session-mcp/SESSION).</summary>
    public string? Branch { get; init; }

    /// <summary><c>export --force</c>: move an existing branch.</summary>
    public bool Force { get; init; }


    /// <summary><c>apply --merge</c>: three-way merge text files the source changed too.</summary>
    public bool Merge { get; init; }

    /// <summary><c>daemon --http</c>: also serve MCP over Streamable HTTP.</summary>
    public bool Http { get; init; }

    /// <summary><c>daemon --urls</c>: where to serve it (implies <c>--http</c>); null: the environment or the default.</summary>
    public string? HttpUrls { get; init; }

    /// <summary><c>daemon --http-allow-remote</c>: a URL may bind a non-loopback address.</summary>
    public bool HttpAllowRemote { get; init; }
}

/// <summary>A command line that cannot run; <see cref="Message"/> says what to type instead.</summary>
internal sealed record CommandLineError(string Message) : ParsedCommandLine;

/// <summary>
/// Turns arguments into a <see cref="ParsedCommandLine"/>, strictly: an unknown flag, a flag without its value, an option
/// the command does not take or a bad value is an error, never a silent default — a typo must not quietly point an
/// admin command at another data directory.
/// </summary>
internal static class CommandLineParser
{
    public const string Serve = "serve";
    public const string Sessions = "sessions";
    public const string AuditTail = "audit tail";
    public const string AuditExport = "audit export";
    public const string AuditVerify = "audit verify";
    public const string AuditPrune = "audit prune";
    public const string TerminalExport = "terminal export";
    public const string Attach = "attach";
    public const string Jobs = "jobs";
    public const string Export = "export";
    public const string Apply = "apply";
    public const string PatchFormat = "patch";
    public const string GitFormat = "git";
    public const string Daemon = "daemon";
    public const string DaemonStop = "daemon stop";
    public const string DaemonStatus = "daemon status";
    public const string ExportFormat = "jsonl";
    public const string MarkdownFormat = "markdown";
    public const string TokenCreate = "token create";
    public const string TokenList = "token list";
    public const string TokenRevoke = "token revoke";

    private static readonly string[] Commands = [Serve, Sessions, AuditTail, AuditExport, AuditVerify, AuditPrune, TerminalExport, TokenCreate, TokenList, TokenRevoke, Daemon, DaemonStop, DaemonStatus, Attach, Jobs, Export, Apply];

    /// <summary>
    /// Every flag, whether it takes a value, and which commands take it (null: all of them — the server settings, since
    /// every command opens the same data directory). A flag without a value never consumes the next word.
    /// </summary>
    private static readonly Flag[] Flags =
    [
        new("--data-dir", "DIR", null),
        new("--backend", "local|docker", null),
        new("--sync", "normal|full", null),
        new("--shell", "PATH", null),
        new("--docker-host", "URI", null),
        new("--docker-image", "NAME", null),
        new("--docker-allow-network", "true|false", null),
        new("--source-roots", "DIR[:DIR]", null),
        new("--docker-orphan-grace", "SECONDS", null),
        new("--docker-pool-size", "N", null),
        new("--docker-pool-memory-mb", "MIB", null),
        new("--result-budget", "CHARS", null),
        new("--history", "on|off", null),
        new("--history-ignore", "PATTERNS", null),
        new("--history-max-file-bytes", "BYTES", null),
        new("--retain-outputs", "AGE", null),
        new("--retain-events", "AGE", null),
        new("--retain-bytes", "SIZE", null),
        new("--idle-after", "SECONDS", null),
        new("--hibernate-after", "SECONDS", null),
        new("--health-interval", "SECONDS", null),
        new("--disk-mb", "MIB", null),
        new("--max-sessions", "N", null),
        new("--max-sessions-per-owner", "N", null),
        new("-n", "N", [AuditTail]),
        new("--session", "ID", [AuditTail, AuditExport, AuditPrune]),
        new("--follow", null, [AuditTail]),
        new("--format", $"{ExportFormat}|{MarkdownFormat} (audit export), {PatchFormat}|{GitFormat} (export)", [AuditExport, Export]),
        new("--branch", "NAME", [Export]),
        new("--force", null, [Export]),
        new("--merge", null, [Apply]),
        new("--from", "SEQ", [AuditExport]),
        new("--expect-seq", "N", [AuditVerify]),
        new("--expect-head", "HASH", [AuditVerify]),
        new("--older-than", "AGE", [AuditPrune]),
        new("--max-bytes", "SIZE", [AuditPrune]),
        new("--max-session-bytes", "SIZE", [AuditPrune]),
        new("--outputs-only", null, [AuditPrune]),
        new("--dry-run", null, [AuditPrune, Apply]),
        new("--name", "NAME", [TokenCreate]),
        new("--scope", AccessScopes.Choices, [TokenCreate]),
        new("--expires-in", "AGE", [TokenCreate]),
        new("--daemon", "auto|never|require", [Serve]),
        new("--write", null, [Attach]),
        new("--http", null, [Daemon]),
        new("--urls", "URL[;URL]", [Daemon]),
        new("--http-allow-remote", null, [Daemon]),
        new("--version", null, []),
        new("--help", null, []),
        new("-h", null, []),
    ];

    public static ParsedCommandLine Parse(IReadOnlyList<string> args)
    {
        // Asking for help or the version always works, whatever else is on the line.
        if (args.Any(a => a is "-h" or "--help"))
        {
            return new HelpRequested();
        }
        if (args.Contains("--version"))
        {
            return new VersionRequested();
        }

        var words = new List<string>();
        var given = new Dictionary<Flag, string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!LooksLikeFlag(arg))
            {
                words.Add(arg);
                continue;
            }
            var equals = arg.StartsWith("--", StringComparison.Ordinal) ? arg.IndexOf('=', StringComparison.Ordinal) : -1;
            var name = equals < 0 ? arg : arg[..equals];
            var inline = equals < 0 ? null : arg[(equals + 1)..];
            var flag = Flags.FirstOrDefault(f => f.Name == name);
            if (flag is null)
            {
                return new CommandLineError($"unknown option {name}{DidYouMean(name, Flags.Select(f => f.Name))}");
            }

            string value;
            if (flag.Value is null)
            {
                if (inline is not null)
                {
                    return new CommandLineError($"{name} takes no value (got '{inline}')");
                }
                value = "true";
            }
            else if (inline is not null)
            {
                if (inline.Length == 0)
                {
                    return new CommandLineError($"{name} needs a value: {name} {flag.Value}");
                }
                value = inline;
            }
            else if (i + 1 < args.Count && !LooksLikeFlag(args[i + 1]))
            {
                value = args[++i];
            }
            else
            {
                var next = i + 1 < args.Count ? $", but the next word is the option {args[i + 1]} (write {name}=VALUE for a value that starts with '-')" : "";
                return new CommandLineError($"{name} needs a value: {name} {flag.Value}{next}");
            }
            if (!given.TryAdd(flag, value))
            {
                return new CommandLineError($"{name} is given twice");
            }
        }

        // The one command with words of its own: terminal export SESSION TERMINAL.
        var positional = words.Count >= 2 && words[0] == "terminal" && words[1] == "export" ? words[2..] : [];
        if (positional.Count > 0 || (words.Count == 2 && words[0] == "terminal" && words[1] == "export"))
        {
            if (positional.Count != 2)
            {
                return new CommandLineError("terminal export needs the session and the terminal: session-mcp terminal export SESSION TERMINAL > terminal.cast");
            }
            words = ["terminal", "export"];
        }
        // token revoke NAME: the name is a word of its own, as git branch -d takes one.
        if (words.Count >= 2 && words[0] == "token" && words[1] == "revoke")
        {
            if (words.Count != 3)
            {
                return new CommandLineError("token revoke needs the token's name: session-mcp token revoke NAME ('session-mcp token list' shows them)");
            }
            positional = [words[2]];
            words = ["token", "revoke"];
        }
        // jobs SESSION.
        if (words.Count >= 1 && words[0] == Jobs)
        {
            if (words.Count != 2)
            {
                return new CommandLineError("jobs needs the session: session-mcp jobs SESSION");
            }
            positional = [words[1]];
            words = [Jobs];
        }
        // export SESSION, apply SESSION.
        if (words.Count >= 1 && words[0] is Export or Apply)
        {
            if (words.Count != 2)
            {
                return new CommandLineError(words[0] == Export
                    ? "export needs the session: session-mcp export SESSION [--format patch|git] [--branch NAME] [--force]"
                    : "apply needs the session: session-mcp apply SESSION [--dry-run] [--merge]");
            }
            positional = [words[1]];
            words = [words[0]];
        }
        // attach SESSION [TERMINAL].
        if (words.Count >= 1 && words[0] == Attach)
        {
            if (words.Count is < 2 or > 3)
            {
                return new CommandLineError("attach needs the session (and the terminal, when it has several): session-mcp attach SESSION [TERMINAL] [--write]");
            }
            positional = words[1..];
            words = [Attach];
        }
        var command = words.Count == 0 ? Serve : string.Join(' ', words);
        if (!Commands.Contains(command))
        {
            var known = Commands.FirstOrDefault(c => command.StartsWith(c + " ", StringComparison.Ordinal));
            return new CommandLineError(
                command == "audit" ? "audit needs a subcommand: audit tail, audit export, audit verify or audit prune"
                : command == "token" ? "token needs a subcommand: token create, token list or token revoke"
                : command.StartsWith(Daemon + " ", StringComparison.Ordinal) ? $"unknown daemon command '{command[(Daemon.Length + 1)..]}': session-mcp daemon (run it), daemon stop or daemon status"
                : known is not null ? $"{known} takes no word '{command[(known.Length + 1)..]}'"
                : $"unknown command '{command}'{DidYouMean(command, Commands)}");
        }
        if (given.Keys.FirstOrDefault(f => f.Commands is not null && !f.Commands.Contains(command)) is { } misplaced)
        {
            return new CommandLineError($"{misplaced.Name} is an option of {misplaced.Commands![0]}, not of {command}");
        }

        var settings = given.Where(g => g.Key.Commands is null).ToDictionary(g => g.Key.Name.TrimStart('-'), g => g.Value, StringComparer.Ordinal);
        string? Given(string name) => given.FirstOrDefault(g => g.Key.Name == name).Value;
        var parsed = new CommandRequested(command, settings) { Arguments = positional };

        if (Given("-n") is { } n)
        {
            if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
            {
                return new CommandLineError($"-n must be a whole number of events, 1 or more (got '{n}')");
            }
            parsed = parsed with { Count = count };
        }
        if (Given("--from") is { } from)
        {
            if (!long.TryParse(from, NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || seq < 1)
            {
                return new CommandLineError($"--from must be an event sequence number, 1 or more (got '{from}')");
            }
            parsed = parsed with { From = seq };
        }
        if (Given("--expect-seq") is { } expectSeq)
        {
            if (!long.TryParse(expectSeq, NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                return new CommandLineError($"--expect-seq must be an event sequence number, 0 or more (got '{expectSeq}')");
            }
            parsed = parsed with { ExpectSeq = seq };
        }
        if (Given("--expect-head") is { } expectHead)
        {
            if (expectHead.Length != 64 || !expectHead.All(char.IsAsciiHexDigit))
            {
                return new CommandLineError($"--expect-head must be a head hash as audit verify prints it, 64 hex digits (got '{expectHead}')");
            }
            parsed = parsed with { ExpectHead = expectHead.ToLowerInvariant() };
        }
        if (command == Export)
        {
            var exportFormat = Given("--format") ?? PatchFormat;
            if (exportFormat is not (PatchFormat or GitFormat))
            {
                return new CommandLineError($"--format of export must be {PatchFormat} (a patch on stdout) or {GitFormat} (a branch in the source's repository) (got '{exportFormat}')");
            }
            parsed = parsed with { Format = exportFormat, Branch = Given("--branch"), Force = Given("--force") is not null };
            if (exportFormat == PatchFormat && (parsed.Branch is not null || parsed.Force))
            {
                return new CommandLineError("--branch and --force belong to export --format git");
            }
        }
        else if (Given("--format") is { } format)
        {
            if (format is not (ExportFormat or MarkdownFormat))
            {
                return new CommandLineError($"--format must be {ExportFormat} (events as JSON lines) or {MarkdownFormat} (a report per session to review) (got '{format}')");
            }
            parsed = parsed with { Format = format };
        }
        if (command == AuditPrune)
        {
            var policy = new RetentionPolicy(SessionId: Given("--session"), OutputsOnly: Given("--outputs-only") is not null);
            if (Given("--older-than") is { } olderThan)
            {
                if (!RetentionPolicy.TryParseAge(olderThan, out var age))
                {
                    return new CommandLineError($"--older-than must be an age: a whole number and s, m, h, d or w, e.g. 30d (got '{olderThan}')");
                }
                policy = policy with { OlderThan = age };
            }
            foreach (var name in new[] { "--max-bytes", "--max-session-bytes" })
            {
                if (Given(name) is { } sizeText)
                {
                    if (!RetentionPolicy.TryParseSize(sizeText, out var size))
                    {
                        return new CommandLineError($"{name} must be a size: bytes, or a whole number with K, M, G or T, e.g. 1G (got '{sizeText}')");
                    }
                    policy = name == "--max-bytes" ? policy with { MaxBytes = size } : policy with { MaxSessionBytes = size };
                }
            }
            if (!policy.HasLimit)
            {
                return new CommandLineError("audit prune needs a limit: --older-than AGE, --max-bytes SIZE or --max-session-bytes SIZE (add --dry-run to see what would go)");
            }
            parsed = parsed with { Retention = policy, DryRun = Given("--dry-run") is not null };
        }
        if (command == TokenCreate)
        {
            if (Given("--name") is not { } tokenName)
            {
                return new CommandLineError("token create needs a name: session-mcp token create --name NAME [--scope full|read|admin] [--expires-in AGE]");
            }
            if (TokenStore.NameProblem(tokenName) is { } problem)
            {
                return new CommandLineError(problem);
            }
            parsed = parsed with { TokenName = tokenName };
            if (Given("--scope") is { } scopeText)
            {
                if (!AccessScopes.TryParse(scopeText, out var scope))
                {
                    return new CommandLineError($"--scope must be full, read or admin (got '{scopeText}')");
                }
                parsed = parsed with { TokenScope = scope };
            }
            if (Given("--expires-in") is { } expiresIn)
            {
                if (!RetentionPolicy.TryParseAge(expiresIn, out var lifetime) || lifetime <= TimeSpan.Zero)
                {
                    return new CommandLineError($"--expires-in must be an age: a whole number and s, m, h, d or w, e.g. 90d (got '{expiresIn}')");
                }
                if (lifetime > TokenStore.MaxLifetime)
                {
                    return new CommandLineError($"--expires-in must be at most {TokenStore.MaxLifetime.TotalDays:0}d (100 years; leave it out for a token that lasts until revoked)");
                }
                parsed = parsed with { TokenLifetime = lifetime };
            }
        }
        if (Given("--daemon") is { } daemon)
        {
            if (daemon is not ("auto" or "never" or "require"))
            {
                return new CommandLineError($"--daemon must be auto, never or require (got '{daemon}')");
            }
            parsed = parsed with { Daemon = daemon };
        }
        parsed = parsed with { Http = Given("--http") is not null, HttpUrls = Given("--urls"), HttpAllowRemote = Given("--http-allow-remote") is not null };
        return parsed with
        {
            Session = Given("--session"), Follow = Given("--follow") is not null, Write = Given("--write") is not null,
            DryRun = Given("--dry-run") is not null, Merge = Given("--merge") is not null,
        };
    }

    /// <summary>"; did you mean X?" when one candidate is a likely typo of <paramref name="typed"/>, else nothing.</summary>
    internal static string DidYouMean(string typed, IEnumerable<string> candidates)
    {
        var bare = typed.TrimStart('-');
        var closest = candidates
            .Select(c => (Candidate: c, Distance: EditDistance(bare, c.TrimStart('-'))))
            .OrderBy(c => c.Distance)
            .FirstOrDefault();
        // Two edits (a transposition counts as one) is a typo; more is a different word.
        var limit = bare.Length <= 4 ? 1 : 2;
        return closest.Candidate is not null && closest.Distance <= limit && closest.Distance < bare.Length ? $"; did you mean {closest.Candidate}?" : "";
    }

    // "-5" is a (bad) value for -n, not a flag; "-" alone is a word.
    private static bool LooksLikeFlag(string word) => word.Length > 1 && word[0] == '-' && !char.IsAsciiDigit(word[1]);

    /// <summary>Edits (insert, delete, substitute, swap two neighbours) that turn <paramref name="a"/> into <paramref name="b"/>.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    /// <param name="Value">What the value looks like in messages (<c>DIR</c>); null for a flag that takes none.</param>
    /// <param name="Commands">The commands that take the flag; null for all.</param>
    private sealed record Flag(string Name, string? Value, string[]? Commands);
}
