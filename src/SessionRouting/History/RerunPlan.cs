using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Audit;
using SessionMcp.SessionRouting.Text;

namespace SessionMcp.SessionRouting.History;

/// <summary>One recorded call a rerun executes again, or says why it cannot.</summary>
/// <param name="Arguments">The call's arguments as recorded (secrets masked).</param>
/// <param name="Skipped">Why the step is not executed again (null: it is).</param>
/// <param name="Caveat">Why a difference in this step may not mean the work is not reproducible (a masked secret).</param>
internal sealed record RerunStep(long Seq, string Tool, JsonObject Arguments, string What, string? Skipped = null, string? Caveat = null);

/// <summary>
/// Which of a session's recorded calls a rerun executes again: the foreground commands, the writes and the edits that
/// ran (not rejected), in order. Jobs, terminals and restores are listed as skipped: their effect depended on timing,
/// on a person at a keyboard, or on the session's own event numbers.
/// </summary>
internal static class RerunPlan
{
    /// <summary>What <c>ArgumentSizeLimits</c> writes in place of a huge argument: such a call cannot be replayed.</summary>
    private const string CutArgumentMarker = "only the start and end are stored";

    private static readonly HashSet<string> Replayable = new(StringComparer.Ordinal) { "session_exec", "session_write_file", "session_edit_file" };

    private static readonly HashSet<string> WorkspaceTools = new(StringComparer.Ordinal)
    {
        "session_job_input", "session_job_kill", "session_terminal_open", "session_terminal_send", "session_terminal_close", "session_restore",
    };

    public static IReadOnlyList<RerunStep> From(IEnumerable<AuditEvent> events)
    {
        var steps = new List<RerunStep>();
        foreach (var e in events)
        {
            var tool = e.Entry.Tool;
            if (e.Entry.Kind != AuditKinds.ToolCall || tool is null || e.Entry.Outcome is not (AuditOutcomes.Ok or AuditOutcomes.Error))
            {
                continue;
            }
            var arguments = Transcript.Parse(e.Entry.Arguments) as JsonObject ?? [];
            if (WorkspaceTools.Contains(tool))
            {
                steps.Add(new RerunStep(e.Seq, tool, arguments, tool, Skipped: $"{tool} is not executed again (interactive, timing-dependent or tied to this session's events)"));
                continue;
            }
            if (!Replayable.Contains(tool))
            {
                continue;
            }
            var what = tool == "session_exec" ? "$ " + (arguments["command"]?.ToString() ?? "") : $"{tool} {arguments["path"]}";
            var text = arguments.ToJsonString();
            string? skipped = null;
            if (text.Contains(CutArgumentMarker, StringComparison.Ordinal))
            {
                skipped = "an argument was too large to record whole";
            }
            else if (tool == "session_exec" && arguments["background"]?.GetValue<bool>() == true)
            {
                skipped = "a background job";
            }
            else if (tool == "session_edit_file" && arguments["dry_run"]?.GetValue<bool>() == true)
            {
                skipped = "a dry run (it changed nothing)";
            }
            var caveat = text.Contains(SecretRedactor.Mask, StringComparison.Ordinal)
                ? "its recorded arguments have secrets masked, so it ran with the mask in their place"
                : null;
            steps.Add(new RerunStep(e.Seq, tool, arguments, what, skipped, caveat));
        }
        return steps;
    }
}

/// <summary>How a step's rerun differs from the original: exit code, outcome, output and resulting files.</summary>
internal static class StepComparison
{
    /// <summary>What a run of a step showed.</summary>
    public sealed record Run(string Outcome, int? ExitCode, string Stdout, string Stderr, IReadOnlyList<FileChange> Changes);

    /// <summary>Each difference as a sentence; empty when the rerun matches the original.</summary>
    public static IReadOnlyList<string> Differences(Run original, Run rerun)
    {
        var differences = new List<string>();
        if (original.Outcome != rerun.Outcome)
        {
            differences.Add($"outcome {original.Outcome} -> {rerun.Outcome}");
        }
        if (original.ExitCode != rerun.ExitCode)
        {
            differences.Add($"exit code {original.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} -> {rerun.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        }
        if (FirstDifference(original.Stdout, rerun.Stdout) is { } stdout)
        {
            differences.Add("stdout differs " + stdout);
        }
        if (FirstDifference(original.Stderr, rerun.Stderr) is { } stderr)
        {
            differences.Add("stderr differs " + stderr);
        }
        var before = original.Changes.ToDictionary(c => c.Path, Shape, StringComparer.Ordinal);
        var after = rerun.Changes.ToDictionary(c => c.Path, Shape, StringComparer.Ordinal);
        var files = before.Keys.Union(after.Keys).Where(p => before.GetValueOrDefault(p) != after.GetValueOrDefault(p)).Order(StringComparer.Ordinal).ToList();
        if (files.Count > 0)
        {
            differences.Add($"resulting files differ: {string.Join(", ", files.Take(20))}{(files.Count > 20 ? $" and {files.Count - 20} more" : "")}");
        }
        return differences;
    }

    private static string Shape(FileChange c) => $"{c.Kind} {c.FromPath} {c.After?.Kind} {c.After?.Mode} {c.After?.Hash}";

    /// <summary>Where two outputs first differ, as "at line N: 'a' vs 'b'" (each side cut to 80 characters), or null.</summary>
    public static string? FirstDifference(string original, string rerun)
    {
        if (string.Equals(original, rerun, StringComparison.Ordinal))
        {
            return null;
        }
        var a = original.Split('\n');
        var b = rerun.Split('\n');
        var line = 0;
        while (line < a.Length && line < b.Length && a[line] == b[line])
        {
            line++;
        }
        static string Cut(string[] lines, int i) => i < lines.Length ? (lines[i].Length > 80 ? lines[i][..80] + "..." : lines[i]) : "(end)";
        return $"at line {line + 1}: '{Cut(a, line)}' vs '{Cut(b, line)}'";
    }
}
