using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// Learns when the children we spawned exit without a thread per child: on every SIGCHLD, and once right after a child
/// is tracked (it may have exited before), each tracked child is polled with <c>waitpid(pid, WNOHANG)</c>.
/// </summary>
/// <remarks>
/// Only our own pids are waited for, never -1: System.Diagnostics.Process reaps its children from the same signal (on
/// .NET's signal thread, before registrations like ours run) and must keep their statuses, as we keep ours. The
/// handler never sets <see cref="PosixSignalContext.Cancel"/>, so .NET's default SIGCHLD handling goes on. Signals
/// coalesce, which is harmless: every exit is followed by at least one signal whose poll starts after it. A slow
/// backstop poll runs while any child is tracked, for when no SIGCHLD arrives at all (the server was started with
/// SIGCHLD ignored, which .NET respects and which makes the kernel reap children itself).
/// </remarks>
internal sealed class ChildReaper : IDisposable
{
    private static readonly TimeSpan DefaultBackstopPeriod = TimeSpan.FromMilliseconds(100);
    private static readonly Lazy<ChildReaper> SharedReaper = new(() => new ChildReaper(listenForSigChld: true, DefaultBackstopPeriod));

    private readonly object _gate = new();
    private readonly List<SpawnedProcess> _tracked = [];
    private readonly PosixSignalRegistration? _registration;
    private readonly Timer _backstop;
    private readonly TimeSpan _backstopPeriod;

    /// <param name="listenForSigChld">False leaves only the backstop poll (for tests of that path).</param>
    /// <param name="backstopPeriod">How often tracked children are polled regardless of signals.</param>
    internal ChildReaper(bool listenForSigChld, TimeSpan backstopPeriod)
    {
        _backstopPeriod = backstopPeriod;
        _backstop = new Timer(static state => ((ChildReaper)state!).Poll(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (listenForSigChld)
        {
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => Poll());
        }
    }

    /// <summary>The one reaper of this process, listening for SIGCHLD.</summary>
    public static ChildReaper Shared => SharedReaper.Value;

    /// <summary>How many children are tracked and not yet reaped.</summary>
    public int TrackedCount
    {
        get { lock (_gate) { return _tracked.Count; } }
    }

    /// <summary>Polls <paramref name="process"/> from now on until it is reaped, which completes its exit task.</summary>
    public void Track(SpawnedProcess process)
    {
        lock (_gate)
        {
            _tracked.Add(process);
            if (_tracked.Count == 1)
            {
                _backstop.Change(_backstopPeriod, _backstopPeriod);
            }
        }

        // The child may have exited, and its SIGCHLD been handled, before it was in the list.
        Poll();
    }

    /// <summary>Reaps every tracked child that has exited and completes its exit task.</summary>
    private void Poll()
    {
        SpawnedProcess[] candidates;
        lock (_gate)
        {
            if (_tracked.Count == 0)
            {
                return;
            }

            candidates = [.. _tracked];
        }

        List<(SpawnedProcess Process, int ExitCode)>? exited = null;
        foreach (var process in candidates)
        {
            if (process.TryReap(out var exitCode))
            {
                (exited ??= []).Add((process, exitCode));
            }
        }

        if (exited is null)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var (process, _) in exited)
            {
                _tracked.Remove(process);
            }

            if (_tracked.Count == 0)
            {
                _backstop.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }

        // Completed outside the locks and after the whole pass: continuations may run inline here.
        foreach (var (process, exitCode) in exited)
        {
            process.CompleteExit(exitCode);
        }
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _backstop.Dispose();
    }
}
