using System.Globalization;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.Containers.Local;

/// <summary>A local session's use, from its cgroup (which holds every process its commands started) and each process's
/// <c>/proc</c> entry; at most <see cref="MaxCountedProcesses"/> are read, so a fork bomb cannot make a listing slow.</summary>
internal sealed partial class LocalBackend : IUsageBackend
{
    private const int MaxCountedProcesses = 1_000;
    private static readonly long PageBytes = Environment.SystemPageSize;

    // USER_HZ, the unit of utime and stime: 100 on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    public Task<SessionUsage?> UsageAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        if (_cgroups.Value.Hierarchies is not [var hierarchy, ..])
        {
            return Task.FromResult<SessionUsage?>(null);
        }
        var pids = SessionCgroups.ReadProcs(Path.Combine(hierarchy.Root, session.Id));
        long memory = 0;
        double cpu = 0;
        foreach (var pid in pids.Take(MaxCountedProcesses))
        {
            try
            {
                // statm: size resident shared ... (pages); stat: fields after the command's closing parenthesis.
                var statm = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
                memory += long.Parse(statm[1], CultureInfo.InvariantCulture) * PageBytes;
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                cpu += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended meanwhile.
            }
        }
        return Task.FromResult<SessionUsage?>(new SessionUsage(pids.Count, memory, Math.Round(cpu, 2)));
    }
}
