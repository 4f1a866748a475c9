using System.Globalization;
using System.Text;

namespace SessionMcp.SessionRouting.Audit;

/// <summary>
/// The log's newest head (sequence number and hash) kept outside the database, so a log whose newest events were
/// deleted — or that was replaced by another one — is caught at the next start instead of passing as a shorter log.
/// </summary>
/// <remarks>
/// One fixed-width line (<c>v1 SEQ HASH</c>) overwritten in place with one <c>pwrite</c> at offset 0 through a handle kept
/// open, no fsync: a few microseconds per event. Temp-file-and-rename would survive a torn write but costs a create, a
/// write, a close and a rename (a directory update) per event; a record of ~90 bytes written by one syscall into the
/// page cache is not torn by a crash or SIGKILL of the server, and the width never changes, so no stale bytes remain.
/// Power loss may lose the latest write — as it may lose the latest commits with <c>synchronous=NORMAL</c>; if the
/// file then says more than the database holds, the report that acknowledged events are gone is true.
/// </remarks>
public sealed class AuditHeadFile : IDisposable
{
    /// <summary>The file's name in the data directory.</summary>
    public const string FileName = "audit-head";

    private const string Version = "v1";
    private readonly Lock _gate = new();
    private FileStream? _file;
    private long _written = -1;

    public AuditHeadFile(string path) => Path = path;

    public string Path { get; }

    /// <summary>Records <paramref name="head"/> unless a newer head was already recorded by this process.</summary>
    /// <exception cref="IOException">The file cannot be written; the event itself is committed.</exception>
    public void Write(AuditHead head)
    {
        // Appends from several threads finish in any order; the file only ever moves forward.
        lock (_gate)
        {
            if (head.Seq <= _written)
            {
                return;
            }
            _file ??= new FileStream(Path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            RandomAccess.Write(_file.SafeFileHandle, Format(head), 0);
            _written = head.Seq;
        }
    }

    /// <summary>The recorded head; null when none was ever recorded (a log from before this file existed).</summary>
    /// <exception cref="FormatException">The file holds something else than a head line.</exception>
    public AuditHead? Read()
    {
        if (!File.Exists(Path))
        {
            return null;
        }
        return Parse(File.ReadAllText(Path));
    }

    /// <summary>The one line the file holds, always the same width.</summary>
    internal static byte[] Format(AuditHead head) =>
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Version} {head.Seq:D19} {head.Hash}\n"));

    internal static AuditHead Parse(string text)
    {
        var parts = text.TrimEnd('\n').Split(' ');
        if (parts.Length != 3 || parts[0] != Version
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            || !HashChain.IsHash(parts[2]))
        {
            var shown = text.Length > 100 ? text[..100] + "..." : text;
            throw new FormatException($"not an audit head line ('{Version} SEQ SHA256'): '{shown.ReplaceLineEndings("\\n")}'");
        }
        return new AuditHead(seq, parts[2]);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }
}
