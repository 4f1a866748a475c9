using System.Diagnostics;
using System.Text;

namespace SessionMcp.SessionRouting.History;

/// <summary>The result of one git command: exit code, stdout as bytes (object ids, NUL-separated listings), stderr as text.</summary>
internal sealed record GitOutput(int ExitCode, byte[] Stdout, string Stderr)
{
    public string Text => Encoding.UTF8.GetString(Stdout).TrimEnd('\n');
}

/// <summary>
/// Runs the machine's `git` with an argument list (never a shell line), in a given directory, with extra environment
/// (GIT_INDEX_FILE, author and committer). The repository's own git reads and writes it, so every repository format and
/// config it understands works, and what it writes is what the user's git will read.
/// </summary>
internal static class GitCli
{
    public static async Task<GitOutput> RunAsync(
        string directory,
        IReadOnlyList<string> arguments,
        byte[]? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo("git")
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // A variable inherited from a caller inside another repository must not redirect these commands there.
        foreach (var inherited in new[] { "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_NAMESPACE" })
        {
            start.Environment.Remove(inherited);
        }
        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["LC_ALL"] = "C";
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new ExportException("Could not start git.");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new ExportException("git is not installed on the server's machine; install it, or export with format \"patch\".");
        }
        using (process)
        {
            var stdout = new MemoryStream();
            var reading = process.StandardOutput.BaseStream.CopyToAsync(stdout, cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            if (stdin is not null)
            {
                await process.StandardInput.BaseStream.WriteAsync(stdin, cancellationToken).ConfigureAwait(false);
            }
            process.StandardInput.Close();
            await reading.ConfigureAwait(false);
            var error = await stderr.ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return new GitOutput(process.ExitCode, stdout.ToArray(), error);
        }
    }

    /// <summary>As <see cref="RunAsync"/>, throwing with git's own message when it fails.</summary>
    public static async Task<GitOutput> CheckedAsync(
        string directory,
        IReadOnlyList<string> arguments,
        byte[]? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var output = await RunAsync(directory, arguments, stdin, environment, cancellationToken).ConfigureAwait(false);
        if (output.ExitCode != 0)
        {
            throw new ExportException($"git {arguments.FirstOrDefault(a => !a.StartsWith('-'))} failed in {directory}: {output.Stderr.Trim()}");
        }
        return output;
    }
}
