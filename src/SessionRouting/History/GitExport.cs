using System.Text;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// What to record in the source's repository.
/// </summary>
/// <param name="SourceDir">The directory the session copied (its <c>source_dir</c>); the repository's root or a folder
/// inside it.</param>
/// <param name="Baseline">The tree the session started from (its copy of <see cref="SourceDir"/>).</param>
/// <param name="Changes">The session's change: from <see cref="Baseline"/> to its current files.</param>
/// <param name="Branch">The branch to create, e.g. <c>session-mcp/&lt;session-id&gt;</c> (<see cref="DefaultBranch"/>).</param>
/// <param name="Force">Move the branch if it exists (never the checked-out one).</param>
internal sealed record GitExportRequest(
    string SourceDir,
    WorkspaceTree Baseline,
    IReadOnlyList<FileChange> Changes,
    IBlobReader Blobs,
    string Branch,
    string AuthorName,
    string AuthorEmail,
    string Message,
    bool Force = false)
{
    public static string DefaultBranch(string sessionId) => $"session-mcp/{sessionId}";
}

/// <param name="Commit">The session's commit, the branch's new tip.</param>
/// <param name="BaseCommit">The commit HEAD pointed at (null in a repository with no commit yet).</param>
/// <param name="BaselineCommit">When files the session changed differed, at its start, from <see cref="BaseCommit"/>
/// (uncommitted edits in the source): a commit of those files as the session found them, parent of
/// <see cref="Commit"/>, so the session's commit holds only the session's change. Null otherwise.</param>
/// <param name="ContentMissing">Changed paths whose new content is not stored: left as they are in the base.</param>
/// <param name="PathsChanged">Paths the session's commit adds, changes or removes (a rename counts its two paths).</param>
internal sealed record GitExportResult(
    string Branch,
    string Commit,
    string? BaseCommit,
    string? BaselineCommit,
    IReadOnlyList<string> ContentMissing,
    int PathsChanged);

/// <summary>
/// Records a session's change as a commit on a new branch of the source directory's git repository, with plumbing only
/// (fast-import for the contents, a temporary index file, write-tree, commit-tree, update-ref): the working tree, the real index, HEAD
/// and the checked-out branch are never touched, so a user's uncommitted work stays as it was.
/// </summary>
/// <remarks>
/// The commit is HEAD's tree with only the paths the session changed replaced. Where such a path already differed from
/// HEAD when the session copied the source (the user had uncommitted edits in it), committing the session's version
/// straight onto HEAD would pass the user's edits off as the session's; a "baseline" commit of those paths as the
/// session found them comes first instead, and is named in the result. Paths the session did not touch stay as in HEAD,
/// whatever the working tree holds. The git CLI rather than LibGit2Sharp: it is already needed on a machine that has a
/// repository, and it reads every repository format and config that the user's git does.
/// </remarks>
internal static class GitExport
{
    public static async Task<GitExportResult> ExportAsync(GitExportRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Directory.Exists(request.SourceDir))
        {
            throw new ExportException($"The source directory {request.SourceDir} does not exist any more; export the session as a patch instead.");
        }
        if (request.Changes.Count == 0)
        {
            throw new ExportException("The session changed no file since it copied its source: there is nothing to export.");
        }

        var topLevel = await GitCli.RunAsync(request.SourceDir, ["rev-parse", "--show-toplevel", "--show-prefix"], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (topLevel.ExitCode != 0)
        {
            throw new ExportException($"The source directory {request.SourceDir} is not inside a git repository; export the session as a patch, or run `git init` there first.");
        }
        var lines = Encoding.UTF8.GetString(topLevel.Stdout).Split('\n');
        var root = lines[0];
        var prefix = lines.Length > 1 ? lines[1] : "";

        var refName = "refs/heads/" + request.Branch;
        var format = await GitCli.RunAsync(root, ["check-ref-format", refName], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (format.ExitCode != 0 || request.Branch.StartsWith('-'))
        {
            throw new ExportException($"'{request.Branch}' is not a valid branch name; choose another (letters, digits, '/', '-', '_', '.').");
        }
        var current = await GitCli.RunAsync(root, ["symbolic-ref", "-q", "HEAD"], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (current.ExitCode == 0 && current.Text == refName)
        {
            throw new ExportException($"Branch '{request.Branch}' is checked out in {root}; export to another branch, so the working tree stays as it is.");
        }
        var existing = await GitCli.RunAsync(root, ["rev-parse", "-q", "--verify", refName], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (existing.ExitCode == 0 && !request.Force)
        {
            throw new ExportException($"Branch '{request.Branch}' already exists (at {existing.Text[..Math.Min(12, existing.Text.Length)]}); choose another name, or set force to move it.");
        }
        var head = await GitCli.RunAsync(root, ["rev-parse", "-q", "--verify", "HEAD^{commit}"], cancellationToken: cancellationToken).ConfigureAwait(false);
        var baseCommit = head.ExitCode == 0 ? head.Text : null;

        var scratch = Directory.CreateTempSubdirectory("session-mcp-export-");
        try
        {
            var index = new Dictionary<string, string> { ["GIT_INDEX_FILE"] = Path.Combine(scratch.FullName, "index") };
            if (baseCommit is not null)
            {
                await GitCli.CheckedAsync(root, ["read-tree", baseCommit], environment: index, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var final = request.Baseline.Apply(request.Changes);
            var touched = request.Changes.SelectMany(c => c.FromPath is { } from ? new[] { from, c.Path } : [c.Path]).Distinct(StringComparer.Ordinal).ToList();
            // Each content is read from the store once: the checks below and the writing share it.
            var contents = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
            bool HasContent(FileEntry entry)
            {
                if (!entry.Stored)
                {
                    return false;
                }
                if (!contents.TryGetValue(entry.Hash, out var content))
                {
                    contents[entry.Hash] = content = request.Blobs.Read(entry.Hash);
                }
                return content is not null;
            }
            // A change whose new content is not stored (above the size limit, pruned) cannot be written: its paths stay as in HEAD.
            var missing = request.Changes.Where(c => c.After is { } after && !HasContent(after))
                .SelectMany(c => c.FromPath is { } from ? new[] { c.Path, from } : [c.Path]).Distinct(StringComparer.Ordinal).ToList();
            var writable = touched.Where(p => !missing.Contains(p, StringComparer.Ordinal)).ToList();
            if (writable.Count == 0)
            {
                throw new ExportException($"The content of every file the session changed is not stored (above the size limit, or pruned): {string.Join(", ", missing)}; nothing was exported.");
            }

            // Every content the commits need, written into the object database by one git process.
            var needed = writable.SelectMany(p => new[] { request.Baseline.GetValueOrDefault(p), final.GetValueOrDefault(p) })
                .OfType<FileEntry>().Where(HasContent).Select(e => e.Hash).Distinct(StringComparer.Ordinal).ToList();
            var ids = await WriteBlobsAsync(root, scratch.FullName, needed, contents, cancellationToken).ConfigureAwait(false);
            var inHead = await ListIndexAsync(root, index, prefix, writable, cancellationToken).ConfigureAwait(false);

            // The paths the session touched, as the session found them: where that differs from HEAD, commit it first.
            var baselineEntries = new List<IndexEntry>();
            foreach (var path in writable)
            {
                IndexEntry wanted = request.Baseline.TryGetValue(path, out var entry) && HasContent(entry)
                    ? new IndexEntry(entry.GitMode, ids[entry.Hash], prefix + path)
                    : new IndexEntry(null, null, prefix + path);
                if (request.Baseline.ContainsKey(path) && wanted.Mode is null)
                {
                    // The session's starting content of this file is not stored: HEAD's version stands for it.
                    continue;
                }
                inHead.TryGetValue(prefix + path, out var headEntry);
                if (headEntry?.Mode != wanted.Mode || headEntry?.Id != wanted.Id)
                {
                    baselineEntries.Add(wanted);
                }
            }

            var parent = baseCommit;
            string? baselineCommit = null;
            if (baselineEntries.Count > 0)
            {
                await UpdateIndexAsync(root, index, baselineEntries, cancellationToken).ConfigureAwait(false);
                baselineCommit = await CommitAsync(root, index, parent, request,
                    $"Baseline of {request.Branch}: the source as the session copied it\n\nThese files had changes not committed in {root} when the session copied it;\nthe next commit holds only what the session changed.\n", cancellationToken).ConfigureAwait(false);
                parent = baselineCommit;
            }

            var finalEntries = new List<IndexEntry>();
            foreach (var path in writable)
            {
                finalEntries.Add(final.TryGetValue(path, out var entry)
                    ? new IndexEntry(entry.GitMode, ids[entry.Hash], prefix + path)
                    : new IndexEntry(null, null, prefix + path));
            }
            await UpdateIndexAsync(root, index, finalEntries, cancellationToken).ConfigureAwait(false);
            var commit = await CommitAsync(root, index, parent, request, request.Message, cancellationToken).ConfigureAwait(false);

            // The old value pins what we checked: the branch is created only if it still does not exist (or still is where
            // a forced move found it), never over a concurrent writer.
            var expected = existing.ExitCode == 0 ? existing.Text : new string('0', commit.Length);
            await GitCli.CheckedAsync(root, ["update-ref", "-m", "session-mcp export", refName, commit, expected], cancellationToken: cancellationToken).ConfigureAwait(false);
            return new GitExportResult(request.Branch, commit, baseCommit, baselineCommit, missing, writable.Count);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>A line of the temporary index: a null mode removes the path.</summary>
    private sealed record IndexEntry(string? Mode, string? Id, string Path);

    private static async Task<Dictionary<string, IndexEntry>> ListIndexAsync(string root, Dictionary<string, string> index, string prefix, List<string> paths, CancellationToken cancellationToken)
    {
        var entries = new Dictionary<string, IndexEntry>(StringComparer.Ordinal);
        if (paths.Count == 0)
        {
            return entries;
        }
        // In batches, so thousands of paths stay under the argument-size limit.
        foreach (var batch in paths.Chunk(500))
        {
            // Literal pathspecs: a name with '*' or '[' is a name, not a pattern.
            var arguments = new List<string> { "--literal-pathspecs", "ls-files", "-s", "-z", "--" };
            arguments.AddRange(batch.Select(p => prefix + p));
            var output = await GitCli.CheckedAsync(root, arguments, environment: index, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var record in Encoding.UTF8.GetString(output.Stdout).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                // "<mode> <id> <stage>\t<path>"
                var tab = record.IndexOf('\t');
                var fields = record[..tab].Split(' ');
                entries[record[(tab + 1)..]] = new IndexEntry(fields[0], fields[1], record[(tab + 1)..]);
            }
        }
        return entries;
    }

    private static async Task UpdateIndexAsync(string root, Dictionary<string, string> index, List<IndexEntry> entries, CancellationToken cancellationToken)
    {
        var removed = string.Concat(entries.Where(e => e.Mode is null).Select(e => e.Path + "\0"));
        if (removed.Length > 0)
        {
            await GitCli.CheckedAsync(root, ["update-index", "-z", "--force-remove", "--stdin"], Encoding.UTF8.GetBytes(removed), index, cancellationToken).ConfigureAwait(false);
        }
        // --index-info: "<mode> <id>\t<path>", NUL-terminated with -z so any name passes.
        var added = string.Concat(entries.Where(e => e.Mode is not null).Select(e => $"{e.Mode} {e.Id}\t{e.Path}\0"));
        if (added.Length > 0)
        {
            await GitCli.CheckedAsync(root, ["update-index", "-z", "--index-info"], Encoding.UTF8.GetBytes(added), index, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string> CommitAsync(string root, Dictionary<string, string> index, string? parent, GitExportRequest request, string message, CancellationToken cancellationToken)
    {
        var tree = (await GitCli.CheckedAsync(root, ["write-tree"], environment: index, cancellationToken: cancellationToken).ConfigureAwait(false)).Text;
        var identity = new Dictionary<string, string>
        {
            ["GIT_AUTHOR_NAME"] = request.AuthorName,
            ["GIT_AUTHOR_EMAIL"] = request.AuthorEmail,
            ["GIT_COMMITTER_NAME"] = request.AuthorName,
            ["GIT_COMMITTER_EMAIL"] = request.AuthorEmail,
        };
        var arguments = new List<string> { "commit-tree", tree };
        if (parent is not null)
        {
            arguments.AddRange(["-p", parent]);
        }
        var output = await GitCli.CheckedAsync(root, arguments, Encoding.UTF8.GetBytes(message), identity, cancellationToken).ConfigureAwait(false);
        return output.Text;
    }

    /// <summary>
    /// Writes stored contents into the repository's object database, each once, by the repository's own hashing (SHA-1
    /// or SHA-256), in one `git fast-import` stream (one pack, no temporary files): the object id of each content hash.
    /// </summary>
    private static async Task<Dictionary<string, string>> WriteBlobsAsync(string root, string scratch, List<string> hashes, Dictionary<string, byte[]?> contents, CancellationToken cancellationToken)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        if (hashes.Count == 0)
        {
            return ids;
        }
        using var stream = new MemoryStream();
        for (var i = 0; i < hashes.Count; i++)
        {
            var content = contents[hashes[i]]!;
            stream.Write(Encoding.ASCII.GetBytes($"blob\nmark :{i + 1}\ndata {content.Length}\n"));
            stream.Write(content);
            stream.WriteByte((byte)'\n');
        }
        stream.Write("done\n"u8);
        var marks = Path.Combine(scratch, "marks");
        await GitCli.CheckedAsync(root, ["fast-import", "--quiet", "--done", $"--export-marks={marks}"], stream.ToArray(), cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var line in await File.ReadAllLinesAsync(marks, cancellationToken).ConfigureAwait(false))
        {
            // ":<mark> <object id>"
            var space = line.IndexOf(' ');
            ids[hashes[int.Parse(line.AsSpan(1, space - 1), System.Globalization.CultureInfo.InvariantCulture) - 1]] = line[(space + 1)..];
        }
        if (ids.Count != hashes.Count)
        {
            throw new ExportException($"git fast-import stored {ids.Count} of {hashes.Count} contents; nothing was exported.");
        }
        return ids;
    }
}
