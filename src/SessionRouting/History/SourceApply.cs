using System.Text;

namespace SessionMcp.SessionRouting.History;

/// <param name="SourceDir">The directory the session copied at its creation.</param>
/// <param name="Baseline">The tree the session copied.</param>
/// <param name="Changes">The session's change, from <see cref="Baseline"/> to its current files.</param>
/// <param name="Merge">Where the source changed a file the session changed too, merge text files three ways (conflicts
/// marked in the file and reported) instead of refusing; binary files and removals still refuse.</param>
/// <param name="DryRun">Plan only: report what would be written and what conflicts, write nothing.</param>
internal sealed record SourceApplyRequest(
    string SourceDir,
    WorkspaceTree Baseline,
    IReadOnlyList<FileChange> Changes,
    IBlobReader Blobs,
    bool Merge = false,
    bool DryRun = false);

internal enum SourceAction
{
    Create,
    Update,
    Delete,
    Rename,
    Chmod,
    /// <summary>Both sides changed the file; the result is a three-way merge.</summary>
    Merge,
    /// <summary>The source already holds what the session made.</summary>
    AlreadyDone,
    /// <summary>The session's content is not stored (above the size limit, or pruned): left as it is.</summary>
    NotStored,
}

/// <param name="Detail">For a merge: "merged cleanly" or how many conflicts were marked.</param>
internal sealed record SourceStep(SourceAction Action, string Path, string? FromPath = null, string? Detail = null);

/// <summary>A file the session changed that also changed in the source since the copy (or cannot be written safely).</summary>
internal sealed record SourceConflict(string Path, string Reason);

/// <param name="Applied">Whether files were written: false for a dry run and whenever there is a conflict (then nothing
/// was written at all).</param>
/// <param name="MergeConflicts">Files written with conflict markers, to be resolved by hand.</param>
/// <param name="ContentMissing">Files the session changed whose content is not stored; not written.</param>
internal sealed record SourceApplyResult(
    bool Applied,
    IReadOnlyList<SourceStep> Plan,
    IReadOnlyList<SourceConflict> Conflicts,
    IReadOnlyList<string> MergeConflicts,
    IReadOnlyList<string> ContentMissing);

/// <summary>
/// Plans and applies a session's change to its source directory. The plan compares, for the paths the session changed
/// only (never the whole tree), what the source holds now with what the session copied: where they differ the source
/// changed since, and the apply is refused listing those files, unless a three-way merge of text is asked. All or
/// nothing for conflicts: nothing is written while one remains. Writes go through <see cref="SourceDirectory"/>:
/// atomic, modes kept, links made as links, never followed.
/// </summary>
internal static class SourceApply
{
    public static async Task<SourceApplyResult> ApplyAsync(SourceApplyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Directory.Exists(request.SourceDir))
        {
            throw new ExportException($"The source directory {request.SourceDir} does not exist any more; export the session as a patch instead.");
        }
        var source = new SourceDirectory(request.SourceDir);
        var plan = new List<(SourceStep Step, Action Write)>();
        var conflicts = new List<SourceConflict>();
        var mergeConflicts = new List<string>();
        var missing = new List<string>();

        foreach (var change in request.Changes)
        {
            var before = change.FromPath is { } from ? request.Baseline.GetValueOrDefault(from) : change.Before;
            var after = change.After;
            var current = source.Read(change.Path);
            if (current.Unusable is { } unusable)
            {
                conflicts.Add(new SourceConflict(change.Path, $"{change.Path} {unusable}"));
                continue;
            }

            if (change.Kind == ChangeKind.Renamed)
            {
                var origin = source.Read(change.FromPath!);
                if (current.Matches(after) && !origin.Exists)
                {
                    plan.Add((new SourceStep(SourceAction.AlreadyDone, change.Path, change.FromPath), () => { }));
                }
                else if (!origin.Matches(before) || current.Exists)
                {
                    conflicts.Add(new SourceConflict(change.Path, origin.Matches(before)
                        ? $"the session moved {change.FromPath} here, but the source has a file at {change.Path} already"
                        : $"the session moved {change.FromPath} to {change.Path}, but the source changed {change.FromPath} since the copy"));
                }
                else
                {
                    plan.Add((new SourceStep(SourceAction.Rename, change.Path, change.FromPath), () =>
                    {
                        source.Move(change.FromPath!, change.Path);
                        if (after!.Kind == EntryKind.File && after.Mode != before!.Mode)
                        {
                            source.Chmod(change.Path, after.Mode);
                        }
                    }));
                }
                continue;
            }

            if (change.Kind == ChangeKind.ModeChanged)
            {
                // Only bits changed: whatever the source did to the content stays; the bits follow the session.
                if (current.Kind != after!.Kind)
                {
                    conflicts.Add(new SourceConflict(change.Path, $"the session changed the mode of {change.Path}, but the source removed or replaced it since the copy"));
                }
                else if (after.Kind == EntryKind.Symlink || current.Mode == after.Mode)
                {
                    plan.Add((new SourceStep(SourceAction.AlreadyDone, change.Path), () => { }));
                }
                else
                {
                    plan.Add((new SourceStep(SourceAction.Chmod, change.Path), () => source.Chmod(change.Path, after.Mode)));
                }
                continue;
            }

            var content = after is null ? null : after.Stored ? request.Blobs.Read(after.Hash) : null;
            if (after is not null && content is null)
            {
                missing.Add(change.Path);
                plan.Add((new SourceStep(SourceAction.NotStored, change.Path), () => { }));
                continue;
            }
            if (current.Matches(after) && (after is null || after.Kind == EntryKind.Symlink || current.Mode == after.Mode))
            {
                plan.Add((new SourceStep(SourceAction.AlreadyDone, change.Path), () => { }));
                continue;
            }
            if (current.Matches(before))
            {
                var action = after is null ? SourceAction.Delete : before is null ? SourceAction.Create : SourceAction.Update;
                plan.Add((new SourceStep(action, change.Path), () => Write(source, change.Path, after, content)));
                continue;
            }

            // The source changed this file since the copy.
            var reason = Describe(change, current);
            if (!request.Merge)
            {
                conflicts.Add(new SourceConflict(change.Path, reason + "; apply with merge to merge text files, or resolve it by hand"));
                continue;
            }
            var baseBytes = before is null ? [] : before.Stored ? request.Blobs.Read(before.Hash) : null;
            if (after is not { Kind: EntryKind.File } || current.Kind != EntryKind.File || before is { Kind: not EntryKind.File } || baseBytes is null
                || GitBinaryPatch.LooksBinary(baseBytes) || GitBinaryPatch.LooksBinary(current.Content) || GitBinaryPatch.LooksBinary(content))
            {
                conflicts.Add(new SourceConflict(change.Path, reason + "; it cannot be merged (binary, a link, a removal, or the copied content is not stored): resolve it by hand"));
                continue;
            }
            var (merged, conflictCount) = await MergeAsync(baseBytes, current.Content!, content!, change.Path, cancellationToken).ConfigureAwait(false);
            if (conflictCount > 0)
            {
                mergeConflicts.Add(change.Path);
            }
            plan.Add((new SourceStep(SourceAction.Merge, change.Path, Detail: conflictCount == 0 ? "merged cleanly" : $"{conflictCount} conflict(s) marked in the file"),
                () => source.WriteFile(change.Path, merged, after.Mode)));
        }

        var steps = plan.Select(p => p.Step).ToList();
        if (conflicts.Count > 0 || request.DryRun)
        {
            return new SourceApplyResult(false, steps, conflicts, mergeConflicts, missing);
        }
        // Removals and moves first, so a path the session freed and reused (or a directory that became a file) is free.
        foreach (var (step, write) in plan.OrderBy(p => p.Step.Action is SourceAction.Delete or SourceAction.Rename ? 0 : 1))
        {
            cancellationToken.ThrowIfCancellationRequested();
            write();
        }
        return new SourceApplyResult(true, steps, conflicts, mergeConflicts, missing);
    }

    private static void Write(SourceDirectory source, string path, FileEntry? after, byte[]? content)
    {
        if (after is null)
        {
            source.Delete(path);
        }
        else if (after.Kind == EntryKind.Symlink)
        {
            source.WriteSymlink(path, Encoding.UTF8.GetString(content!));
        }
        else
        {
            source.WriteFile(path, content, after.Mode);
        }
    }

    private static string Describe(FileChange change, SourceState current) => (change.Before, current.Kind) switch
    {
        (null, _) => $"the session created {change.Path}, but the source has a different {change.Path} now",
        (_, null) => $"the session changed {change.Path}, but the source removed it since the copy",
        _ when change.After is null => $"the session removed {change.Path}, but the source changed it since the copy",
        _ => $"the session changed {change.Path}, and the source changed it too since the copy",
    };

    /// <summary>`git merge-file`: the source's version, the copied one as the base, the session's; conflicts are marked
    /// with the labels "source", "copied by the session" and "session".</summary>
    private static async Task<(byte[] Merged, int Conflicts)> MergeAsync(byte[] baseline, byte[] current, byte[] session, string path, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("session-mcp-merge-");
        try
        {
            var files = new[] { ("source", current), ("base", baseline), ("session", session) }
                .Select(f => { var file = Path.Combine(scratch.FullName, f.Item1); File.WriteAllBytes(file, f.Item2); return file; })
                .ToArray();
            var output = await GitCli.RunAsync(scratch.FullName,
                ["merge-file", "-p", "-L", "source", "-L", "copied by the session", "-L", "session", files[0], files[1], files[2]],
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (output.ExitCode < 0 || output.ExitCode > 127)
            {
                throw new ExportException($"git merge-file could not merge {path}: {output.Stderr.Trim()}");
            }
            return (output.Stdout, output.ExitCode);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }
}
