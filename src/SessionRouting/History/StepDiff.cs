using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.History;

/// <summary>Changes as a person or a model reads them: a unified diff per text file; binary and unstored files named.</summary>
internal static class StepDiff
{
    public static string Render(IReadOnlyList<FileChange> changes, IBlobReader blobs)
    {
        var text = new StringBuilder();
        foreach (var change in changes)
        {
            var before = change.Before;
            var after = change.After;
            var oldPath = change.FromPath ?? change.Path;
            text.Append("diff --git a/").Append(oldPath).Append(" b/").Append(change.Path).Append('\n');
            if (before is null)
            {
                text.Append("new file mode ").Append(after!.GitMode).Append('\n');
            }
            else if (after is null)
            {
                text.Append("deleted file mode ").Append(before.GitMode).Append('\n');
            }
            else if (before.GitMode != after.GitMode)
            {
                text.Append("old mode ").Append(before.GitMode).Append("\nnew mode ").Append(after.GitMode).Append('\n');
            }
            if (change.FromPath is not null)
            {
                text.Append("rename from ").Append(change.FromPath).Append("\nrename to ").Append(change.Path).Append('\n');
            }
            if (change.Kind is ChangeKind.ModeChanged || (change.Kind == ChangeKind.Renamed && before?.Hash == after?.Hash))
            {
                continue;
            }
            var oldContent = before is null ? [] : blobs.Read(before.Hash);
            var newContent = after is null ? [] : blobs.Read(after.Hash);
            if (oldContent is null || newContent is null)
            {
                text.Append("(content not stored: ").Append(before?.Size ?? 0).Append(" -> ").Append(after?.Size ?? 0).Append(" bytes)\n");
                continue;
            }
            if (IsBinary(oldContent) || IsBinary(newContent))
            {
                text.Append("Binary files ").Append(before is null ? "/dev/null" : "a/" + oldPath).Append(" and ")
                    .Append(after is null ? "/dev/null" : "b/" + change.Path).Append(" differ\n");
                continue;
            }
            var diff = UnifiedDiff.Create(Encoding.UTF8.GetString(oldContent), Encoding.UTF8.GetString(newContent), change.Path);
            if (before is null)
            {
                diff = diff.Replace("--- a/" + change.Path + "\n", "--- /dev/null\n", StringComparison.Ordinal);
            }
            if (after is null)
            {
                diff = diff.Replace("+++ b/" + change.Path + "\n", "+++ /dev/null\n", StringComparison.Ordinal);
            }
            text.Append(diff);
        }
        return text.ToString();
    }

    /// <summary>As git decides: a NUL byte in the first 8000 bytes.</summary>
    public static bool IsBinary(ReadOnlySpan<byte> content) => content[..Math.Min(content.Length, 8000)].Contains((byte)0);
}
