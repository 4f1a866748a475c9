using System.Globalization;
using System.Text;
using SessionMcp.Containers.Local.Native;

namespace SessionMcp.Containers.Local;

/// <summary>
/// All the processes one local command started, however they try to leave: what a timeout, a cancel or a process limit
/// kills. A cgroup per command where the host lets the server create one (<see cref="CommandCgroup"/>), else the
/// process session plus a sweep (<see cref="SweptCommandProcesses"/>).
/// </summary>
internal abstract class CommandProcesses
{
    /// <summary>Shell statements the command's wrapper runs first, before any of the command's own code; may be empty.</summary>
    public virtual string Prelude => "";

    /// <summary>Told the pid of the command's shell right after it is spawned.</summary>
    public virtual void Started(int shellPid)
    {
    }

    /// <summary>
    /// Kills every process of the command and returns when none is left, or gives up after a bounded time. The shell
    /// itself may be left to the caller, which kills it through its handle (only that knows whether it was reaped).
    /// </summary>
    public abstract Task KillAllAsync(CancellationToken cancellationToken);

    /// <summary>The command's processes when they can be listed without reading all of /proc (a cgroup); else null.</summary>
    public virtual IReadOnlyList<int>? Members() => null;
}

/// <summary>
/// Where no cgroup is writable: the command's processes are its shell's process session, the shell's descendants by the
/// /proc parent links (a <c>setsid</c> child is still a child), and every process carrying the command's marker variable
/// (a grandchild whose parent already exited). A process that both sheds the marker (<c>env -u</c>) and is orphaned
/// before the kill escapes; only a cgroup holds it.
/// </summary>
internal sealed class SweptCommandProcesses(string markerVariable, string commandId) : CommandProcesses
{
    private int _shellPid;

    public override void Started(int shellPid) => _shellPid = shellPid;

    public override Task KillAllAsync(CancellationToken cancellationToken)
    {
        if (_shellPid <= 0)
        {
            return Task.CompletedTask;
        }
        var marker = Encoding.UTF8.GetBytes($"{markerVariable}={commandId}\0");
        // Several passes: a process may fork while we read /proc. The shell is killed last within each pass, so its
        // children are still its children (not yet re-parented to init) when the tree is read.
        for (var pass = 0; pass < 5; pass++)
        {
            var table = ProcessTable.Read();
            var doomed = table.Where(p => p.Pid != Environment.ProcessId && (p.Session == _shellPid || p.Environ(marker))).Select(p => p.Pid).ToHashSet();
            foreach (var descendant in ProcessTable.Descendants(table, _shellPid))
            {
                doomed.Add(descendant);
            }
            var killed = 0;
            foreach (var pid in doomed.Where(p => p != _shellPid))
            {
                killed += LibC.kill(pid, LibC.SIGKILL) == 0 ? 1 : 0;
            }
            if (killed == 0)
            {
                break;
            }
        }
        return Task.CompletedTask;
    }
}

/// <summary>A read of /proc: each live process's pid, parent and session.</summary>
internal static class ProcessTable
{
    public sealed record Entry(int Pid, int ParentPid, int Session)
    {
        /// <summary>Whether the process's environment holds <paramref name="entry"/> (NUL-terminated) as a whole entry.</summary>
        public bool Environ(ReadOnlySpan<byte> entry)
        {
            try
            {
                var environ = File.ReadAllBytes($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/environ");
                return SessionProcesses.HasEntry(environ, entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }

    public static List<Entry> Read()
    {
        var entries = new List<Entry>();
        Span<Range> parts = stackalloc Range[5];
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // exited meanwhile
            }
            // "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses: split after the last ')'.
            var fields = stat.AsSpan(stat.LastIndexOf(')') + 1).Trim();
            if (fields.Split(parts, ' ') < 5 || fields[parts[0]] is "Z" or "X"
                || !int.TryParse(fields[parts[1]], NumberStyles.None, CultureInfo.InvariantCulture, out var parent)
                || !int.TryParse(fields[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var session))
            {
                continue;
            }
            entries.Add(new Entry(pid, parent, session));
        }
        return entries;
    }

    /// <summary>Every process below <paramref name="root"/> in the parent tree of <paramref name="table"/>.</summary>
    public static List<int> Descendants(IReadOnlyList<Entry> table, int root)
    {
        var children = table.ToLookup(e => e.ParentPid, e => e.Pid);
        var found = new List<int>();
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out var pid))
        {
            foreach (var child in children[pid])
            {
                if (child != root && !found.Contains(child))
                {
                    found.Add(child);
                    pending.Push(child);
                }
            }
        }
        return found;
    }
}
