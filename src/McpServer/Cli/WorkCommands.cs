using Microsoft.Extensions.DependencyInjection;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Sessions;

namespace SessionMcp.McpServer.Cli;

/// <summary>
/// Getting a session's work out from the command line: <c>export SESSION</c> (a patch on stdout, or a branch in the
/// source's repository) and <c>apply SESSION</c> (into the source directory itself). Both read the data directory's
/// history only, so they work on destroyed sessions and while a daemon runs.
/// </summary>
internal static class WorkCommands
{
    public static async Task<int> ExportAsync(IServiceProvider services, CommandRequested command, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (Change(services, command.Arguments[0], stderr) is not var (session, change, store))
        {
            return 2;
        }
        try
        {
            if (command.Format == CommandLineParser.GitFormat)
            {
                if (change.SourceDir is null)
                {
                    await stderr.WriteLineAsync($"session-mcp: session {session.Id} was not copied from a source directory, so there is no repository to export to; export it as a patch instead").ConfigureAwait(false);
                    return 1;
                }
                var exported = await GitExport.ExportAsync(new GitExportRequest(change.SourceDir, change.Baseline, change.Changes, store,
                    command.Branch ?? GitExportRequest.DefaultBranch(session.Id), "session-mcp", "session-mcp@localhost",
                    $"Work of session {session.Id}{(session.Name is null ? "" : $" ({session.Name})")}", command.Force), cancellationToken).ConfigureAwait(false);
                await stdout.WriteLineAsync($"branch {exported.Branch} at {exported.Commit} in {change.SourceDir} ({exported.PathsChanged} paths){(exported.BaselineCommit is null ? "" : $", after a baseline commit {exported.BaselineCommit} of files that differed from HEAD when the session copied them")}").ConfigureAwait(false);
                await MissingAsync(exported.ContentMissing, stderr).ConfigureAwait(false);
                return 0;
            }
            var patch = GitPatch.Write(change.Changes, store);
            await stdout.WriteAsync(patch.Text).ConfigureAwait(false);
            await MissingAsync(patch.ContentMissing, stderr).ConfigureAwait(false);
            return 0;
        }
        catch (SessionException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    public static async Task<int> ApplyAsync(IServiceProvider services, CommandRequested command, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (Change(services, command.Arguments[0], stderr) is not var (session, change, store))
        {
            return 2;
        }
        if (change.SourceDir is null)
        {
            await stderr.WriteLineAsync($"session-mcp: session {session.Id} was not copied from a source directory; nothing to apply it to (export it as a patch instead)").ConfigureAwait(false);
            return 1;
        }
        SourceApplyResult result;
        try
        {
            result = await SourceApply.ApplyAsync(new SourceApplyRequest(change.SourceDir, change.Baseline, change.Changes, store, command.Merge, command.DryRun), cancellationToken).ConfigureAwait(false);
        }
        catch (SessionException e)
        {
            await stderr.WriteLineAsync($"session-mcp: {e.Message}").ConfigureAwait(false);
            return 1;
        }
        foreach (var step in result.Plan)
        {
            await stdout.WriteLineAsync($"{step.Action.ToString().ToLowerInvariant(),-11} {(step.FromPath is null ? "" : step.FromPath + " -> ")}{step.Path}{(step.Detail is null ? "" : $" ({step.Detail})")}").ConfigureAwait(false);
        }
        if (result.Conflicts.Count > 0)
        {
            await stderr.WriteLineAsync($"session-mcp: refused, nothing was written: {result.Conflicts.Count} file(s) changed in {change.SourceDir} since session {session.Id} copied it:").ConfigureAwait(false);
            foreach (var conflict in result.Conflicts)
            {
                await stderr.WriteLineAsync($"  {conflict.Path}: {conflict.Reason}").ConfigureAwait(false);
            }
            await stderr.WriteLineAsync("run again with --merge to merge text files three ways (conflicts are marked in the files)").ConfigureAwait(false);
            return 1;
        }
        foreach (var merged in result.MergeConflicts)
        {
            await stderr.WriteLineAsync($"session-mcp: {merged}: merged with conflicts, marked in the file").ConfigureAwait(false);
        }
        await MissingAsync(result.ContentMissing, stderr).ConfigureAwait(false);
        await stdout.WriteLineAsync(command.DryRun
            ? $"dry run: {result.Plan.Count} change(s) would be applied to {change.SourceDir}; nothing was written"
            : $"applied {result.Plan.Count} change(s) of session {session.Id} to {change.SourceDir}").ConfigureAwait(false);
        return result.MergeConflicts.Count > 0 ? 1 : 0;
    }

    private static (SessionRecord Session, SessionChange Change, HistoryStore Store)? Change(IServiceProvider services, string sessionId, TextWriter stderr)
    {
        var registry = services.GetRequiredService<SessionRegistry>();
        if (!SessionId.IsWellFormed(sessionId) || registry.Find(sessionId) is not { } session)
        {
            stderr.WriteLine($"session-mcp: no session '{sessionId}' in this data directory; 'session-mcp sessions' lists them (with the same --data-dir)");
            return null;
        }
        var store = services.GetRequiredService<HistoryStore>();
        try
        {
            return (session, SessionChange.Of(session, registry.Find, store), store);
        }
        catch (SessionException e)
        {
            stderr.WriteLine($"session-mcp: {e.Message}");
            return null;
        }
    }

    private static async Task MissingAsync(IReadOnlyList<string> missing, TextWriter stderr)
    {
        if (missing.Count > 0)
        {
            await stderr.WriteLineAsync($"session-mcp: not included (content above the stored-file limit): {string.Join(", ", missing)}").ConfigureAwait(false);
        }
    }
}
