using System.Globalization;
using Microsoft.Extensions.Logging;
using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Jobs;

/// <summary>
/// Caps the disk all job journals take, per session and server-wide, so no number of jobs can fill the disk.
/// </summary>
/// <remarks>
/// <para>A journal's size is bounded up front (<see cref="JournalLimits.MaxDiskBytes"/>), so a running job is charged
/// that bound and can never push the total over the cap while it writes; once it ends it is charged its real size.
/// Admission is the only decision point:</para>
/// <list type="number">
/// <item>If the new job's full limits do not fit, the oldest ended journals are evicted (deleted by their owner's
/// callback): first the session's own, for the session cap, then anyone's, for the server cap.</item>
/// <item>If they still do not fit (running jobs hold the room), the new job gets proportionally smaller limits.</item>
/// <item>With less room than <see cref="JournalOptions.MinJobBytes"/>, it is refused (<see cref="JournalBudgetException"/>).</item>
/// </list>
/// <para>Running jobs are never trimmed: their cursors and promised limits stay valid until they end.</para>
/// </remarks>
internal sealed partial class JournalBudget(JournalOptions options, ILogger<JournalBudget> logger)
{
    private readonly Lock _gate = new();

    // Ended journals, oldest end first: the eviction order.
    private readonly LinkedList<JournalReservation> _ended = [];
    private readonly Dictionary<string, (long Charged, int Running)> _sessions = new(StringComparer.Ordinal);
    private long _charged;

    /// <summary>Bytes charged across the server now.</summary>
    public long ChargedBytes
    {
        get { lock (_gate) { return _charged; } }
    }

    /// <summary>Bytes charged to one session now.</summary>
    public long SessionChargedBytes(string sessionId)
    {
        lock (_gate)
        {
            return _sessions.GetValueOrDefault(sessionId).Charged;
        }
    }

    /// <summary>
    /// Admits a new job of <paramref name="sessionId"/>: the limits its journal gets are in the reservation.
    /// </summary>
    /// <param name="evict">Deletes this journal when the budget needs its room after it ended.</param>
    /// <exception cref="JournalBudgetException">Running jobs hold the room a new journal needs.</exception>
    /// <param name="wanted">The limits this job asks for (default: the configured ones).</param>
    public JournalReservation Reserve(string sessionId, Action evict, JournalLimits? wanted = null)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(evict);
        wanted ??= options.Limits;
        var need = wanted.MaxDiskBytes;
        var victims = new List<JournalReservation>();
        JournalReservation reservation;
        lock (_gate)
        {
            var session = _sessions.GetValueOrDefault(sessionId);
            var sessionFree = options.SessionBytes - session.Charged;
            var serverFree = options.ServerBytes - _charged;
            for (var node = _ended.First; node is not null && sessionFree < need; node = node.Next)
            {
                if (node.Value.SessionId == sessionId)
                {
                    victims.Add(node.Value);
                    sessionFree += node.Value.ChargedBytes;
                    serverFree += node.Value.ChargedBytes;
                }
            }

            for (var node = _ended.First; node is not null && serverFree < need; node = node.Next)
            {
                if (node.Value.SessionId != sessionId)
                {
                    victims.Add(node.Value);
                    serverFree += node.Value.ChargedBytes;
                }
            }

            var room = Math.Min(sessionFree, serverFree);
            var limits = room >= options.MinJobBytes ? wanted.ShrunkToFit(room) : null;
            if (limits is null)
            {
                throw new JournalBudgetException(RefusalMessage(sessionId, session, sessionFree < serverFree));
            }

            foreach (var victim in victims)
            {
                _ended.Remove(victim.EndedNode!);
                victim.EndedNode = null;
                Uncharge(victim);
            }

            reservation = new JournalReservation(this, sessionId, limits, evict);
            Charge(reservation, limits.MaxDiskBytes, running: true);
        }

        Evict(victims);
        return reservation;
    }

    /// <summary>
    /// Charges a journal that already exists (found at start-up) without asking whether it fits: it is on disk
    /// already. New jobs then make room by evicting the oldest ended ones as usual.
    /// </summary>
    /// <param name="chargedBytes">Its size on disk when <paramref name="ended"/>, else its limits' bound.</param>
    public JournalReservation Adopt(string sessionId, JournalLimits limits, long chargedBytes, bool ended, Action evict)
    {
        ArgumentNullException.ThrowIfNull(sessionId);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(evict);
        lock (_gate)
        {
            var reservation = new JournalReservation(this, sessionId, limits, evict);
            Charge(reservation, chargedBytes, running: !ended);
            if (ended)
            {
                reservation.EndedNode = _ended.AddLast(reservation);
            }

            return reservation;
        }
    }

    internal void MarkEnded(JournalReservation reservation, long diskBytes)
    {
        lock (_gate)
        {
            if (reservation.Released || !reservation.Running)
            {
                return;
            }

            var (charged, running) = _sessions[reservation.SessionId];
            var bytes = Math.Clamp(diskBytes, 0, reservation.ChargedBytes);
            _sessions[reservation.SessionId] = (charged - reservation.ChargedBytes + bytes, running - 1);
            _charged += bytes - reservation.ChargedBytes;
            reservation.ChargedBytes = bytes;
            reservation.Running = false;
            reservation.EndedNode = _ended.AddLast(reservation);
        }
    }

    internal void Release(JournalReservation reservation)
    {
        lock (_gate)
        {
            if (reservation.Released)
            {
                return;
            }

            if (reservation.EndedNode is not null)
            {
                _ended.Remove(reservation.EndedNode);
                reservation.EndedNode = null;
            }

            Uncharge(reservation);
        }
    }

    private void Charge(JournalReservation reservation, long bytes, bool running)
    {
        var (charged, count) = _sessions.GetValueOrDefault(reservation.SessionId);
        _sessions[reservation.SessionId] = (charged + bytes, count + (running ? 1 : 0));
        _charged += bytes;
        reservation.ChargedBytes = bytes;
        reservation.Running = running;
    }

    private void Uncharge(JournalReservation reservation)
    {
        var (charged, running) = _sessions[reservation.SessionId];
        running -= reservation.Running ? 1 : 0;
        charged -= reservation.ChargedBytes;
        if (charged == 0 && running == 0)
        {
            _sessions.Remove(reservation.SessionId); // sessions come and go: keep no entry for one without journals
        }
        else
        {
            _sessions[reservation.SessionId] = (charged, running);
        }

        _charged -= reservation.ChargedBytes;
        reservation.Released = true;
    }

    private void Evict(List<JournalReservation> victims)
    {
        foreach (var victim in victims)
        {
            try
            {
                victim.Evict();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Its charge is gone already; leftover files are the owner's to clean at the next start.
                LogEvictionFailed(logger, victim.SessionId, e);
            }
        }
    }

    private string RefusalMessage(string sessionId, (long Charged, int Running) session, bool sessionCapped)
    {
        static string MiB(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB";
        return sessionCapped
            ? $"Session {sessionId} has no room for another job's output: its {session.Running} running job(s) hold {MiB(session.Charged)} of the {MiB(options.SessionBytes)} its jobs may keep. Wait for a job to end or kill one, then start this one."
            : $"The server has no room for another job's output: running jobs in all sessions hold {MiB(_charged)} of the {MiB(options.ServerBytes)} all jobs may keep. Wait for a job to end or kill one, then start this one.";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete an evicted job journal of session {SessionId}")]
    private static partial void LogEvictionFailed(ILogger logger, string sessionId, Exception exception);
}

/// <summary>
/// One journal's share of a <see cref="JournalBudget"/>: the limits it was given, and what its owner reports back.
/// </summary>
internal sealed class JournalReservation
{
    private readonly JournalBudget _budget;

    internal JournalReservation(JournalBudget budget, string sessionId, JournalLimits limits, Action evict)
    {
        _budget = budget;
        SessionId = sessionId;
        Limits = limits;
        Evict = evict;
    }

    public string SessionId { get; }

    /// <summary>The limits to create the journal with (the defaults, or smaller when the budget is tight).</summary>
    public JournalLimits Limits { get; }

    /// <summary>What the budget counts for this journal now.</summary>
    public long ChargedBytes { get; internal set; }

    internal Action Evict { get; }

    internal LinkedListNode<JournalReservation>? EndedNode { get; set; }

    // Both guarded by the budget's lock.
    internal bool Released { get; set; }

    internal bool Running { get; set; }

    /// <summary>The job ended: from now on it is charged <paramref name="diskBytes"/> and may be evicted, oldest first.</summary>
    public void Ended(long diskBytes) => _budget.MarkEnded(this, diskBytes);

    /// <summary>The owner deleted the journal itself (job removed): its room is free again.</summary>
    public void Release() => _budget.Release(this);
}

/// <summary>A new job was refused because running jobs hold all the room for output.</summary>
internal sealed class JournalBudgetException(string message) : SessionException(message);
