using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.Attention;

/// <summary>
/// Which sessions want a person now, and why. Flags are raised by audited events (<see cref="Observe"/>), by jobs that
/// wait for input (<see cref="ObserveWaiting"/>) and by agents gone quiet (<see cref="Tick"/>); a person looking at the
/// session clears them (<see cref="Seen"/>). <see cref="Raised"/> tells the live views and the webhook of each new flag.
/// Thread-safe: the audit log, the poller and HTTP requests all touch it.
/// </summary>
internal sealed class AttentionBoard(AttentionThresholds thresholds)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<AttentionFlag>> _flags = new(StringComparer.Ordinal);
    // Last tool call per session since a person last looked (or the idle flag was raised): the agent is "active".
    private readonly Dictionary<string, DateTimeOffset> _activeSince = new(StringComparer.Ordinal);
    // Jobs seen waiting: a job raises one flag per wait, not one per poll.
    private readonly HashSet<string> _waiting = new(StringComparer.Ordinal);

    /// <summary>A new flag (on whatever thread raised it; handlers must be quick).</summary>
    public event Action<AttentionFlag>? Raised;

    /// <summary>A session's flags were cleared: a person looked, or what it waited for is over.</summary>
    public event Action<string>? Cleared;

    public AttentionThresholds Thresholds => thresholds;

    /// <summary>Every current flag, oldest first.</summary>
    public IReadOnlyList<AttentionFlag> All()
    {
        lock (_gate)
        {
            return [.. _flags.Values.SelectMany(f => f).OrderBy(f => f.Since)];
        }
    }

    public IReadOnlyList<AttentionFlag> Of(string sessionId)
    {
        lock (_gate)
        {
            return _flags.TryGetValue(sessionId, out var flags) ? [.. flags] : [];
        }
    }

    /// <summary>An appended event: raises what <see cref="AttentionRules"/> says, and notes an agent's activity.</summary>
    public void Observe(AuditEvent e)
    {
        if (AttentionRules.IsActivity(e))
        {
            lock (_gate)
            {
                _activeSince[e.Entry.SessionId!] = e.Entry.Time;
            }
        }
        if (e.Entry.Kind == AuditKinds.SessionDestroyed && e.Entry.SessionId is { } gone)
        {
            Seen(gone);
            lock (_gate)
            {
                _activeSince.Remove(gone);
            }
            return;
        }
        if (AttentionRules.FromEvent(e, thresholds) is { } flag)
        {
            Raise(flag);
        }
    }

    /// <summary>Whether a job waits for input now: raises a flag when it starts waiting, drops it when it stops.</summary>
    public void ObserveWaiting(string sessionId, string jobId, string command, bool waiting, DateTimeOffset now)
    {
        bool started, stopped;
        lock (_gate)
        {
            started = waiting && _waiting.Add(jobId);
            stopped = !waiting && _waiting.Remove(jobId);
        }
        if (started)
        {
            Raise(new AttentionFlag(sessionId, AttentionReasons.WaitingForInput, $"{jobId} waits for input: {(command.Length <= 120 ? command : command[..117] + "...")}", now, null, jobId));
        }
        else if (stopped && Remove(sessionId, f => f.Reason == AttentionReasons.WaitingForInput && f.JobId == jobId))
        {
            Cleared?.Invoke(sessionId);
        }
    }

    /// <summary>Raises <see cref="AttentionReasons.AgentIdle"/> for sessions whose agent called no tool for the idle time.</summary>
    public void Tick(DateTimeOffset now)
    {
        List<(string Session, DateTimeOffset Last)> idle;
        lock (_gate)
        {
            idle = [.. _activeSince.Where(a => now - a.Value >= thresholds.IdleAfter).Select(a => (a.Key, a.Value))];
            foreach (var (session, _) in idle)
            {
                _activeSince.Remove(session);
            }
        }
        foreach (var (session, last) in idle)
        {
            Raise(new AttentionFlag(session, AttentionReasons.AgentIdle, $"no tool call since {last:HH:mm:ss} UTC", now));
        }
    }

    /// <summary>A person looked at the session: its flags go (a job still waiting is not raised again for the same wait).</summary>
    public void Seen(string sessionId)
    {
        if (Remove(sessionId, _ => true))
        {
            Cleared?.Invoke(sessionId);
        }
    }

    private void Raise(AttentionFlag flag)
    {
        lock (_gate)
        {
            if (!_flags.TryGetValue(flag.SessionId, out var flags))
            {
                _flags[flag.SessionId] = flags = [];
            }
            flags.Add(flag);
        }
        Raised?.Invoke(flag);
    }

    private bool Remove(string sessionId, Func<AttentionFlag, bool> which)
    {
        lock (_gate)
        {
            if (!_flags.TryGetValue(sessionId, out var flags) || flags.RemoveAll(f => which(f)) == 0)
            {
                return false;
            }
            if (flags.Count == 0)
            {
                _flags.Remove(sessionId);
            }
            return true;
        }
    }
}
