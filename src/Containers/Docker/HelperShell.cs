using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using SessionMcp.Containers.Docker.Engine;

namespace SessionMcp.Containers.Docker;

/// <summary>
/// The execute-only copy of an image's <c>/bin/sh</c> that the sealed helper runs (see <see cref="HelperScript"/>'s threat
/// model): kept on the host as a mode-0111 file, one directory per image, bind-mounted read-only at
/// <see cref="ContainerDirectory"/>. A process that execs a file it cannot read is non-dumpable, which closes the
/// helper's /proc entries to the session's uid.
/// </summary>
internal static class HelperShell
{
    public const string ContainerDirectory = "/.session-mcp/bin";
    public const string ContainerPath = ContainerDirectory + "/sh";

    private const string FileName = "sh";
    private const int MaxSymlinkHops = 8;

    /// <summary>The host directory holding <paramref name="imageId"/>'s shell (created, empty, when missing).</summary>
    public static string HostDirectory(string dataDir, string imageId)
    {
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(imageId)))[..24];
        var directory = Path.Combine(dataDir, "helper-shells", key);
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(Path.Combine(dataDir, "helper-shells"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return directory;
    }

    /// <summary>
    /// Puts the image's shell into <paramref name="hostDirectory"/> unless it is there. Copied from the container's
    /// filesystem through the archive API (symlinks followed), so it works on a created container before anything of
    /// the session has run in it.
    /// </summary>
    public static async Task EnsureAsync(DockerEngineClient engine, string containerId, string hostDirectory, CancellationToken cancellationToken)
    {
        var target = Path.Combine(hostDirectory, FileName);
        if (File.Exists(target))
        {
            return;
        }
        var path = "/bin/sh";
        for (var hop = 0; hop < MaxSymlinkHops; hop++)
        {
            var archive = await engine.GetArchiveAsync(containerId, path, cancellationToken).ConfigureAwait(false);
            await using (archive.ConfigureAwait(false))
            {
                using var reader = new TarReader(archive);
                var entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false)
                    ?? throw new DockerEngineException($"the image has no {path}, which the session helper needs");
                if (entry.EntryType == TarEntryType.SymbolicLink)
                {
                    path = entry.LinkName.StartsWith('/') ? entry.LinkName : $"{path[..(path.LastIndexOf('/') + 1)]}{entry.LinkName}";
                    continue;
                }
                if (entry.DataStream is null || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    throw new DockerEngineException($"the image's {path} is not a regular file ({entry.EntryType}); the session helper needs a /bin/sh");
                }
                // Written aside and renamed: sessions of the same image may be created side by side.
                var temporary = Path.Combine(hostDirectory, $".{FileName}.{Guid.NewGuid():N}.tmp");
                try
                {
                    var file = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserWrite });
                    await using (file.ConfigureAwait(false))
                    {
                        await entry.DataStream.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                    }
                    File.SetUnixFileMode(temporary, UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
                    File.Move(temporary, target, overwrite: true);
                }
                finally
                {
                    File.Delete(temporary);
                }
                return;
            }
        }
        throw new DockerEngineException($"the image's /bin/sh is a chain of more than {MaxSymlinkHops} symbolic links");
    }
}
