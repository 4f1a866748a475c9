using System.Globalization;
using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// Whether a job waits for input: <paramref name="Waiting"/> when process <paramref name="Pid"/> is blocked reading
/// its terminal (or stdin pipe). <paramref name="Reason"/> says what was seen, for logs and the model. For a terminal,
/// <paramref name="EchoOff"/> and <paramref name="Canonical"/> are its modes (always false for a pipe).
/// </summary>
/// <param name="Waiting">A process is blocked reading the input right now.</param>
/// <param name="Pid">The waiting process; when not waiting, the foreground process group (terminal) or 0.</param>
/// <param name="Reason">What was seen, e.g. <c>cat (1234) blocked in read(0 = /dev/pts/3), wchan wait_woken</c>.</param>
/// <param name="EchoOff">The terminal does not echo input: with <paramref name="Canonical"/>, a secret is being asked
/// for (<c>read -s</c>, <c>stty -echo</c>, getpass): see <see cref="LikelySecret"/>.</param>
/// <param name="Canonical">The terminal delivers input by lines (ICANON).</param>
internal sealed record InputWait(bool Waiting, int Pid, string Reason, bool EchoOff, bool Canonical)
{
    /// <summary>
    /// The input the process waits for is probably secret (a password): echo is off while the terminal still reads by
    /// lines. Full-screen programs and readline (bash's prompt) turn off both echo and line mode, so they do not count;
    /// a recorder should not store input typed while this holds.
    /// </summary>
    public bool LikelySecret => Waiting && EchoOff && Canonical;

    public static InputWait NotWaiting(string reason, int pid = 0, TerminalModes? modes = null) =>
        new(false, pid, reason, modes is { Echo: false }, modes is { Canonical: true });
}

/// <summary>
/// Tells whether a process is blocked reading its terminal or stdin pipe, from what Linux shows in /proc. Works for a
/// pseudo-terminal (<see cref="ForTerminal"/>) and for a pipe-fed job (<see cref="ForProcesses"/>).
/// </summary>
/// <remarks>
/// <para>Heuristics, per candidate process (the terminal's foreground process group, from <c>tcgetpgrp</c> on the
/// master; or the pids given):</para>
/// <list type="number">
/// <item>State <c>S</c> in <c>/proc/PID/stat</c> (interruptible sleep; a reader of a terminal or pipe sleeps so).</item>
/// <item><c>/proc/PID/syscall</c> (needs ptrace access: root or the same user) names the blocking system call and its
/// arguments. <c>read</c>/<c>readv</c>: the first argument is the descriptor; <c>select</c>/<c>pselect6</c>: the read
/// set is read from <c>/proc/PID/mem</c>; <c>poll</c>/<c>ppoll</c>: the pollfd array likewise, entries asking for
/// POLLIN; <c>epoll_wait</c>/<c>epoll_pwait(2)</c>: the epoll descriptor's registered targets with EPOLLIN, from
/// <c>/proc/PID/fdinfo</c>. Each descriptor is mapped through <c>/proc/PID/fd/N</c> and compared with the input
/// (<c>/dev/pts/N</c> or <c>/dev/tty</c> for a terminal; <c>pipe:[inode]</c> for a pipe).</item>
/// <item>Only when <c>/proc/PID/syscall</c> cannot be read: <c>/proc/PID/wchan</c> names a read wait
/// (<c>wait_woken</c>/<c>n_tty_read</c> for a terminal; <c>anon_pipe_read</c>/<c>pipe_read</c>/<c>pipe_wait_readable</c>
/// for a pipe) and descriptor 0 is the input. wchan names change between kernels (6.18 shows <c>wait_woken</c> for a
/// terminal read, <c>anon_pipe_read</c> for a pipe read where older kernels showed <c>pipe_read</c>), and
/// <c>wait_woken</c> is not specific to terminals, so it only backs up the system call.</item>
/// </list>
/// <para>Limits: the answer is a snapshot (poll it); a process that polls with a timeout counts as waiting while it
/// blocks; a 32-bit (compat) process's system call numbers are not recognised; a process whose memory cannot be read
/// counts as not waiting when it blocks in select/poll.</para>
/// </remarks>
internal static class InputWaitProbe
{
    // Linux system call numbers of this process's architecture (x86_64 or arm64); -1 where the call does not exist.
    private static readonly Syscalls Calls = RuntimeInformation.ProcessArchitecture == Architecture.Arm64
        ? new(Read: 63, Readv: 65, Select: -1, Pselect6: 72, Poll: -1, Ppoll: 73, EpollWait: -1, EpollPwait: 22, EpollPwait2: 441)
        : new(Read: 0, Readv: 19, Select: 23, Pselect6: 270, Poll: 7, Ppoll: 271, EpollWait: 232, EpollPwait: 281, EpollPwait2: 441);

    private const short PollIn = 0x1;
    private const uint EpollIn = 0x1;
    private const int MaxDescriptors = 4096;

    /// <summary>
    /// Whether the foreground process group of the terminal whose master is <paramref name="masterFd"/> has a process
    /// blocked reading the terminal (<paramref name="terminalPath"/>, or <c>/dev/tty</c>), with the terminal's modes.
    /// </summary>
    public static InputWait ForTerminal(int masterFd, string terminalPath)
    {
        var foreground = LibC.tcgetpgrp(masterFd);
        if (foreground <= 0)
        {
            return InputWait.NotWaiting("the terminal has no foreground process group", 0, TryReadModes(masterFd));
        }

        var seen = new List<string>();
        foreach (var pid in ProcessGroupMembers(foreground))
        {
            var (waiting, description) = Inspect(pid, link => link == terminalPath || link == "/dev/tty", terminal: true);
            if (waiting)
            {
                // Read after the wait was seen, not before: a reader sets its modes before it blocks (readline turns
                // echo off, then waits), so modes read earlier could predate them.
                var modes = TryReadModes(masterFd);
                return new InputWait(true, pid, description, modes is { Echo: false }, modes is { Canonical: true });
            }

            seen.Add(description);
        }

        return InputWait.NotWaiting(
            seen.Count == 0
                ? $"no live process in the foreground process group {foreground.ToString(CultureInfo.InvariantCulture)}"
                : string.Join("; ", seen),
            foreground,
            TryReadModes(masterFd));
    }

    /// <summary>
    /// Whether one of <paramref name="pids"/> (say, a pipe-fed job's session members) is blocked reading the pipe
    /// whose link text is <paramref name="inputLink"/> (<see cref="PipeEnd.FileLink"/> of the job's stdin).
    /// </summary>
    public static InputWait ForProcesses(IEnumerable<int> pids, string inputLink)
    {
        ArgumentNullException.ThrowIfNull(pids);
        ArgumentException.ThrowIfNullOrEmpty(inputLink);
        var seen = new List<string>();
        foreach (var pid in pids)
        {
            var (waiting, description) = Inspect(pid, link => link == inputLink, terminal: false);
            if (waiting)
            {
                return new InputWait(true, pid, description, false, false);
            }

            seen.Add(description);
        }

        return InputWait.NotWaiting(seen.Count == 0 ? "no live process" : string.Join("; ", seen));
    }

    private static TerminalModes? TryReadModes(int masterFd)
    {
        try
        {
            return PtyProcess.ReadModes(masterFd);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Whether <paramref name="pid"/> is blocked reading a descriptor that <paramref name="isInput"/> accepts, and what it does.</summary>
    internal static (bool Waiting, string Description) Inspect(int pid, Func<string, bool> isInput, bool terminal)
    {
        var proc = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}";
        if (!TryReadText($"{proc}/stat", out var stat))
        {
            return (false, $"{pid.ToString(CultureInfo.InvariantCulture)} exited");
        }

        // "pid (comm) state ..."; comm may contain spaces and parentheses.
        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        var comm = open >= 0 && close > open ? stat[(open + 1)..close] : "?";
        var state = close >= 0 && close + 2 < stat.Length ? stat[close + 2] : '?';
        var who = $"{comm} ({pid.ToString(CultureInfo.InvariantCulture)})";
        var wchan = TryReadText($"{proc}/wchan", out var text) && text.Length > 0 && text != "0" ? text.Trim() : "none";
        if (state != 'S')
        {
            return (false, $"{who} state {state}");
        }

        if (!TryReadText($"{proc}/syscall", out var syscall))
        {
            return FromWchan(proc, who, wchan, isInput, terminal);
        }

        var fields = syscall.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length < 7 || !int.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) || number < 0)
        {
            return (false, $"{who} not blocked in a system call ({syscall.Trim()}), wchan {wchan}");
        }

        var args = new ulong[6];
        for (var i = 0; i < 6; i++)
        {
            args[i] = ParseHex(fields[i + 1]);
        }

        var (name, descriptors) = BlockingReads(proc, number, args);
        foreach (var fd in descriptors)
        {
            var link = DescriptorLink(proc, fd);
            if (link is not null && isInput(link))
            {
                return (true, $"{who} blocked in {name}({fd.ToString(CultureInfo.InvariantCulture)} = {link}), wchan {wchan}");
            }
        }

        return (false, $"{who} in {name}, wchan {wchan}");
    }

    /// <summary>The system call's name and the descriptors it waits to read.</summary>
    private static (string Name, IReadOnlyList<int> Descriptors) BlockingReads(string proc, int number, ulong[] args)
    {
        if (number == Calls.Read || number == Calls.Readv)
        {
            return (number == Calls.Read ? "read" : "readv", [(int)args[0]]);
        }

        if (number == Calls.Select || number == Calls.Pselect6)
        {
            var count = (int)Math.Min(args[0], MaxDescriptors);
            var set = ReadMemory(proc, args[1], (count + 7) / 8);
            var descriptors = new List<int>();
            for (var fd = 0; set is not null && fd < count; fd++)
            {
                if ((set[fd / 8] & (1 << (fd % 8))) != 0)
                {
                    descriptors.Add(fd);
                }
            }

            return (number == Calls.Select ? "select" : "pselect6", descriptors);
        }

        if (number == Calls.Poll || number == Calls.Ppoll)
        {
            var count = (int)Math.Min(args[1], MaxDescriptors);
            var entries = ReadMemory(proc, args[0], count * 8);
            var descriptors = new List<int>();
            for (var i = 0; entries is not null && i < count; i++)
            {
                // struct pollfd { int fd; short events; short revents; }
                var fd = BitConverter.ToInt32(entries, i * 8);
                var events = BitConverter.ToInt16(entries, (i * 8) + 4);
                if (fd >= 0 && (events & PollIn) != 0)
                {
                    descriptors.Add(fd);
                }
            }

            return (number == Calls.Poll ? "poll" : "ppoll", descriptors);
        }

        if (number == Calls.EpollWait || number == Calls.EpollPwait || number == Calls.EpollPwait2)
        {
            return ("epoll_wait", EpollReadTargets(proc, (int)args[0]));
        }

        return ($"system call {number.ToString(CultureInfo.InvariantCulture)}", []);
    }

    /// <summary>The descriptors registered with EPOLLIN in an epoll instance ("tfd: 5 events: 19 data: ..." lines).</summary>
    private static List<int> EpollReadTargets(string proc, int epollFd)
    {
        var targets = new List<int>();
        if (!TryReadText($"{proc}/fdinfo/{epollFd.ToString(CultureInfo.InvariantCulture)}", out var info))
        {
            return targets;
        }

        foreach (var line in info.Split('\n'))
        {
            var words = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 4 && words[0] == "tfd:" && words[2] == "events:"
                && int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var fd)
                && uint.TryParse(words[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var events)
                && (events & EpollIn) != 0)
            {
                targets.Add(fd);
            }
        }

        return targets;
    }

    /// <summary>The fallback without /proc/PID/syscall: a read wait in wchan, and the input on descriptor 0.</summary>
    private static (bool Waiting, string Description) FromWchan(string proc, string who, string wchan, Func<string, bool> isInput, bool terminal)
    {
        string[] readWaits = terminal ? ["wait_woken", "n_tty_read"] : ["anon_pipe_read", "pipe_read", "pipe_wait_readable"];
        var link = DescriptorLink(proc, 0);
        return readWaits.Contains(wchan) && link is not null && isInput(link)
            ? (true, $"{who} sleeps in {wchan} with 0 = {link} (system call unreadable)")
            : (false, $"{who} wchan {wchan} (system call unreadable)");
    }

    /// <summary>Live members of process group <paramref name="processGroup"/>, its leader first.</summary>
    private static List<int> ProcessGroupMembers(int processGroup)
    {
        var members = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory.AsSpan()), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || !TryReadText(Path.Combine(directory, "stat"), out var stat))
            {
                continue;
            }

            // "... ) state ppid pgrp ..."
            var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 3 && fields[0] is not ("Z" or "X")
                && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var group) && group == processGroup)
            {
                members.Add(pid);
            }
        }

        members.Sort((a, b) => a == processGroup ? -1 : b == processGroup ? 1 : a.CompareTo(b));
        return members;
    }

    private static string? DescriptorLink(string proc, int fd)
    {
        try
        {
            return new FileInfo($"{proc}/fd/{fd.ToString(CultureInfo.InvariantCulture)}").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Bytes of another process's memory (ptrace access needed), or null.</summary>
    private static byte[]? ReadMemory(string proc, ulong address, int length)
    {
        if (address == 0 || address > long.MaxValue || length <= 0)
        {
            return null;
        }

        try
        {
            using var handle = File.OpenHandle($"{proc}/mem", FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[length];
            return RandomAccess.Read(handle, buffer, (long)address) == length ? buffer : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool TryReadText(string path, out string text)
    {
        try
        {
            text = File.ReadAllText(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text = "";
            return false;
        }
    }

    private static ulong ParseHex(string field) =>
        field.StartsWith("0x", StringComparison.Ordinal)
        && ulong.TryParse(field.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            ? value
            : 0;

    private sealed record Syscalls(int Read, int Readv, int Select, int Pselect6, int Poll, int Ppoll, int EpollWait, int EpollPwait, int EpollPwait2);
}
