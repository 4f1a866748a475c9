using System.Text;
using SessionMcp.SessionRouting.Jobs;

namespace SessionMcp.SessionRouting.Tests.Jobs;

/// <summary>A fresh temp directory for journals, and helpers to write and check deterministic output.</summary>
internal sealed class ScratchJournals : IDisposable
{
    private readonly List<JobJournal> _opened = [];

    public ScratchJournals()
    {
        Directory = Path.Combine(Path.GetTempPath(), "session-mcp-tests", $"jobs-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string jobId) => Path.Combine(Directory, jobId + ".journal");

    public JobJournal Create(string jobId, JournalLimits? limits = null) =>
        Track(JobJournal.Create(PathOf(jobId), limits ?? JournalLimits.Default));

    public JobJournal Reopen(string jobId) => Track(JobJournal.Open(PathOf(jobId)));

    /// <summary>Every file the journal of <paramref name="jobId"/> has on disk, head first.</summary>
    public IReadOnlyList<FileInfo> FilesOf(string jobId) =>
        new DirectoryInfo(Directory).GetFiles(jobId + ".journal*").OrderBy(f => f.Name.Length).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();

    public long DiskBytesOf(string jobId) => FilesOf(jobId).Sum(f => f.Length);

    /// <summary>The byte a job writes at <paramref name="offset"/> in the pattern tests check reads against.</summary>
    public static byte PatternByte(long offset) => (byte)('a' + (offset * 7 + offset / 13) % 26);

    public static byte[] Pattern(long offset, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = PatternByte(offset + i);
        }

        return bytes;
    }

    /// <summary>Reads everything from <paramref name="cursor"/> to the end, a page at a time.</summary>
    public static (List<JournalChunk> Chunks, List<JournalGap> Gaps, long End) ReadAll(JobJournal journal, long cursor = 0, int pageBytes = 64 * 1024)
    {
        var chunks = new List<JournalChunk>();
        var gaps = new List<JournalGap>();
        while (true)
        {
            var read = journal.Read(cursor, pageBytes);
            chunks.AddRange(read.Chunks);
            if (read.Gap is not null)
            {
                gaps.Add(read.Gap);
            }

            if (read.NextCursor == cursor)
            {
                return (chunks, gaps, cursor);
            }

            cursor = read.NextCursor;
        }
    }

    public static string Text(IEnumerable<JournalChunk> chunks, JobStream? stream = null) =>
        string.Concat(chunks.Where(c => stream is null || c.Stream == stream).Select(c => Encoding.UTF8.GetString(c.Bytes.Span)));

    public void Dispose()
    {
        foreach (var journal in _opened)
        {
            journal.Dispose();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind is harmless.
        }
    }

    private JobJournal Track(JobJournal journal)
    {
        _opened.Add(journal);
        return journal;
    }
}
