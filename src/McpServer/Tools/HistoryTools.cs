using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Tools;

/// <summary>A session's workspace through time: what changed, going back, and branching off.</summary>
[McpServerToolType]
internal sealed class HistoryTools(SessionRouter router, WorkspaceHistory history, SessionRegistry registry, ResultBudget budget)
{
    [McpServerTool(Name = "session_export", Title = "Export a session's work", ReadOnly = false, Destructive = false, Idempotent = false, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        The session's change against the source_dir it was copied from. "patch": a patch for `git apply`, written to a file on the server (path returned; shown when it fits). "git": a commit on a new branch (default session-mcp/<session_id>) of the source's repository, its working tree, index and HEAD untouched.
        """)]
    public async Task<ExportResult> ExportAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session (destroyed ones too).")] string session_id,
        [Description("\"patch\" (default) or \"git\".")][System.ComponentModel.DataAnnotations.AllowedValues("patch", "git")] string? format = null,
        [Description("git: the branch to create.")] string? branch = null,
        [Description("git: move an existing branch.")] bool force = false,
        CancellationToken cancellationToken = default)
    {
        var call = CallAudit.Of(request);
        var session = router.Get(call.Caller, session_id);
        var change = SessionChange.Of(session, registry.Find, history.Store);
        if (format == "git")
        {
            var exported = await GitExport.ExportAsync(new GitExportRequest(
                change.SourceDir ?? throw new SessionException($"session {session.Id} was not copied from a source directory, so there is no repository to export to; use format \"patch\""),
                change.Baseline, change.Changes, history.Store, branch ?? GitExportRequest.DefaultBranch(session.Id),
                "session-mcp", "session-mcp@localhost", $"Work of session {session.Id}{(session.Name is null ? "" : $" ({session.Name})")}", force), cancellationToken).ConfigureAwait(false);
            call.Summary = new JsonObject { ["format"] = "git", ["branch"] = exported.Branch, ["commit"] = exported.Commit, ["files"] = change.Changes.Count };
            return call.Complete(new ExportResult(session.Id, "git", change.Changes.Count, 0, Branch: exported.Branch, Commit: exported.Commit,
                BaseCommit: exported.BaseCommit, BaselineCommit: exported.BaselineCommit, ContentMissing: exported.ContentMissing.Count == 0 ? null : [.. exported.ContentMissing.Take(100)]));
        }
        var patch = GitPatch.Write(change.Changes, history.Store);
        var path = ExportFiles.WritePatch(router.Options.DataDir, session.Id, patch.Text);
        call.Summary = new JsonObject { ["format"] = "patch", ["path"] = path, ["files"] = patch.FilesChanged };
        var missing = patch.ContentMissing.Count == 0 ? null : patch.ContentMissing.Take(100).ToList();
        return call.Complete(budget.Fit(patch.Text.Length, chars => new ExportResult(session.Id, "patch", change.Changes.Count, 0,
            PatchPath: path, Patch: chars >= patch.Text.Length ? patch.Text : null, LinesAdded: patch.LinesAdded, LinesRemoved: patch.LinesRemoved, ContentMissing: missing), minimum: 0));
    }

    [McpServerTool(Name = "session_diff", Title = "Diff a session's workspace between two points", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        The change to a session's files between two events (added, removed, modified, renamed, mode), with a unified diff. Default: from the session's start to its latest step; a running job's changes are recorded by the next call that may change files.
        """)]
    public WorkspaceDiffResult Diff(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("From after this event (default: the start).")] long? from_seq = null,
        [Description("To after this event (default: the latest step).")] long? to_seq = null,
        [Description("Only these files or directories.")] List<string>? paths = null)
    {
        var call = CallAudit.Of(request);
        var session = router.Get(call.Caller, session_id);
        var start = history.Store.RequireStart(session.Id);
        var from = from_seq ?? start;
        var to = to_seq ?? history.Store.LastStep(session.Id) ?? start;
        if (from > to)
        {
            throw new SessionException($"from_seq {from} is after to_seq {to}; give them in order");
        }
        var changes = history.Changes(session.Id, from, to, paths);
        var diff = GitPatch.Write(changes, history.Store, PatchStyle.Review).Text;
        call.Summary = new JsonObject { ["from_seq"] = from, ["to_seq"] = to, ["files"] = changes.Count };
        return call.Complete(budget.Fit(diff.Length, chars => new WorkspaceDiffResult(session.Id, from, to, ChangeSet.Create(changes, diff, chars), 0)));
    }

    [McpServerTool(Name = "session_restore", Title = "Restore a session's files to an earlier step", ReadOnly = false, Destructive = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        Puts the session's files back to their state right after event to_seq (files only; running processes are not touched) and shows what it changed; dry_run only shows it. It is itself a step, so it can be undone the same way.
        """)]
    public WorkspaceRestoreResult Restore(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to restore.")] string session_id,
        [Description("The event whose resulting state to restore.")] long to_seq,
        [Description("Only show what would change (default false).")] bool dry_run = false)
    {
        var call = CallAudit.Of(request);
        var changes = router.Restore(call.Caller, session_id, to_seq, dry_run);
        var diff = GitPatch.Write(changes, history.Store, PatchStyle.Review).Text;
        call.Summary = new JsonObject { ["to_seq"] = to_seq, ["dry_run"] = dry_run, ["files"] = changes.Count };
        return call.Complete(budget.Fit(diff.Length, chars => new WorkspaceRestoreResult(session_id, to_seq, dry_run, ChangeSet.Create(changes, diff, chars), 0)));
    }

    [McpServerTool(Name = "session_fork", Title = "Fork a session at a step", ReadOnly = false, Destructive = false, Idempotent = false, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        A new session whose files are this session's right after event at_seq (default: now), on any backend, with a fresh shell. Both keep separate histories; session_list shows the lineage.
        """)]
    public async Task<ForkResult> ForkAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to fork.")] string session_id,
        [Description("Fork the state after this event (default: now).")] long? at_seq = null,
        [Description("A label for the new session.")] string? name = null,
        [Description("Default: the session's.")][System.ComponentModel.DataAnnotations.AllowedValues("local", "docker")] string? backend = null,
        CancellationToken cancellationToken = default)
    {
        if (name is { Length: > 200 })
        {
            throw new SessionException("name is longer than 200 characters; use a shorter label");
        }
        var call = CallAudit.Of(request);
        var (fork, forkSeq) = await router.ForkAsync(call.Caller, session_id, at_seq, name, backend, cancellationToken).ConfigureAwait(false);
        call.Summary = new JsonObject { ["fork"] = fork.Id, ["fork_seq"] = forkSeq, ["backend"] = fork.Backend };
        return call.Complete(new ForkResult(SessionInfo.From(fork), session_id, forkSeq, 0));
    }
}

/// <summary>The result of session_export: where the work went.</summary>
/// <param name="Patch">The patch itself, when it fits the result; it is always in the file at <see cref="PatchPath"/>.</param>
/// <param name="ContentMissing">Changed files named but not included (their content is above the stored-file limit).</param>
internal sealed record ExportResult(
    string SessionId, string Format, int Files, long EventSeq,
    string? PatchPath = null, string? Patch = null, int? LinesAdded = null, int? LinesRemoved = null,
    string? Branch = null, string? Commit = null, string? BaseCommit = null, string? BaselineCommit = null,
    IReadOnlyList<string>? ContentMissing = null) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = Format == "git"
            ? $"session {SessionId}: {Files} changed files committed as {Commit} on branch {Branch}" + (BaselineCommit is null ? "" : $" (after a baseline commit {BaselineCommit} of files that differed from HEAD when the session copied them)")
            : $"session {SessionId}: {Files} changed files (+{LinesAdded} -{LinesRemoved}) as a patch in {PatchPath}; apply it with: git apply {PatchPath}";
        text += $", event_seq {EventSeq}";
        if (ContentMissing is { Count: > 0 })
        {
            text += $"\nnot included (content above the stored-file limit): {string.Join(", ", ContentMissing)}";
        }
        return Patch is null ? text : text + "\n" + Patch;
    }
}

/// <summary>Where exported patches go: the data directory's <c>exports/</c>, private to the server's user.</summary>
internal static class ExportFiles
{
    public static string WritePatch(string? dataDir, string sessionId, string patch)
    {
        var directory = Path.Combine(dataDir ?? Path.GetTempPath(), "exports");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = Path.Combine(directory, $"{sessionId}-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfff}.patch");
        File.WriteAllText(path, patch, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}

/// <summary>One changed file as history tools report it.</summary>
/// <param name="Change">added, removed, modified, mode_changed or renamed.</param>
internal sealed record ChangedFile(string Path, string Change, string? FromPath = null, string? Mode = null)
{
    /// <param name="c">A change; its mode is shown as "old -> new" when the git mode changed.</param>
    public static ChangedFile From(FileChange c) => new(
        c.Path,
        HistoryStore.ChangeName(c.Kind),
        c.FromPath,
        c.Before is { } b && c.After is { } a && b.GitMode != a.GitMode ? $"{b.GitMode} -> {a.GitMode}" : null);

    public string Line() =>
        (Change == "renamed" ? $"R {FromPath} -> {Path}" : $"{(Change == "mode_changed" ? 'M' : char.ToUpperInvariant(Change[0]))} {Path}")
        + (Mode is null ? "" : $" ({Mode})");
}

/// <summary>Changed files and their diff, cut to fit a result: at most 500 files listed, the diff to an allowance.</summary>
internal sealed record ChangeSet(IReadOnlyList<ChangedFile> Files, int TotalFiles, string Diff, bool DiffTruncated = false)
{
    private const int MaxFilesListed = 500;

    public static ChangeSet Create(IReadOnlyList<FileChange> changes, string diff, int diffChars)
    {
        var cut = diff.Length > diffChars;
        return new ChangeSet(
            [.. changes.Take(MaxFilesListed).Select(ChangedFile.From)],
            changes.Count,
            cut ? diff[..Math.Max(0, diffChars)] : diff,
            cut);
    }

    public string Render()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{TotalFiles} {(TotalFiles == 1 ? "file" : "files")} changed");
        foreach (var file in Files)
        {
            text.Append('\n').Append(file.Line());
        }
        if (Files.Count < TotalFiles)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n... {TotalFiles - Files.Count} more");
        }
        if (Diff.Length > 0)
        {
            text.Append('\n').Append(Diff);
        }
        if (DiffTruncated)
        {
            text.Append("\n[diff cut to fit the result; narrow it with paths, or use session_export for the whole patch]");
        }
        return text.ToString();
    }
}

/// <summary>The result of session_diff.</summary>
internal sealed record WorkspaceDiffResult(string SessionId, long FromSeq, long ToSeq, ChangeSet Changes, long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() => $"session {SessionId}, from event {FromSeq} to event {ToSeq}, event_seq {EventSeq}: {Changes.Render()}";
}

/// <summary>The result of session_restore.</summary>
internal sealed record WorkspaceRestoreResult(string SessionId, long ToSeq, bool DryRun, ChangeSet Changes, long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        $"session {SessionId} {(DryRun ? "would be restored" : "restored")} to its state after event {ToSeq}, event_seq {EventSeq}: {Changes.Render()}";
}

/// <summary>The result of session_fork: the new session, and where it came from.</summary>
internal sealed record ForkResult(SessionInfo Session, string ForkedFrom, long ForkSeq, long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() => $"forked {ForkedFrom} at event {ForkSeq} into session {Session.Line()}, workdir {Session.Workdir}, event_seq {EventSeq}";
}
