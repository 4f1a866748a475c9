using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Backends;
using SessionMcp.SessionRouting.Editing;
using SessionMcp.SessionRouting.Execution;
using SessionMcp.SessionRouting.History;
using SessionMcp.SessionRouting.Text;
using SessionMcp.SessionRouting.Workspace;

namespace SessionMcp.SessionRouting.Routing;

/// <summary>
/// A reproducibility check of what an agent did: executes a session's recorded commands, writes and edits again, in
/// order, in a fresh session forked at the original's start (or a given one), and compares each step's exit code, output
/// and resulting files with the original's. Every re-executed step is an audited event of the session it ran in, with
/// its own workspace change, so the rerun can itself be replayed, diffed and exported.
/// </summary>
internal sealed class SessionRerunner(SessionRouter router, AuditLog audit, WorkspaceHistory history, TimeProvider time)
{
    public const string Client = "session-mcp rerun";

    /// <summary>The steps with their verdicts, and the session they ran in (null for a dry run).</summary>
    public sealed record Report(string SessionId, string? IntoSessionId, IReadOnlyList<(RerunStep Step, IReadOnlyList<string>? Differences)> Steps);

    /// <param name="progress">Told (steps done, steps in all) after each executed step.</param>
    public async Task<Report> RunAsync(CallContext caller, string sessionId, string? intoSessionId, bool dryRun, Func<int, int, Task>? progress, CancellationToken cancellationToken)
    {
        // Executing is what session_exec does: it needs the same access, whatever tool asked.
        var executor = caller with { Tool = "session_exec" };
        if (AccessPolicy.ToolRefusal(caller.Principal, "session_exec") is { } refusal)
        {
            throw new AccessException($"a rerun executes commands: {refusal}");
        }
        var source = router.Get(caller, sessionId);
        var events = ReadAll(source.Id);
        var plan = RerunPlan.From(events);
        if (dryRun)
        {
            return new Report(source.Id, null, [.. plan.Select(s => (s, (IReadOnlyList<string>?)null))]);
        }

        string target;
        if (intoSessionId is not null)
        {
            target = router.GetRunning(executor, intoSessionId).Id;
        }
        else
        {
            var start = history.Store.StepsWithChanges(source.Id, 0, long.MaxValue) is [var first, ..] ? first
                : throw new SessionException($"session {source.Id} has no recorded workspace history to start a rerun from; give into_session_id to rerun into a session of your own");
            target = (await router.ForkAsync(executor, source.Id, start, $"rerun of {source.Id}", source.Backend, cancellationToken).ConfigureAwait(false)).Fork.Id;
        }

        var byseq = events.ToDictionary(e => e.Seq);
        var results = new List<(RerunStep, IReadOnlyList<string>?)>();
        var toRun = plan.Count(s => s.Skipped is null);
        foreach (var step in plan)
        {
            if (step.Skipped is not null)
            {
                results.Add((step, null));
                continue;
            }
            var rerun = await ExecuteAsync(executor, target, step, cancellationToken).ConfigureAwait(false);
            results.Add((step, StepComparison.Differences(Original(source.Id, byseq[step.Seq]), rerun)));
            if (progress is not null)
            {
                await progress(results.Count(r => r.Item1.Skipped is null), toRun).ConfigureAwait(false);
            }
        }
        return new Report(source.Id, target, results);
    }

    private StepComparison.Run Original(string sessionId, AuditEvent e)
    {
        var summary = Transcript.Parse(e.Entry.Summary) as JsonObject;
        var output = Transcript.Parse(e.Entry.Output) as JsonObject;
        return new StepComparison.Run(
            e.Entry.Outcome,
            summary?["exit_code"] is JsonValue code && code.TryGetValue<int>(out var exit) ? exit : null,
            output?["stdout"]?.GetValue<string>() ?? "",
            output?["stderr"]?.GetValue<string>() ?? "",
            history.Changes(sessionId, e.Seq - 1, e.Seq));
    }

    /// <summary>Runs one step in <paramref name="target"/> and records it there as an event with its workspace change.</summary>
    private async Task<StepComparison.Run> ExecuteAsync(CallContext caller, string target, RerunStep step, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = AuditOutcomes.Ok;
        string? error = null;
        int? exitCode = null;
        string stdout = "", stderr = "";
        var arguments = step.Arguments;
        try
        {
            var session = router.GetRunning(caller, target);
            switch (step.Tool)
            {
                case "session_exec":
                    var options = router.Options;
                    var outCapture = new OutputCapture(options.CaptureBytes);
                    var errCapture = new OutputCapture(options.CaptureBytes);
                    var timeout = TimeSpan.FromMilliseconds(arguments["timeout_ms"]?.GetValue<long>() ?? options.DefaultTimeoutMs);
                    var env = (arguments["env"] as JsonObject)?.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "", StringComparer.Ordinal) ?? [];
                    var (_, result) = await router.ExecAsync(caller, target, new ExecCommand(
                        arguments["command"]?.GetValue<string>() ?? "", arguments["cwd"]?.GetValue<string>(), env, arguments["stdin"]?.GetValue<string>(),
                        timeout, outCapture, errCapture), cancellationToken).ConfigureAwait(false);
                    exitCode = result.ExitCode;
                    // Masked as the audit log masks outputs, so the comparison (and what it quotes) never shows a secret.
                    var secrets = session.Env.Concat(env).Where(v => SecretRedactor.IsSecretName(v.Key)).Select(v => v.Value).ToList();
                    stdout = SecretRedactor.RedactValues(SecretRedactor.RedactText(outCapture.GetText()), secrets);
                    stderr = SecretRedactor.RedactValues(SecretRedactor.RedactText(errCapture.GetText()), secrets);
                    break;
                case "session_write_file":
                    var workspace = router.WorkspaceOf(session);
                    var path = arguments["path"]?.GetValue<string>() ?? "";
                    var bytes = Encoding.UTF8.GetBytes(arguments["content"]?.GetValue<string>() ?? "");
                    await WorkspaceFiles.WithFileLockAsync(WorkspacePaths.Resolve(workspace, path),
                        () => WorkspaceFiles.WriteAtomic(workspace, path, bytes, arguments["create_dirs"]?.GetValue<bool>() == true), cancellationToken).ConfigureAwait(false);
                    break;
                case "session_edit_file":
                    await WorkspaceEdit.ApplyAsync(router.WorkspaceOf(session), arguments["path"]?.GetValue<string>() ?? "", Operations(arguments),
                        arguments["expected_sha256"]?.GetValue<string>(), dryRun: false, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is SessionException or PathPolicyException or InvalidOperationException or FormatException)
        {
            (outcome, error) = (AuditOutcomes.Error, e.Message);
        }

        var record = router.GetRunning(caller, target);
        using var change = history.Observe(record);
        var summary = new JsonObject { ["rerun_of"] = step.Seq };
        if (exitCode is { } code)
        {
            summary["exit_code"] = code;
        }
        if (change.Summary() is { } workspaceChange)
        {
            summary["workspace"] = workspaceChange;
        }
        audit.Append(new AuditEntry(
            time.GetUtcNow(), target, AuditKinds.ToolCall, step.Tool, Client, arguments.ToJsonString(), outcome, error, summary.ToJsonString(),
            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            step.Tool == "session_exec" ? new JsonObject { ["stdout"] = stdout, ["stderr"] = stderr }.ToJsonString() : null,
            caller.Principal.Name), alongside: change.Write);
        change.Committed();
        return new StepComparison.Run(outcome, exitCode, stdout, stderr, change.Changes);
    }

    private static List<EditOperation> Operations(JsonObject arguments)
    {
        if (arguments["edits"] is JsonArray edits)
        {
            return [.. edits.OfType<JsonObject>().Select(e => new EditOperation(
                e["old_string"]?.GetValue<string>() ?? "", e["new_string"]?.GetValue<string>() ?? "", e["replace_all"]?.GetValue<bool>() == true))];
        }
        return [new EditOperation(arguments["old_string"]?.GetValue<string>() ?? "", arguments["new_string"]?.GetValue<string>() ?? "", arguments["replace_all"]?.GetValue<bool>() == true)];
    }

    private List<AuditEvent> ReadAll(string sessionId)
    {
        var all = new List<AuditEvent>();
        long from = 0;
        while (true)
        {
            var page = audit.ReadSession(sessionId, from, 1000);
            all.AddRange(page);
            if (page.Count < 1000)
            {
                return all;
            }
            from = page[^1].Seq + 1;
        }
    }
}
