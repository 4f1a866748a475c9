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
        The session's whole change against the source directory it was copied from (a fork: its first ancestor's), as of its latest recorded step. format "patch": a patch `git apply` accepts (binary files included), written to a file on the server whose path is returned, and shown whole when it fits. format "git": a commit on a new branch (default session-mcp/<session_id>) of the source directory's git repository; the working tree, index, HEAD and current branch are never touched. Files above the stored-file limit are named but cannot be included.
        """)]
    public async Task<ExportResult> ExportAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session (destroyed ones too).")] string session_id,
        [Description("\"patch\" (default) or \"git\".")][System.ComponentModel.DataAnnotations.AllowedValues("patch", "git")] string? format = null,
        [Description("git only: the branch to create (default session-mcp/<session_id>).")] string? branch = null,
        [Description("git only: move the branch if it exists (never the checked-out one).")] bool force = false,
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
        The combined change to a session's files between two events: files added, removed, modified, renamed and mode changes, with a unified diff (binary files named). Default: from the session's start (its source_dir copy, or the state it was forked from) to its latest recorded step. Every call that may change files records its step; changes a still-running job makes are recorded by the next such call.
        """)]
    public WorkspaceDiffResult Diff(
        RequestContext<CallToolRequestParams> request,
        [Description("The session (destroyed and lost sessions too).")] string session_id,
        [Description("From the state right after this event (default: the session's start).")] long? from_seq = null,
        [Description("To the state right after this event (default: the latest recorded step).")] long? to_seq = null,
        [Description("Only these files or directories (workspace-relative).")] List<string>? paths = null)
    {
        var call = CallAudit.Of(request);
        var session = router.Get(call.Caller, session_id);
        var start = history.Store.StepsWithChanges(session.Id, 0, long.MaxValue) is [var first, ..] ? first
            : throw new SessionException($"session {session.Id} has no recorded workspace history (it began before history was recorded, or history is off)");
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
        Puts the session's workspace back to its state right after event to_seq (session_replay lists events): files are written, removed and chmod'ed to match; running jobs and processes are not touched or resurrected. Shows what it changes; dry_run: true only shows it. The restore is itself an audited step, so it can be undone by restoring to the event before it.
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
        Makes a new session whose workspace is this session's files right after event at_seq (default: as they are now), on any backend (e.g. explored locally, continued in docker). The new session starts with the session's source directory as its origin and a fresh shell (cwd at the workspace root, no exported variables); both sessions keep separate histories, and session_list shows the lineage.
        """)]
    public async Task<ForkResult> ForkAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to fork.")] string session_id,
        [Description("The event whose resulting state the fork starts from (default: now).")] long? at_seq = null,
        [Description("A label for the new session.")] string? name = null,
        [Description("The new session's backend (default: the same as the session's).")][System.ComponentModel.DataAnnotations.AllowedValues("local", "docker")] string? backend = null,
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
internal sealed record ChangedFile(string Path, string Change, string? FromPath = null, string? OldMode = null, string? NewMode = null, long? Size = null)
{
    public static ChangedFile From(FileChange c) => new(
        c.Path,
        HistoryStore.ChangeName(c.Kind),
        c.FromPath,
        c.Before is { } b && c.After is { } a && b.GitMode != a.GitMode ? b.GitMode : null,
        c.Before is { } b2 && c.After is { } a2 && b2.GitMode != a2.GitMode ? a2.GitMode : null,
        c.After?.Size);

    public string Line() => Change switch
    {
        "renamed" => $"R {FromPath} -> {Path}",
        "mode_changed" => $"M {Path} ({OldMode} -> {NewMode})",
        _ => $"{char.ToUpperInvariant(Change[0])} {Path}" + (OldMode is null ? "" : $" ({OldMode} -> {NewMode})"),
    };
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
