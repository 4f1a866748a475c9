using System.Diagnostics;
using SessionMcp.Containers.Docker;

namespace SessionMcp.Containers.Tests.Docker;

/// <summary>The helper's shell code, run by a real /bin/sh on the host (the same POSIX code runs in any container).</summary>
public sealed class HelperScriptTests
{
    [Fact]
    public void EnvironmentScriptUnsetsWhatTheSessionDoesNotHaveAndExportsTheRest()
    {
        var script = HelperScript.EnvironmentScript(["PATH", "HOSTNAME", "HOME"], new Dictionary<string, string> { ["PATH"] = "/bin", ["A"] = "it's" });

        Assert.Contains("unset HOSTNAME HOME\n", script);
        Assert.Contains("export A='it'\\''s'\n", script);
        Assert.Contains("export PATH='/bin'\n", script);
    }

    [Fact]
    public void EnvironmentScriptGivesTheCommandExactlyTheSessionEnvironment()
    {
        // Given a shell whose own environment has extra variables
        var script = HelperScript.EnvironmentScript(["EXTRA", "PATH"], new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["A"] = "x y\nz" });

        // When
        var output = RunSh(script + "printf '%s|' \"$A\" \"${EXTRA-unset}\"", new Dictionary<string, string> { ["EXTRA"] = "1", ["PATH"] = "/usr/bin:/bin" });

        // Then
        Assert.Equal("x y\nz|unset|", output);
    }

    private static string RunSh(string script, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.Environment.Clear();
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
