using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SessionMcp.Tests.Shared;

/// <summary>A fact that needs a Docker engine: skipped where none answers, except in CI (CI=true), where it must fail instead.</summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (DockerRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs a Docker engine: skipped where none answers, except in CI (CI=true), where it must fail instead.</summary>
public sealed class DockerTheoryAttribute : TheoryAttribute
{
    public DockerTheoryAttribute()
    {
        if (DockerRequirement.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>The image built by samples/images/build-image.sh; the suite builds it itself when an engine answers.</summary>
public static class DockerTestImage
{
    public const string Name = "session-mcp/busybox:latest";
}

/// <summary>
/// Decides once per test process whether Docker tests run: probes the engine with raw HTTP (standalone from the client
/// under test) and, when it answers but the test image is missing, builds the image with samples/images/build-image.sh.
/// </summary>
public static class DockerRequirement
{
    internal const string BuildScript = "samples/images/build-image.sh";
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    // A build takes seconds; installing busybox-static from the Debian mirror first takes longer.
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);

    // Longer than a build, so a test process waiting on another one's build outlasts it.
    private static readonly TimeSpan LockTimeout = BuildTimeout + TimeSpan.FromMinutes(1);

    // dotnet test runs the test assemblies in parallel processes: one builds, the others wait and re-check.
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "session-mcp-test-image.lock");

    private static readonly Lazy<Verdict> LazyVerdict = new(Decide, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The endpoint tests talk to: DOCKER_HOST, else the default unix socket.</summary>
    public static string Endpoint =>
        Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } configured ? configured : "unix:///var/run/docker.sock";

    /// <summary>Null when Docker tests should run; otherwise why they are skipped.</summary>
    public static string? SkipReason => LazyVerdict.Value.SkipReason;

    /// <summary>
    /// Fails the calling test, with the reason, when Docker tests must run (CI=true) but cannot: no engine, or the
    /// test image could not be built (the message carries the build's output). A no-op everywhere else.
    /// </summary>
    public static void ThrowIfUnavailable()
    {
        if (LazyVerdict.Value.FailReason is { } reason)
        {
            throw new InvalidOperationException(reason);
        }
    }

    /// <summary>
    /// Makes sure <paramref name="tag"/> exists on the engine, building it with samples/images/build-image.sh if not.
    /// Synchronous on purpose: it runs from attribute constructors, which cannot await.
    /// </summary>
    internal static ImageBuild EnsureImage(string tag)
    {
        if (ImageExists(tag))
        {
            return ImageBuild.Present;
        }

        try
        {
            using var buildLock = AcquireLock();
            if (buildLock is null)
            {
                return ImageBuild.Failed($"another test process held {LockPath} for over {LockTimeout.TotalMinutes:0} minutes while building");
            }

            // Another process may have built it while this one waited.
            return ImageExists(tag) ? ImageBuild.Present : Build(tag);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return ImageBuild.Failed($"cannot take the build lock {LockPath}: {exception.Message}");
        }
    }

    /// <summary>GET /images/{tag}/json answers 200.</summary>
    internal static bool ImageExists(string tag) => Send("GET", $"/images/{Uri.EscapeDataString(tag)}/json") == 200;

    /// <summary>DELETE /images/{tag}: untags it, and removes the image when no other tag or container holds it.</summary>
    internal static bool RemoveImage(string tag) => Send("DELETE", $"/images/{Uri.EscapeDataString(tag)}") == 200;

    private static Verdict Decide()
    {
        // In CI a missing engine or image is a broken pipeline, not a reason to go green.
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        var endpoint = Endpoint;
        if (Send("GET", "/_ping") != 200)
        {
            var notReachable = $"Docker engine not reachable at {endpoint}: is dockerd running? (start it with .ci/start-docker.sh)";
            return ci ? new Verdict(null, notReachable) : new Verdict(notReachable, null);
        }

        var build = EnsureImage(DockerTestImage.Name);
        if (build.Succeeded)
        {
            return new Verdict(null, null);
        }

        var howTo = $"build it with `{BuildScript}` (run as root, or with passwordless sudo, if /bin/busybox is missing: it apt-get installs busybox-static)";
        return ci
            ? new Verdict(null, $"The test image {DockerTestImage.Name} is missing and building it failed: {build.Problem}; {howTo}.{build.OutputSection}")
            : new Verdict($"The test image {DockerTestImage.Name} is missing and could not be built ({build.Problem}); {howTo}.", null);
    }

    private static ImageBuild Build(string tag)
    {
        if (FindRepositoryRoot() is not { } root)
        {
            return ImageBuild.Failed($"Mcp.sln not found above {AppContext.BaseDirectory}, so {BuildScript} cannot be found");
        }

        // build-image.sh installs busybox-static when /bin/busybox is missing; without root that needs sudo, which
        // must not stop to ask for a password nobody sees.
        if (!File.Exists("/bin/busybox") && !Environment.IsPrivilegedProcess && Run("sudo", ["-n", "true"], TimeSpan.FromSeconds(10)).ExitCode != 0)
        {
            return ImageBuild.Failed("/bin/busybox is missing and installing busybox-static needs root or passwordless sudo, which this test process has neither of");
        }

        var (exitCode, output) = Run("bash", [Path.Combine(root, BuildScript), tag], BuildTimeout);
        if (exitCode is null)
        {
            return ImageBuild.Failed($"{BuildScript} did not finish within {BuildTimeout.TotalMinutes:0} minutes", output);
        }

        if (exitCode != 0)
        {
            return ImageBuild.Failed($"{BuildScript} exited with {exitCode}", output);
        }

        return ImageExists(tag) ? ImageBuild.Built : ImageBuild.Failed($"{BuildScript} succeeded but the engine has no {tag}", output);
    }

    private static FileStream? AcquireLock()
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive flock on Unix, held until the stream is disposed (or the process dies).
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < LockTimeout)
            {
                // Another test process is building. Polling, because attribute constructors cannot await.
                Thread.Sleep(TimeSpan.FromMilliseconds(200));
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    private static string? FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mcp.sln")))
            {
                return directory.FullName;
            }
        }

        return null;
    }

    /// <summary>Runs a program with stdin closed; stdout and stderr interleaved. A null exit code means it timed out and was killed.</summary>
    private static (int? ExitCode, string Output) Run(string program, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        void Append(object sender, DataReceivedEventArgs line)
        {
            if (line.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(line.Data);
                }
            }
        }

        try
        {
            using var process = new Process { StartInfo = startInfo };
            process.OutputDataReceived += Append;
            process.ErrorDataReceived += Append;
            process.Start();
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (null, Text());
            }

            // The parameterless wait also drains the asynchronous output handlers.
            process.WaitForExit();
            return (process.ExitCode, Text());
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            return (127, $"cannot run {program}: {exception.Message}");
        }

        string Text()
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Sends one bodyless request over a fresh connection and returns the status code; null when the engine does not answer.</summary>
    private static int? Send(string method, string path)
    {
        try
        {
            using var socket = Connect(Endpoint);
            if (socket is null)
            {
                return null;
            }

            socket.ReceiveTimeout = (int)ProbeTimeout.TotalMilliseconds;
            socket.SendTimeout = (int)ProbeTimeout.TotalMilliseconds;
            socket.Send(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.0\r\nHost: docker\r\n\r\n"));
            var buffer = new byte[64];
            var statusLine = Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer));
            // "HTTP/1.x NNN ..."
            return statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) && statusLine.Length >= 12 && int.TryParse(statusLine.AsSpan(9, 3), out var status)
                ? status
                : null;
        }
        catch (Exception exception) when (exception is SocketException or IOException or ObjectDisposedException)
        {
            return null;
        }
    }

    private static Socket? Connect(string endpoint)
    {
        Socket socket;
        EndPoint target;
        if (endpoint.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
        {
            var path = endpoint["unix://".Length..];
            if (!File.Exists(path))
            {
                return null;
            }

            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            target = new UnixDomainSocketEndPoint(path);
        }
        else if (Uri.TryCreate(endpoint.Replace("tcp://", "http://", StringComparison.OrdinalIgnoreCase), UriKind.Absolute, out var uri))
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            target = new DnsEndPoint(uri.Host, uri.IsDefaultPort ? 2375 : uri.Port);
        }
        else
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(ProbeTimeout);
        try
        {
            // Synchronous on purpose: attribute constructors cannot await, and this runs a few times per process.
            socket.ConnectAsync(target, timeout.Token).AsTask().GetAwaiter().GetResult();
            return socket;
        }
        catch (Exception exception) when (exception is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            return null;
        }
    }

    private sealed record Verdict(string? SkipReason, string? FailReason);
}

/// <summary>What <see cref="DockerRequirement.EnsureImage"/> found or did; <see cref="Output"/> is the build script's.</summary>
internal sealed record ImageBuild(bool Succeeded, bool WasBuilt, string? Problem, string Output)
{
    public static readonly ImageBuild Present = new(true, false, null, "");

    public static readonly ImageBuild Built = new(true, true, null, "");

    public string OutputSection => Output.Length == 0 ? "" : $"\n--- {DockerRequirement.BuildScript} output ---\n{Output.TrimEnd()}";

    public static ImageBuild Failed(string problem, string output = "") => new(false, false, problem, output);
}
