using System.Globalization;

namespace SessionMcp.Benchmarks;

/// <summary>What /proc says about the server child: its pid, memory, threads and descriptors; and the machine's load.</summary>
internal static class ProcFs
{
    /// <summary>The server child started for <paramref name="dataDir"/> (its command line names the directory).</summary>
    public static int? ServerPid(string dataDir)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid))
            {
                try
                {
                    var cmdline = File.ReadAllText(Path.Combine(directory, "cmdline"));
                    if (cmdline.Contains("session-mcp.dll", StringComparison.Ordinal) && cmdline.Contains(dataDir, StringComparison.Ordinal))
                    {
                        return pid;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
        return null;
    }

    /// <summary>Resident set (VmRSS) in bytes; 0 once the process is gone.</summary>
    public static long Rss(int pid) => StatusField(pid, "VmRSS:") * 1024;

    public static long Threads(int pid) => StatusField(pid, "Threads:");

    public static int OpenDescriptors(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>The processes whose parent is <paramref name="pid"/>, with their VmRSS in bytes.</summary>
    public static List<(int Pid, long Rss)> Children(int pid)
    {
        var children = new List<(int, long)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var child) && StatusField(child, "PPid:") == pid)
            {
                children.Add((child, Rss(child)));
            }
        }
        return children;
    }

    /// <summary>User plus system CPU time the process has used, in seconds (from /proc/PID/stat, at 100 ticks a second).</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ": state is field 3, utime 14 and stime 15.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    public static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture);

    private static long StatusField(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
