using System.ComponentModel;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ModelContextProtocol.Server;
using ModelContextProtocol.Protocol;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Editing;
using SessionMcp.SessionRouting.Routing;
using SessionMcp.SessionRouting.Text;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.McpServer.Tools;

/// <summary>Reading, writing and editing files in a session's workspace, confined by the path policy.</summary>
[McpServerToolType]
internal sealed class FileTools(SessionRouter router, ResultBudget budget)
{
    private const int MaxReadLines = 10_000;

    [McpServerTool(Name = "session_read_file", Title = "Read a file in a session", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Reads a text file from the session's workspace, shown as numbered lines (`     1\\tline`), 2000 lines by default (fewer if over the result size limit; when has_more, continue at last_line + 1 with offset). Returns total_lines and the file's sha256, which session_edit_file accepts as expected_sha256 to refuse stale edits. Paths are relative to the workspace root or absolute inside it.")]
    public async Task<ReadFileResult> ReadAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("File path, relative to the workspace root or absolute inside the workspace.")] string path,
        [Description("1-based number of the first line to return (default 1).")] long? offset = null,
        [Description("How many lines to return (default 2000, max 10000).")] long? limit = null,
        CancellationToken cancellationToken = default)
    {
        ToolArguments.RequireRange(offset, "offset", 1, int.MaxValue);
        ToolArguments.RequireRange(limit, "limit", 1, MaxReadLines);
        var workspace = Workspace(request, session_id);
        var (content, resolved) = await Task.Run(() => WorkspaceFiles.Read(workspace, path), cancellationToken).ConfigureAwait(false);
        var text = TextFile.Decode(content, resolved.RelativePath);
        var sha = WorkspaceFiles.Sha256Hex(content);
        var lines = (int)(limit ?? 2000);
        var result = budget.Fit(lines, allowed => ReadFileResult.Create(resolved.RelativePath, NumberedLines.Format(text.Text, (int)(offset ?? 1), allowed, displayPath: resolved.RelativePath), sha, text.Eol), minimum: 1);
        var call = CallAudit.Of(request);
        call.Summary = new JsonObject { ["path"] = resolved.RelativePath, ["bytes"] = content.Length, ["lines"] = result.TotalLines, ["sha256"] = sha };
        return call.Complete(result);
    }

    [McpServerTool(Name = "session_write_file", Title = "Write a file in a session", ReadOnly = false, Destructive = true, Idempotent = true, OpenWorld = false, UseStructuredContent = true)]
    [Description("Creates or replaces a file in the session's workspace with `content` (UTF-8). The write is atomic: readers see the old file or the new one, never a mix. Set create_dirs to create missing parent directories. To change part of an existing file prefer session_edit_file.")]
    public async Task<WriteFileResult> WriteAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("File path, relative to the workspace root or absolute inside the workspace.")] string path,
        [Description("The complete new content of the file.")] string content,
        [Description("Create missing parent directories (default false).")] bool create_dirs = false,
        CancellationToken cancellationToken = default)
    {
        var workspace = Workspace(request, session_id);
        var bytes = Encoding.UTF8.GetBytes(content);
        var resolved = WorkspacePaths.Resolve(workspace, path);
        var created = !File.Exists(resolved.HostPath);
        await WorkspaceFiles.WithFileLockAsync(resolved, () => WorkspaceFiles.WriteAtomic(workspace, path, bytes, create_dirs), cancellationToken).ConfigureAwait(false);
        var sha = WorkspaceFiles.Sha256Hex(bytes);
        var call = CallAudit.Of(request);
        call.Summary = new JsonObject { ["path"] = resolved.RelativePath, ["bytes"] = bytes.Length, ["sha256"] = sha, ["created"] = created };
        return call.Complete(new WriteFileResult(resolved.RelativePath, bytes.Length, sha, created, 0));
    }

    [McpServerTool(Name = "session_edit_file", Title = "Edit a file in a session", ReadOnly = false, Destructive = true, Idempotent = false, OpenWorld = false, UseStructuredContent = true)]
    [Description("""
        Replaces exact text in a file and returns a unified diff. old_string must match exactly once (include a few surrounding lines to make it unique) unless replace_all is true; when it matches several places or none, the error shows where, with line numbers, and nothing is changed. For several changes to one file pass `edits` (applied in order, all or nothing) instead of old_string/new_string. The file's line endings (LF/CRLF) and BOM are kept. Pass expected_sha256 from session_read_file to refuse the edit if the file changed since you read it; dry_run shows the diff without writing.
        """)]
    public async Task<EditFileResult> EditAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("The session.")] string session_id,
        [Description("File path, relative to the workspace root or absolute inside the workspace.")] string path,
        [Description("The exact text to replace.")] string? old_string = null,
        [Description("The replacement text (may be empty to delete).")] string? new_string = null,
        [Description("Replace every occurrence of old_string (default false).")] bool replace_all = false,
        [Description("Several replacements applied in order, all or nothing; use instead of old_string/new_string.")] List<EditSpec>? edits = null,
        [Description("Refuse the edit unless the file's current sha256 is this (from session_read_file).")] string? expected_sha256 = null,
        [Description("Return the diff without changing the file (default false).")] bool dry_run = false,
        CancellationToken cancellationToken = default)
    {
        var operations = Operations(old_string, new_string, replace_all, edits);
        var (outcome, before, after, resolved) = await WorkspaceEdit.ApplyAsync(Workspace(request, session_id), path, operations, expected_sha256, dry_run, cancellationToken).ConfigureAwait(false);

        var call = CallAudit.Of(request);
        call.Summary = new JsonObject
        {
            ["path"] = resolved.RelativePath,
            ["replacements"] = outcome.Replacements,
            ["lines_added"] = outcome.LinesAdded,
            ["lines_removed"] = outcome.LinesRemoved,
            ["sha256_before"] = before,
            ["sha256_after"] = after,
            ["dry_run"] = dry_run,
        };
        call.Output = new JsonObject { ["diff"] = outcome.Diff };
        var result = budget.Fit(outcome.Diff.Length, allowed =>
        {
            var diff = OutputTruncation.Truncate(outcome.Diff, allowed);
            return new EditFileResult(resolved.RelativePath, diff.Text, outcome.Replacements, before, after, outcome.Eol, outcome.Bom, dry_run, 0, diff.Truncated ? true : null);
        });
        return call.Complete(result);
    }

    private WorkspaceLocation Workspace(RequestContext<CallToolRequestParams> request, string sessionId) =>
        router.WorkspaceOf(router.GetRunning(CallAudit.Of(request).Caller, sessionId));

    private static List<EditOperation> Operations(string? oldString, string? newString, bool replaceAll, List<EditSpec>? edits)
    {
        if (edits is { Count: > 0 })
        {
            if (oldString is not null || newString is not null)
            {
                throw new SessionException("give either old_string/new_string or edits, not both");
            }
            return [.. edits.Select((e, i) => new EditOperation(
                e.OldString ?? throw new SessionException($"edits[{i}] has no old_string"),
                e.NewString ?? throw new SessionException($"edits[{i}] has no new_string (use \"\" to delete)"),
                e.ReplaceAll ?? false))];
        }
        if (oldString is null || newString is null)
        {
            throw new SessionException("give old_string and new_string (new_string may be \"\"), or a non-empty edits list");
        }
        return [new EditOperation(oldString, newString, replaceAll)];
    }
}

/// <summary>One replacement in session_edit_file's edits list.</summary>
internal sealed record EditSpec(
    [property: Description("The exact text to replace.")] string? OldString,
    [property: Description("The replacement text.")] string? NewString,
    [property: Description("Replace every occurrence (default false).")] bool? ReplaceAll = null);

/// <summary>The result of session_read_file: <see cref="Content"/> holds the lines as they are; the rendering numbers them.</summary>
internal sealed record ReadFileResult(string Path, string Content, int TotalLines, int FirstLine, int LastLine, bool HasMore, string Sha256, string Eol, long EventSeq) : IToolResult
{
    public static ReadFileResult Create(string path, NumberedLinesPage page, string sha256, string eol) =>
        new(path, page.Text, page.TotalLines, page.FirstLine, page.LastLine, page.HasMore, sha256, eol, 0) { Numbered = page.Content };

    /// <summary>The lines as `cat -n` shows them, for the rendering only.</summary>
    [JsonIgnore]
    public string Numbered { get; private init; } = "";

    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        (TotalLines == 0 ? $"{Path}: empty file" : $"{Path}: lines {FirstLine}-{LastLine} of {TotalLines}")
        + $", sha256 {Sha256}, event_seq {EventSeq}"
        + (HasMore ? $"; more from offset {LastLine + 1}" : "") + "\n" + Numbered;
}

/// <summary>The result of session_write_file.</summary>
internal sealed record WriteFileResult(string Path, int Bytes, string Sha256, bool Created, long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() => $"{(Created ? "created" : "replaced")} {Path}: {Bytes} bytes, sha256 {Sha256}, event_seq {EventSeq}";
}

/// <summary>The result of session_edit_file: the diff's headers name the workspace-relative path, so `git apply` takes it.</summary>
internal sealed record EditFileResult(string Path, string Diff, int Replacements, string Sha256Before, string Sha256After, string Eol, bool Bom, bool DryRun, long EventSeq, bool? DiffTruncated = null) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render() =>
        $"{(DryRun ? "dry run, not written: " : "")}{Path}: {Replacements} {(Replacements == 1 ? "replacement" : "replacements")}, sha256 {Sha256Before} -> {Sha256After}, event_seq {EventSeq}\n{Diff}";
}
