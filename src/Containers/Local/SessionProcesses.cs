using System.Text;

namespace SessionMcp.Containers.Local;

/// <summary>Finds a session's processes by the marker variable in their environment, for clean-up on destroy.</summary>
internal static class SessionProcesses
{
    public static int KillAll(string markerVariable, string sessionId)
    {
        var marker = Encoding.UTF8.GetBytes($"{markerVariable}={sessionId}\0");
        var markerAfterAnother = Encoding.UTF8.GetBytes($"\0{markerVariable}={sessionId}\0");
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
                // The marker must be a whole entry: at the start, or right after another entry's NUL.
                if (environ.AsSpan().StartsWith(marker) || environ.AsSpan().IndexOf(markerAfterAnother) >= 0)
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
}
