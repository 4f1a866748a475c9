using System.Text;

namespace SessionMcp.Containers.Local;

/// <summary>Finds sessions' processes by the marker variable in their environment, for clean-up on destroy and at start.</summary>
internal static class SessionProcesses
{
    public static int KillAll(string markerVariable, string sessionId) => KillAll(markerVariable, [sessionId]);

    /// <summary>Kills every process (but this one) whose environment names one of <paramref name="sessionIds"/>; one pass over /proc.</summary>
    public static int KillAll(string markerVariable, IReadOnlyCollection<string> sessionIds)
    {
        if (sessionIds.Count == 0)
        {
            return 0;
        }
        var markers = sessionIds.Select(id => Encoding.UTF8.GetBytes($"{markerVariable}={id}\0")).ToList();
        var killed = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var environ = File.ReadAllBytes(Path.Combine(directory, "environ"));
                if (markers.Any(marker => HasEntry(environ, marker)))
                {
                    if (Native.LibC.kill(pid, 9) == 0)
                    {
                        killed++;
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return killed;
    }

    /// <summary>Whether <paramref name="entry"/> (ending in NUL) is a whole entry of the environment block: at its start or right after another entry's NUL.</summary>
    internal static bool HasEntry(ReadOnlySpan<byte> environ, ReadOnlySpan<byte> entry)
    {
        var offset = 0;
        while (environ[offset..].IndexOf(entry) is var found and >= 0)
        {
            var at = offset + found;
            if (at == 0 || environ[at - 1] == 0)
            {
                return true;
            }
            offset = at + 1;
        }
        return false;
    }
}
