using System.Text;
using SessionMcp.SessionRouting.Execution;

namespace SessionMcp.Containers.Docker;

// Threat model. A session's processes all run as one uid in its container, with no capabilities. They may lie about
// their own output, and may signal, kill or (without Yama, as on these hosts) ptrace each other's commands while those
// run: same-uid processes have no isolation from each other. What they must not do is set another call's record (exit
// code, timed_out, which output belongs to it), outlive a timeout, or grow the server.
//
// How the record is kept out of their reach (containers created by this version; see HelperLayout.Sealed):
// 1. The helper is non-dumpable. Linux makes a process non-dumpable when it execs a file it cannot read, so the server
//    keeps the image's /bin/sh on the host as an execute-only file (HelperShell) and bind-mounts it read-only: the helper
//    runs it, and the session's uid can neither read, chmod nor replace it. /proc/<helper>/fd, mem and environ are then
//    root-owned: no process of the session can write the helper's notices, read its requests, or ptrace it. Its forked
//    subshells inherit that; busybox runs its applets through /proc/self/exe, so the helper's own cat/tail stay sealed
//    too. Commands exec the image's normal /bin/sh and are ordinary (dumpable) session processes.
// 2. Notices carry a per-command secret that only the server and the helper's memory know: the command never sees it (not
//    in its argv, environment or files), so even a descriptor leaked by mistake (an image whose cat is a separate,
//    readable binary) cannot forge a "done".
// 3. Outputs live in a scratch tmpfs mounted mode 1733 (nobody but root can list it) under a random per-command name
//    that is not the command's marker. Another process finds a command's files only by looking at that command while
//    it runs (/proc/<pid>/fd), which is the same residue as ptrace: a process may tamper with a command it can watch
//    while that command runs; it cannot reach one it never saw, nor any finished command's record. Emits frame the
//    parts with a nonce that never touches a file.
// Containers created before keep the old layout (the helper is the image's /bin/sh, scratch files under /tmp): the same
// protocol, without the sealing, and a warning in the log.
//
// Growth: every line and part read from the helper is bounded (SessionHelper.MaxNoticeBytes, MaxBufferedPartBytes;
// outputs stream into capped captures; the state file is capped by SessionStateLimits). Anything longer, a notice with
// a wrong secret, or output nobody asked for is a protocol violation: the helper is dropped, the session's next call
// starts a new one after a sweep, and its note says why.
//
// Escape: a timeout kills the command's process tree and whatever still carries its marker, then sweeps (SweepFunctions)
// every process that started after the command did and is neither the helper's descendant nor PID 1's keep-alive: a
// child that shed its marker (env -u) and its tree (re-parented) and its session (setsid) is still younger than the
// command. Background work older than the command (an earlier `server &`) is left alone. Parentage and start time are
// all the sweep trusts; the same sweep, without the age limit, runs before a helper restarts and when a server starts.

/// <summary>Where a container's helper shell and scratch files are (<see cref="Sealed"/> for containers this version creates).</summary>
internal sealed record HelperLayout(string ShellPath, string ScratchDir)
{
    /// <summary>The execute-only shell bind-mounted from the host, scratch on a private mode-1733 tmpfs.</summary>
    public static readonly HelperLayout Sealed = new(HelperShell.ContainerPath, "/.session-mcp/scratch");

    /// <summary>Containers created before sealing: the image's own shell, scratch under /tmp.</summary>
    public static readonly HelperLayout Legacy = new("/bin/sh", "/tmp/.session-mcp");
}

/// <summary>
/// The in-container helper: a POSIX shell reading statements on stdin, kept attached to the server, so a command costs a
/// fork in the container instead of a new <c>docker exec</c>. It answers on stderr with one-line notices
/// (<c>started ID SECRET PID OOMS</c>, <c>done ID SECRET RC OOMS</c>, <c>killed ID SECRET</c>) and on stdout with
/// requested file contents, each part ended by a random nonce. OOMS is the container's OOM-kill counter, so a command
/// the kernel killed for memory is reported as that, not as a bare exit 137. Any image with /bin/sh works: only builtins
/// plus <c>cat</c>, <c>tail</c> and <c>rm</c> run.
/// </summary>
internal static class HelperScript
{
    /// <summary>
    /// Every command's environment carries its ID, so a timeout also finds descendants that were re-parented away from
    /// its process tree (<c>sh -c 'server &amp;'</c>). IDs end in a letter no counter contains, so no ID is a prefix of another.
    /// </summary>
    public const string CommandMarkerVariable = "SESSION_MCP_COMMAND";

    /// <summary>Sent once when the helper starts: the functions the requests below call.</summary>
    public static string Prelude(HelperLayout layout) => $$"""
        umask 077
        __smcp_d={{ShellExports.Quote(layout.ScratchDir)}}
        [ -d "$__smcp_d" ] || mkdir -p -m 700 "$__smcp_d" || exit 90
        __smcp_wrapper={{ShellExports.Quote(ShellWrapper.Script)}}
        __smcp_counters() {
          __smcp_oom=-; __smcp_pmax=-; __smcp_pnow=-; __smcp_plim=-
          for __smcp_m in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/pids.events /sys/fs/cgroup/pids/pids.events; do
            [ -r "$__smcp_m" ] || continue
            while read -r __smcp_k __smcp_v; do
              case $__smcp_k in oom_kill) __smcp_oom=$__smcp_v;; max) __smcp_pmax=$__smcp_v;; esac
            done < "$__smcp_m"
          done
          __smcp_near=0
          for __smcp_m in /sys/fs/cgroup/pids.current /sys/fs/cgroup/pids/pids.current; do
            [ -r "$__smcp_m" ] && read -r __smcp_pnow < "$__smcp_m" && read -r __smcp_plim < "${__smcp_m%current}max" && break
          done
          case "$__smcp_pnow$__smcp_plim" in *[!0-9]*|'') ;; *) [ $((__smcp_pnow * 4)) -ge $((__smcp_plim * 3)) ] && __smcp_near=1;; esac
        }
        __smcp_run() {
          [ -d "$__smcp_d" ] || mkdir -p -m 700 "$__smcp_d"
          __smcp_f="$__smcp_d/$3"
          if [ "$6" = 1 ]; then __smcp_in="$__smcp_f.in"; else __smcp_in=/dev/null; fi
          __smcp_counters
          {
            __smcp_p0=$__smcp_pnow; __smcp_m0=$__smcp_pmax
            (
              eval "$7"
              export {{CommandMarkerVariable}}="$1"
              exec /bin/sh -c "$__smcp_wrapper" {{ShellWrapper.ArgumentZero}} "$__smcp_f.state" "$4" "$5" {{ContainerSpec.WorkspacePath}}
            ) >"$__smcp_f.out" 2>"$__smcp_f.err" <"$__smcp_in"
            __smcp_rc=$?
            __smcp_counters
            # A command that left processes multiplying (a fork bomb whose shell returned) exhausts the PID limit a moment
            # later: while it leaves more than a few behind, look again for a while (builtins only, nothing forks). At the
            # limit, sweep what began after this command outside the helper's tree before anything forks again.
            __smcp_i=0
            while [ $__smcp_near = 0 ] && [ "$__smcp_pmax" = "$__smcp_m0" ] && [ $__smcp_i -lt 2000 ] &&
              case "$__smcp_p0$__smcp_pnow" in *[!0-9]*|'') false;; *) [ "$__smcp_pnow" -gt $((__smcp_p0 + 2)) ];; esac; do
              __smcp_i=$((__smcp_i + 1)); __smcp_counters
            done
            if { [ $__smcp_near = 1 ] || [ "$__smcp_pmax" != "$__smcp_m0" ]; } && read -r __smcp_line < /proc/self/stat; then
              set -- "$@" ${__smcp_line##*") "}; __smcp_since=${27}; __smcp_sweep $$; __smcp_since=; __smcp_near=1
            fi
            echo "done $1 $2 $__smcp_rc $__smcp_oom $__smcp_pmax $__smcp_near" >&2
          } &
          __smcp_start=-
          if read -r __smcp_line < "/proc/$!/stat" 2>/dev/null; then set -- "$@" ${__smcp_line##*") "}; __smcp_start=${27}; fi
          echo "started $1 $2 $! $__smcp_oom $__smcp_pmax $__smcp_start" >&2
        }
        {{SweepFunctions}}
        __smcp_tree() {
          # Bounded: a fork bomb replaces its dying processes as fast as a scan finds them; stopped ones cannot.
          __smcp_all=$1; __smcp_new=$1; __smcp_depth=0
          while [ -n "$__smcp_new" ] && [ $__smcp_depth -lt 64 ]; do
            __smcp_depth=$((__smcp_depth + 1))
            __smcp_next=
            for __smcp_s in /proc/[0-9]*/stat; do
              read -r __smcp_line < "$__smcp_s" 2>/dev/null || continue
              __smcp_rest=${__smcp_line##*") "}
              set -- $__smcp_rest
              case " $__smcp_new " in *" $2 "*)
                __smcp_p=${__smcp_s#/proc/}; __smcp_next="$__smcp_next ${__smcp_p%/stat}";;
              esac
            done
            __smcp_all="$__smcp_all $__smcp_next"; __smcp_new=${__smcp_next# }
          done
        }
        __smcp_marked() {
          for __smcp_e in /proc/[0-9]*/environ; do
            if tr '\0' '\n' < "$__smcp_e" 2>/dev/null | grep -q -x -F "{{CommandMarkerVariable}}=$1"; then
              __smcp_p=${__smcp_e#/proc/}; echo "${__smcp_p%/environ}"
            fi
          done
        }
        __smcp_kill() {
          __smcp_counters
          # Builtins first: at the PID limit a fork fails, and a shell that cannot fork exits.
          __smcp_since=$4
          if [ "$1" -gt 1 ]; then
            __smcp_tree "$1"; kill -STOP $__smcp_all 2>/dev/null
            __smcp_tree "$1"; kill -KILL $__smcp_all 2>/dev/null
          fi
          [ -z "$__smcp_since" ] || __smcp_sweep $$ $__smcp_jobs
          __smcp_since=
          kill -KILL $(__smcp_marked "$2") 2>/dev/null
          echo "killed $2 $3 $__smcp_oom $__smcp_pmax $__smcp_near" >&2
        }
        __smcp_part() {
          [ -s "$1" ] && cat "$1" 2>/dev/null
          printf '%s' "$2"
        }
        __smcp_emit() {
          __smcp_f="$__smcp_d/$1"
          __smcp_part "$__smcp_f.out" "$2"
          { [ -e "$__smcp_f.out" ] && printf x 2>/dev/null > "$__smcp_f.ok"; } ||
            printf 'session-mcp: the helper could not create its scratch files in %s (is it full?): output may be missing\n' "$__smcp_d"
          __smcp_part "$__smcp_f.err" "$2"
          __smcp_part "$__smcp_f.state" "$2"
          rm -f "$__smcp_f.out" "$__smcp_f.err" "$__smcp_f.state" "$__smcp_f.in" "$__smcp_f.ok"
        }
        __smcp_peek() {
          # Progress is not worth a fork near the PID limit: a shell that cannot fork exits.
          __smcp_counters
          if [ $__smcp_near = 1 ]; then printf '%s%s' "$2" "$2"; return; fi
          tail -c 512 "$__smcp_d/$1.out" 2>/dev/null; printf '%s' "$2"; tail -c 512 "$__smcp_d/$1.err" 2>/dev/null; printf '%s' "$2"
        }
        __smcp_hello() { export -p; printf '%s' "$1"; }
        __smcp_jobs=
        __smcp_signal() { [ "$2" -gt 1 ] && __smcp_tree "$2" && kill -"$1" $__smcp_all 2>/dev/null; }

        """;

    /// <summary>
    /// Starts a command in the background; <paramref name="environmentScript"/> sets its exact environment. The
    /// <paramref name="secret"/> comes back in its notices; <paramref name="files"/> names its scratch files.
    /// </summary>
    public static string Run(CommandKeys keys, string cwd, string command, string? stdin, string environmentScript)
    {
        var text = new StringBuilder();
        if (stdin is not null)
        {
            text.Append(CultureInfo($"printf '%s' {ShellExports.Quote(stdin)} > \"$__smcp_d/{keys.Files}.in\"\n"));
        }
        text.Append(CultureInfo($"__smcp_run {keys.Id} {keys.Secret} {keys.Files} {ShellExports.Quote(cwd)} {ShellExports.Quote(command)} {(stdin is null ? 0 : 1)} {ShellExports.Quote(environmentScript)}\n"));
        return text.ToString();
    }

    /// <summary>Asks for a finished command's stdout, stderr and state file, each part ended by <paramref name="nonce"/>.</summary>
    public static string Emit(CommandKeys keys, string nonce) => $"__smcp_emit {keys.Files} {nonce}\n";

    /// <summary>
    /// Kills a command's whole process tree and whatever still carries its marker (stopped first, so nothing forks away
    /// while it is collected), then sweeps what started after it outside the helper's tree (its escaped children).
    /// </summary>
    public static string Kill(int pid, CommandKeys keys, long? startTick) => $"__smcp_kill {pid} {keys.Id} {keys.Secret} {startTick}\n";

    /// <summary>
    /// Shell functions (builtins only) that stop, then kill, every process in the container except PID 1, the
    /// keep-alive it started (its oldest child) with that one's children, the calling shell itself (not its children),
    /// the trees of the pids given as arguments, and, when <c>__smcp_since</c> is set, processes started before that
    /// clock tick. Processes are stopped round after round until a scan finds no new one, so nothing forks away
    /// between the scan and the kill; only then are they all killed.
    /// </summary>
    public const string SweepFunctions = """
        __smcp_scan() {
          __smcp_procs=; __smcp_ka=; __smcp_kat=; __smcp_old=" "
          for __smcp_s in /proc/[0-9]*/stat; do
            read -r __smcp_line < "$__smcp_s" 2>/dev/null || continue
            __smcp_p=${__smcp_line%% *}
            set -- ${__smcp_line##*") "}
            __smcp_procs="$__smcp_procs $__smcp_p:$2"
            [ "${20}" -lt "${__smcp_since:-0}" ] && __smcp_old="$__smcp_old$__smcp_p "
            if [ "$2" = 1 ] && { [ -z "$__smcp_kat" ] || [ "${20}" -lt "$__smcp_kat" ]; }; then __smcp_ka=$__smcp_p; __smcp_kat=${20}; fi
          done
        }
        __smcp_sweep() {
          __smcp_stopped=" "; __smcp_round=0
          while [ $__smcp_round -lt 50 ]; do
            __smcp_round=$((__smcp_round + 1))
            __smcp_scan
            __smcp_kept=" $__smcp_ka $* "; __smcp_grew=1
            while [ -n "$__smcp_grew" ]; do
              __smcp_grew=
              for __smcp_e in $__smcp_procs; do
                case $__smcp_kept in *" ${__smcp_e%:*} "*) continue;; esac
                case $__smcp_kept in *" ${__smcp_e#*:} "*) __smcp_kept="$__smcp_kept${__smcp_e%:*} "; __smcp_grew=1;; esac
              done
            done
            __smcp_new=
            for __smcp_e in $__smcp_procs; do
              case " 1 $$$__smcp_kept$__smcp_stopped$__smcp_old" in *" ${__smcp_e%:*} "*) ;; *) __smcp_new="$__smcp_new ${__smcp_e%:*}";; esac
            done
            [ -n "$__smcp_new" ] || break
            kill -STOP $__smcp_new 2>/dev/null
            __smcp_stopped="$__smcp_stopped${__smcp_new# } "
          done
          [ "$__smcp_stopped" = " " ] || kill -KILL $__smcp_stopped 2>/dev/null
        }
        """;

    /// <summary>
    /// A one-shot exec that kills everything a previous helper's commands left running (after the server or the helper
    /// died): the same sweep, sparing only PID 1's keep-alive and itself.
    /// </summary>
    public static string[] SweepCommand(IEnumerable<int>? keep = null) => ["/bin/sh", "-c", SweepFunctions + $"\n__smcp_sweep {string.Join(' ', keep ?? [])}\n"];

    /// <summary>
    /// A job's exec: exactly the session's environment (<see cref="EnvironmentScript"/>), its marker, then the shell
    /// wrapper, which writes its state to <paramref name="stateFile"/> (/dev/null when nobody reads it).
    /// </summary>
    /// <summary>A terminal's exec: the session's environment and the job's marker, then into the cwd and the command.</summary>
    public static string[] TerminalCommand(IReadOnlyCollection<string> helperNames, IReadOnlyDictionary<string, string> environment, string marker, string cwd, string command) =>
    [
        "/bin/sh", "-c",
        EnvironmentScript(helperNames, environment) + $"export {CommandMarkerVariable}={marker}\n" + "cd -- \"$1\" 2>/dev/null || cd -- \"$3\"; eval \"$2\"\n",
        ShellWrapper.ArgumentZero, cwd, command, ContainerSpec.WorkspacePath,
    ];

    public static string[] JobCommand(IReadOnlyCollection<string> helperNames, IReadOnlyDictionary<string, string> environment, string marker, string stateFile, string cwd, string command) =>
    [
        "/bin/sh", "-c",
        EnvironmentScript(helperNames, environment) + $"export {CommandMarkerVariable}={marker}\nexec /bin/sh -c \"$1\" {ShellWrapper.ArgumentZero} \"$2\" \"$3\" \"$4\" \"$5\"\n",
        "sh", ShellWrapper.Script, stateFile, cwd, command, ContainerSpec.WorkspacePath,
    ];

    /// <summary>
    /// The live jobs' shells (each a separate exec, not the helper's children): a timeout's sweep spares their trees.
    /// </summary>
    public static string SetJobs(IEnumerable<int> pids) => $"__smcp_jobs='{string.Join(' ', pids)}'\n";

    /// <summary>Sends a signal (INT, QUIT, TSTP) to a process and its descendants.</summary>
    public static string Signal(string signal, int pid) => $"__smcp_signal {signal} {pid}\n";

    /// <summary>Asks for the last bytes a running command wrote to stdout and stderr (for progress messages).</summary>
    public static string Peek(CommandKeys keys, string nonce) => $"__smcp_peek {keys.Files} {nonce}\n";

    /// <summary>Asks for the helper's own exported environment, ended by <paramref name="nonce"/>.</summary>
    public static string Hello(string nonce) => $"__smcp_hello {nonce}\n";

    /// <summary>
    /// Turns the helper's own environment into exactly the session's: unset what the session does not have, export
    /// what it has.
    /// </summary>
    public static string EnvironmentScript(IReadOnlyCollection<string> helperNames, IReadOnlyDictionary<string, string> environment)
    {
        var unset = helperNames.Where(n => !environment.ContainsKey(n) && ShellExports.IsValidName(n)).ToList();
        var text = new StringBuilder();
        if (unset.Count > 0)
        {
            text.Append("unset ").AppendJoin(' ', unset).Append('\n');
        }
        text.Append(ShellExports.ExportScript(environment));
        return text.ToString();
    }

    private static string CultureInfo(FormattableString text) => FormattableString.Invariant(text);
}

/// <summary>
/// A command's names in the helper protocol. <see cref="Id"/> is its marker, visible to every process of the session;
/// <see cref="Secret"/> authenticates its notices and never leaves the server and the sealed helper; <see cref="Files"/>
/// names its scratch files, unguessable to a process that never saw the command run.
/// </summary>
internal sealed record CommandKeys(string Id, string Secret, string Files)
{
    public static CommandKeys New(string id) => new(id, RandomHex(), RandomHex());

    private static string RandomHex() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}
