using System.Text;

namespace SessionMcp.McpServer.Tests.Infrastructure;

/// <summary>Looks at the host's /proc for processes of a local session (they carry SESSION_MCP_SESSION=id).</summary>
public static class LocalProcesses
{
    /// <summary>Live (non-zombie) processes whose command line is exactly <paramref name="argv"/> and that belong to the session.</summary>
    public static IReadOnlyList<int> Find(string sessionId, params string[] argv)
    {
        var cmdline = Encoding.UTF8.GetBytes(string.Concat(argv.Select(a => a + "\0")));
        var marker = Encoding.UTF8.GetBytes($"SESSION_MCP_SESSION={sessionId}\0");
        var markerAfterAnother = Encoding.UTF8.GetBytes($"\0SESSION_MCP_SESSION={sessionId}\0");
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                // A zombie has an empty cmdline, so it never matches: only processes still running count.
                if (!File.ReadAllBytes(Path.Combine(directory, "cmdline")).AsSpan().SequenceEqual(cmdline))
                {
                    continue;
                }
                var environ = File.ReadAllBytes(Path.Combine(directory, "environ"));
                if (environ.AsSpan().StartsWith(marker) || environ.AsSpan().IndexOf(markerAfterAnother) >= 0)
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }
        return found;
    }

    /// <summary>Live processes whose command line is exactly <paramref name="argv"/>, whatever their environment (one that dropped the session marker too).</summary>
    public static IReadOnlyList<int> FindByCommandLine(params string[] argv)
    {
        var cmdline = Encoding.UTF8.GetBytes(string.Concat(argv.Select(a => a + "\0")));
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                if (File.ReadAllBytes(Path.Combine(directory, "cmdline")).AsSpan().SequenceEqual(cmdline))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }
        return found;
    }
}
