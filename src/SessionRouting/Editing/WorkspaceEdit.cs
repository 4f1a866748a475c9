using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>An edit of one workspace file, read-modify-write under the file's lock: what session_edit_file and a rerun do.</summary>
internal static class WorkspaceEdit
{
    /// <summary>
    /// Applies <paramref name="operations"/> to <paramref name="path"/>, refusing when the file's sha256 is not
    /// <paramref name="expectedSha256"/> (when given); with <paramref name="dryRun"/> nothing is written.
    /// </summary>
    public static async Task<(EditOutcome Outcome, string Before, string After, ResolvedPath Path)> ApplyAsync(
        WorkspaceLocation workspace, string path, IReadOnlyList<EditOperation> operations, string? expectedSha256, bool dryRun, CancellationToken cancellationToken)
    {
        var resolved = WorkspacePaths.Resolve(workspace, path);
        var (outcome, before, after) = await WorkspaceFiles.WithFileLockAsync(resolved, () =>
        {
            var (content, _) = WorkspaceFiles.Read(workspace, path);
            var before = WorkspaceFiles.Sha256Hex(content);
            if (expectedSha256 is not null && !string.Equals(expectedSha256, before, StringComparison.OrdinalIgnoreCase))
            {
                throw new SessionException($"{resolved.RelativePath} changed since you read it (expected sha256 {expectedSha256}, now {before}); read it again with session_read_file and redo the edit");
            }
            var outcome = TextEditor.Apply(content, resolved.RelativePath, operations);
            if (!dryRun)
            {
                WorkspaceFiles.WriteAtomic(workspace, path, outcome.NewContent, createDirectories: false);
            }
            return (outcome, before, WorkspaceFiles.Sha256Hex(outcome.NewContent));
        }, cancellationToken).ConfigureAwait(false);
        return (outcome, before, after, resolved);
    }
}
