using System.Globalization;
using SessionMcp.Containers.Local.Native;

namespace SessionMcp.Containers.Local;

/// <summary>How a cgroup hierarchy can kill what it holds.</summary>
internal enum CgroupKind
{
    /// <summary>cgroup v2: <c>cgroup.kill</c> (Linux 5.14+) or <c>cgroup.freeze</c>.</summary>
    V2,

    /// <summary>cgroup v1 freezer: freeze, kill, thaw.</summary>
    V1Freezer,

    /// <summary>cgroup v1 pids: the limit, and a kill loop (the limit bounds what can fork meanwhile).</summary>
    V1Pids,
}

/// <summary>A writable cgroup hierarchy: <paramref name="Root"/> is the server's directory in it (<c>…/session-mcp</c>).</summary>
internal sealed record CgroupHierarchy(string Root, CgroupKind Kind, bool HasPidsLimit);

/// <summary>
/// A cgroup per session (<c>session-mcp/&lt;session&gt;</c>) and one per command inside it, in every writable hierarchy the
/// server found: one that tracks and kills (v2, else the v1 freezer, else v1 pids), and one that limits the session's
/// processes (v2 with the pids controller, else v1 pids). A process cannot leave its cgroup by <c>setsid</c>, by
/// dropping a variable or by being orphaned, so a timeout or a destroy reaches all of it. (A command running as root
/// could still write itself into another cgroup: the local backend is a convenience, not an isolation boundary.)
/// </summary>
internal sealed class SessionCgroups
{
    private const string DirectoryName = "session-mcp";
    private static readonly TimeSpan KillDeadline = TimeSpan.FromSeconds(5);

    // Per session: its cgroups exist, and how many forks its process limit had refused when last looked at. Cached so
    // a command costs one mkdir and one rmdir per hierarchy, not a round of stat and reads of cgroupfs.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _limitRefusals = new(StringComparer.Ordinal);

    private SessionCgroups(IReadOnlyList<CgroupHierarchy> hierarchies, long pidsLimit)
    {
        Hierarchies = hierarchies;
        PidsLimit = pidsLimit;
    }

    /// <summary>Empty when no hierarchy is writable; then commands get <see cref="SweptCommandProcesses"/>.</summary>
    public IReadOnlyList<CgroupHierarchy> Hierarchies { get; }

    /// <summary>The per-session process limit (pids.max), 0 for none, or when no hierarchy has the pids controller.</summary>
    public long PidsLimit { get; }

    public bool Available => Hierarchies.Count > 0;

    /// <summary>What was found, for the start-up log.</summary>
    public string Description => Available
        ? string.Join(", ", Hierarchies.Select(h => $"{h.Root} ({h.Kind}{(h.HasPidsLimit ? $", pids.max {PidsLimit}" : "")})"))
        : "no writable cgroup hierarchy";

    /// <summary>
    /// Finds the writable hierarchies in <paramref name="mountInfo"/> (the text of /proc/self/mountinfo) and creates the
    /// server's directory in each. <paramref name="pidsLimit"/> 0 sets no process limit.
    /// </summary>
    public static SessionCgroups Detect(string mountInfo, long pidsLimit)
    {
        var v2 = new List<string>();
        var v1 = new List<(string MountPoint, string[] Options)>();
        foreach (var line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            var before = line[..separator].Split(' ');
            var after = line[(separator + 3)..].Split(' ');
            if (before.Length < 5 || after.Length < 3)
            {
                continue;
            }
            var mountPoint = before[4].Replace("\\040", " ", StringComparison.Ordinal);
            if (after[0] == "cgroup2")
            {
                v2.Add(mountPoint);
            }
            else if (after[0] == "cgroup")
            {
                v1.Add((mountPoint, after[2].Split(',')));
            }
        }

        var hierarchies = new List<CgroupHierarchy>();
        // The tracker: v2 (at /sys/fs/cgroup on a v2 host, at /sys/fs/cgroup/unified on a hybrid one), else a v1 freezer.
        var tracker = v2.OrderBy(m => m == "/sys/fs/cgroup" ? 0 : 1).Select(m => TryOpen(m, CgroupKind.V2, pidsLimit)).FirstOrDefault(h => h is not null)
            ?? v1.Where(m => m.Options.Contains("freezer")).Select(m => TryOpen(m.MountPoint, CgroupKind.V1Freezer, 0)).FirstOrDefault(h => h is not null);
        if (tracker is not null)
        {
            hierarchies.Add(tracker);
        }
        if (pidsLimit > 0 && tracker is not { HasPidsLimit: true }
            && v1.Where(m => m.Options.Contains("pids")).Select(m => TryOpen(m.MountPoint, CgroupKind.V1Pids, pidsLimit)).FirstOrDefault(h => h is not null) is { } pids)
        {
            hierarchies.Add(pids);
        }
        return new SessionCgroups(hierarchies, hierarchies.Any(h => h.HasPidsLimit) ? pidsLimit : 0);
    }

    /// <summary>Reads /proc/self/mountinfo and detects; no cgroups when it cannot be read.</summary>
    public static SessionCgroups Detect(long pidsLimit)
    {
        try
        {
            return Detect(File.ReadAllText("/proc/self/mountinfo"), pidsLimit);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SessionCgroups([], 0);
        }
    }

    /// <summary>
    /// Creates the command's cgroups (and its session's, with the process limit, when missing). Null when that fails
    /// (say, the hierarchy was unmounted): the caller falls back to the sweep.
    /// </summary>
    public CommandCgroup? TryCreateCommand(string sessionId, string commandId)
    {
        if (!Available)
        {
            return null;
        }
        var created = new List<string>();
        try
        {
            var known = _limitRefusals.ContainsKey(sessionId);
            foreach (var hierarchy in Hierarchies)
            {
                var session = Path.Combine(hierarchy.Root, sessionId);
                if (!known && !Directory.Exists(session))
                {
                    Directory.CreateDirectory(session);
                    if (hierarchy.HasPidsLimit)
                    {
                        Write(Path.Combine(session, "pids.max"), PidsLimit.ToString(CultureInfo.InvariantCulture));
                    }
                }
                var command = Path.Combine(session, commandId);
                Directory.CreateDirectory(command);
                created.Add(command);
            }
            _limitRefusals.TryAdd(sessionId, LimitRefusals(sessionId));
            return new CommandCgroup(this, sessionId, created);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var directory in created)
            {
                TryRemove(directory);
            }
            return null;
        }
    }

    /// <summary>
    /// Whether a fork of the session was refused by its process limit since this was last asked (kernels count it in
    /// the forking task's cgroup, older, or in the one whose limit was hit, newer: <paramref name="command"/> is the former).
    /// </summary>
    internal bool LimitRefusedSince(string sessionId, string? command)
    {
        var now = LimitRefusals(sessionId);
        var before = _limitRefusals.TryGetValue(sessionId, out var seen) ? seen : 0;
        _limitRefusals[sessionId] = now;
        return now > before || (command is not null && CommandCgroup.ReadMaxEvents(command) > 0);
    }

    private long LimitRefusals(string sessionId) =>
        Hierarchies.FirstOrDefault(h => h.HasPidsLimit) is { } pids ? CommandCgroup.ReadMaxEvents(Path.Combine(pids.Root, sessionId)) : 0;

    /// <summary>Kills every process of the session (all its commands, background ones included) and removes its cgroups.</summary>
    public async Task<int> KillSessionAsync(string sessionId, CancellationToken cancellationToken)
    {
        _limitRefusals.TryRemove(sessionId, out _);
        var killed = 0;
        foreach (var hierarchy in Hierarchies)
        {
            var session = Path.Combine(hierarchy.Root, sessionId);
            if (Directory.Exists(session))
            {
                killed += await KillAsync(hierarchy.Kind, session, cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var hierarchy in Hierarchies)
        {
            RemoveTree(Path.Combine(hierarchy.Root, sessionId));
        }
        return killed;
    }

    /// <summary>
    /// Kills everything in <paramref name="directory"/> and below, repeating until it is empty (or the deadline passes).
    /// v2 kills atomically with cgroup.kill; otherwise the group is frozen first so nothing forks between reading the
    /// pids and killing them.
    /// </summary>
    internal static async Task<int> KillAsync(CgroupKind kind, string directory, CancellationToken cancellationToken)
    {
        var killed = 0;
        var deadline = DateTime.UtcNow + KillDeadline;
        while (true)
        {
            var pids = ReadProcs(directory);
            if (pids.Count == 0 || DateTime.UtcNow > deadline)
            {
                return killed;
            }
            killed = Math.Max(killed, pids.Count);
            if (kind == CgroupKind.V2 && File.Exists(Path.Combine(directory, "cgroup.kill")))
            {
                TryWrite(Path.Combine(directory, "cgroup.kill"), "1");
            }
            else
            {
                var freeze = kind switch
                {
                    CgroupKind.V2 => (File: "cgroup.freeze", Frozen: "1", Thawed: "0"),
                    CgroupKind.V1Freezer => (File: "freezer.state", Frozen: "FROZEN", Thawed: "THAWED"),
                    _ => (File: "", Frozen: "", Thawed: ""),
                };
                var frozen = freeze.File.Length > 0 && TryWrite(Path.Combine(directory, freeze.File), freeze.Frozen);
                foreach (var pid in ReadProcs(directory))
                {
                    LibC.kill(pid, LibC.SIGKILL);
                }
                if (frozen)
                {
                    // SIGKILL reaches a frozen task once it thaws; a v1 freezer is hierarchical, so this thaws the subtree.
                    TryWrite(Path.Combine(directory, freeze.File), freeze.Thawed);
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(2), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The pids in <paramref name="directory"/> and every cgroup below it.</summary>
    internal static List<int> ReadProcs(string directory)
    {
        var pids = new List<int>();
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(directory, "cgroup.procs")))
            {
                if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId)
                {
                    pids.Add(pid);
                }
            }
            foreach (var child in Directory.EnumerateDirectories(directory))
            {
                pids.AddRange(ReadProcs(child));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Removed meanwhile.
        }
        return pids;
    }

    /// <summary>Removes a cgroup directory and those below it (cgroupfs removes only empty cgroups, with rmdir).</summary>
    internal static void RemoveTree(string directory)
    {
        try
        {
            foreach (var child in Directory.EnumerateDirectories(directory))
            {
                RemoveTree(child);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        TryRemove(directory);
    }

    /// <summary>rmdir; false while the cgroup still holds a process (EBUSY) or is gone.</summary>
    internal static bool TryRemove(string directory)
    {
        try
        {
            Directory.Delete(directory);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    internal static bool TryWrite(string file, string value)
    {
        try
        {
            Write(file, value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Write(string file, string value)
    {
        // cgroupfs files exist already and take one write; no truncation or creation.
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        stream.Write(System.Text.Encoding.ASCII.GetBytes(value));
    }

    private static CgroupHierarchy? TryOpen(string mountPoint, CgroupKind kind, long pidsLimit)
    {
        var root = Path.Combine(mountPoint, DirectoryName);
        try
        {
            Directory.CreateDirectory(root);
            // A v2 hierarchy limits processes only when the pids controller reaches the session directories: enabled in
            // the mount root's subtree_control (allowed on the real root, refused on a cgroup that holds processes) and
            // then in ours.
            var hasPids = kind == CgroupKind.V1Pids && pidsLimit > 0;
            if (kind == CgroupKind.V2 && pidsLimit > 0)
            {
                var pidsReachRoot = ReadWords(Path.Combine(root, "cgroup.controllers")).Contains("pids")
                    || (ReadWords(Path.Combine(mountPoint, "cgroup.controllers")).Contains("pids") && TryWrite(Path.Combine(mountPoint, "cgroup.subtree_control"), "+pids"));
                hasPids = pidsReachRoot && TryWrite(Path.Combine(root, "cgroup.subtree_control"), "+pids");
            }
            // Proves we may create cgroups here, not just that the directory exists.
            var probe = Path.Combine(root, $"probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
            return new CgroupHierarchy(root, kind, hasPids);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string[] ReadWords(string file)
    {
        try
        {
            return File.ReadAllText(file).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

/// <summary>
/// One command's cgroups. Its shell joins them as the first statement of the wrapper, before the command's own code
/// runs: until then the shell has not forked (it is busy with builtins), so no process of the command can exist outside.
/// (posix_spawn cannot place a child in a cgroup on v1, and CLONE_INTO_CGROUP is v2 only; writing the pid from the
/// server after the spawn would race with the shell's first fork.) If a timeout fires inside that window, the process
/// session kill still reaches the shell.
/// </summary>
internal sealed class CommandCgroup(SessionCgroups cgroups, string sessionId, IReadOnlyList<string> directories) : CommandProcesses
{
    public override string Prelude => string.Concat(directories.Select(d => $"{{ echo $$ > {Quote(d + "/cgroup.procs")}; }} 2>/dev/null || "
        + $"{{ echo {Quote($"session-mcp: cannot enter the command's cgroup {d}")} >&2; exit 125; }}\n"));

    public override IReadOnlyList<int>? Members() => directories.Count == 0 ? null : SessionCgroups.ReadProcs(directories[0]);

    public override async Task KillAllAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < directories.Count; i++)
        {
            await SessionCgroups.KillAsync(cgroups.Hierarchies[i].Kind, directories[i], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether a fork failed in the session's process limit while this command ran. A command whose shell returned while
    /// its background processes still multiply (<c>b(){ b|b&amp; }; b</c>) may reach the limit a moment later: while it
    /// leaves processes behind, this looks again for up to <see cref="LimitSettleTime"/> (commands that leave nothing
    /// behind pay nothing).
    /// </summary>
    public async Task<bool> HitProcessLimitAsync()
    {
        var index = cgroups.Hierarchies.ToList().FindIndex(h => h.HasPidsLimit);
        if (index < 0)
        {
            return false;
        }
        var deadline = Environment.TickCount64 + (long)LimitSettleTime.TotalMilliseconds;
        while (true)
        {
            if (cgroups.LimitRefusedSince(sessionId, directories[index]))
            {
                return true;
            }
            if (Environment.TickCount64 > deadline || SessionCgroups.ReadProcs(directories[index]).Count == 0)
            {
                return false;
            }
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan LimitSettleTime = TimeSpan.FromMilliseconds(200);

    /// <summary>Removes the command's cgroups when nothing runs in them any more; a background process keeps them until destroy.</summary>
    public void RemoveIfEmpty()
    {
        foreach (var directory in directories)
        {
            SessionCgroups.TryRemove(directory);
        }
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    internal static long ReadMaxEvents(string directory)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(directory, "pids.events")))
            {
                if (line.StartsWith("max ", StringComparison.Ordinal) && long.TryParse(line.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
                {
                    return count;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }
}
