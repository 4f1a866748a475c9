using System.Globalization;

namespace SessionMcp.Containers.Tests.Local;

/// <summary>Shared helpers for tests that start real processes.</summary>
internal static class LocalTestEnvironment
{
    public static Dictionary<string, string> MinimalEnvironment() =>
        new(StringComparer.Ordinal) { ["PATH"] = "/usr/local/bin:/usr/bin:/bin", ["LC_ALL"] = "C.UTF-8" };

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Polls an external condition (another process's state) until it holds or the deadline passes.</summary>
    public static bool WaitUntil(Func<bool> condition, TimeSpan deadline)
    {
        var until = DateTime.UtcNow + deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                return false;
            }

            Thread.Sleep(10);
        }

        return true;
    }

    public static void KillIfAlive(int pid)
    {
        try
        {
            System.Diagnostics.Process.GetProcessById(pid).Kill();
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }
}
