using System.Globalization;
using System.Text;
using SessionMcp.SessionRouting.Editing;

namespace SessionMcp.SessionRouting.History;

/// <summary>What a patch is for.</summary>
internal enum PatchStyle
{
    /// <summary>For `git apply`: binary files carry their content ("GIT binary patch"), index lines carry full object
    /// ids (git refuses a binary patch without them).</summary>
    Apply,

    /// <summary>For a person or a model reading it: binary files are only named ("Binary files a/x and b/x
    /// differ"), files whose content is not stored say so; what `session_replay format:"diff"` shows.</summary>
    Review,
}

/// <param name="Text">The patch, "" when nothing changed.</param>
/// <param name="ContentMissing">Paths whose change needs content the store does not have (above the size limit, or
/// pruned). In <see cref="PatchStyle.Apply"/> they are left out of <see cref="Text"/> so the rest still applies; the
/// caller must tell the user these files are named here but not in the patch.</param>
internal sealed record GitPatchResult(string Text, IReadOnlyList<string> ContentMissing, int FilesChanged, int LinesAdded, int LinesRemoved);

/// <summary>
/// Writes changes between two workspace trees in git's extended diff format: text hunks (via <see cref="UnifiedDiff"/>,
/// keeping CRs and marking a missing final newline), additions and removals against /dev/null, mode changes, renames
/// at 100% similarity, symlinks (mode 120000, the target as content) and binary files.
/// </summary>
/// <remarks>
/// Our own writer rather than LibGit2Sharp (0.32.0 loads here): its patch API cannot emit "GIT binary patch"
/// sections (no GIT_DIFF_SHOW_BINARY in its options), so a binary change would not apply, and it can only diff trees
/// it has written into an object database first. The format parts it would have saved are small: base85 and zlib.
/// Content that is not valid UTF-8 is written as a binary patch, so the patch stays a string without losing bytes.
/// </remarks>
internal static class GitPatch
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static GitPatchResult Write(IReadOnlyList<FileChange> changes, IBlobReader blobs, PatchStyle style = PatchStyle.Apply, int context = 3)
    {
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(blobs);
        var writer = new Writer(blobs, style, context);
        foreach (var change in changes)
        {
            writer.Append(change);
        }
        return new GitPatchResult(writer.Output.ToString(), writer.Missing, writer.Files, writer.Added, writer.Removed);
    }

    private sealed class Writer(IBlobReader blobs, PatchStyle style, int context)
    {
        public StringBuilder Output { get; } = new();

        public List<string> Missing { get; } = [];

        public int Files { get; private set; }

        public int Added { get; private set; }

        public int Removed { get; private set; }

        public void Append(FileChange change)
        {
            switch (change.Kind)
            {
                case ChangeKind.Renamed:
                    AppendRename(change);
                    break;
                case ChangeKind.ModeChanged when change.Before!.GitMode == change.After!.GitMode:
                    // Bits git does not record (0600 vs 0644): nothing to say in a patch.
                    break;
                case ChangeKind.ModeChanged:
                    Header(change.Path, change.Path);
                    ModeLines(change.Before!, change.After!);
                    Files++;
                    break;
                case ChangeKind.Modified when change.Before!.Kind != change.After!.Kind:
                    // A file that became a symlink (or back) is a removal and an addition in git's format.
                    AppendContent(change.Path, change.Path, change.Before, null);
                    AppendContent(change.Path, change.Path, null, change.After);
                    break;
                default:
                    AppendContent(change.FromPath ?? change.Path, change.Path, change.Before, change.After);
                    break;
            }
        }

        private void AppendRename(FileChange change)
        {
            var from = change.FromPath ?? throw new ArgumentException($"The rename of {change.Path} has no FromPath.", nameof(change));
            Header(from, change.Path);
            if (change.Before!.GitMode != change.After!.GitMode)
            {
                ModeLines(change.Before, change.After);
            }
            Output.Append("similarity index 100%\n");
            Output.Append("rename from ").Append(Quote(from)).Append('\n');
            Output.Append("rename to ").Append(Quote(change.Path)).Append('\n');
            Files++;
        }

        /// <summary>An addition (before null), a removal (after null) or a content change of one path.</summary>
        private void AppendContent(string oldPath, string newPath, FileEntry? before, FileEntry? after)
        {
            var oldBytes = before is null ? [] : ReadOrNull(before);
            var newBytes = after is null ? [] : ReadOrNull(after);
            if (oldBytes is null || newBytes is null)
            {
                Missing.Add(newPath);
                if (style == PatchStyle.Review)
                {
                    Header(oldPath, newPath);
                    CreationLines(before, after);
                    var sizes = $"{(before is null ? "" : $"{before.Size:N0} bytes")}{(before is not null && after is not null ? " -> " : "")}{(after is null ? "" : $"{after.Size:N0} bytes")}";
                    Output.Append(CultureInfo.InvariantCulture, $"Content not stored (above the size limit, or pruned): {sizes}\n");
                    Files++;
                }
                return;
            }

            Header(oldPath, newPath);
            CreationLines(before, after);
            var oldText = Decode(oldBytes);
            var newText = Decode(newBytes);
            var binary = oldText is null || newText is null;
            IndexLine(oldBytes, newBytes, before, after, binary);
            Files++;
            var oldLabel = before is null ? "/dev/null" : Quote("a/" + oldPath);
            var newLabel = after is null ? "/dev/null" : Quote("b/" + newPath);
            if (binary)
            {
                if (style == PatchStyle.Apply)
                {
                    GitBinaryPatch.AppendLiterals(Output, oldBytes, newBytes);
                }
                else
                {
                    Output.Append("Binary files ").Append(oldLabel).Append(" and ").Append(newLabel).Append(" differ\n");
                }
                return;
            }

            var diff = UnifiedDiff.Compute(oldText!, newText!, newPath, context, keepCarriageReturns: true);
            if (diff.IsEmpty)
            {
                // An empty file added or removed: the header says it all, as in `git diff`.
                return;
            }
            Output.Append("--- ").Append(oldLabel).Append(TabAfterSpace(oldLabel)).Append('\n');
            Output.Append("+++ ").Append(newLabel).Append(TabAfterSpace(newLabel)).Append('\n');
            // UnifiedDiff starts with its own two header lines; the hunks follow them.
            var text = diff.Text;
            var hunks = text.IndexOf('\n', text.IndexOf('\n') + 1) + 1;
            Output.Append(text, hunks, text.Length - hunks);
            Added += diff.LinesAdded;
            Removed += diff.LinesRemoved;
        }

        private byte[]? ReadOrNull(FileEntry entry) => entry.Stored ? blobs.Read(entry.Hash) : null;

        private static string? Decode(byte[] bytes)
        {
            if (GitBinaryPatch.LooksBinary(bytes))
            {
                return null;
            }
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                return null;
            }
        }

        private void Header(string oldPath, string newPath) =>
            Output.Append("diff --git ").Append(Quote("a/" + oldPath)).Append(' ').Append(Quote("b/" + newPath)).Append('\n');

        private void CreationLines(FileEntry? before, FileEntry? after)
        {
            if (before is null)
            {
                Output.Append("new file mode ").Append(after!.GitMode).Append('\n');
            }
            else if (after is null)
            {
                Output.Append("deleted file mode ").Append(before.GitMode).Append('\n');
            }
            else if (before.GitMode != after.GitMode)
            {
                ModeLines(before, after);
            }
        }

        private void ModeLines(FileEntry before, FileEntry after)
        {
            Output.Append("old mode ").Append(before.GitMode).Append('\n');
            Output.Append("new mode ").Append(after.GitMode).Append('\n');
        }

        private void IndexLine(byte[] oldBytes, byte[] newBytes, FileEntry? before, FileEntry? after, bool binary)
        {
            var oldId = before is null ? GitBinaryPatch.NullId : GitBinaryPatch.BlobId(oldBytes);
            var newId = after is null ? GitBinaryPatch.NullId : GitBinaryPatch.BlobId(newBytes);
            if (style == PatchStyle.Review || !binary)
            {
                // Only a binary patch needs full ids; short ones read better.
                oldId = oldId[..7];
                newId = newId[..7];
            }
            Output.Append("index ").Append(oldId).Append("..").Append(newId);
            if (before is not null && after is not null && before.GitMode == after.GitMode)
            {
                Output.Append(' ').Append(after.GitMode);
            }
            Output.Append('\n');
        }
    }

    /// <summary>git appends a tab to a ---/+++ name that has a space, so GNU patch finds where the name ends.</summary>
    private static string TabAfterSpace(string label) => label.Contains(' ') && !label.StartsWith('"') ? "\t" : "";

    /// <summary>
    /// A name as git writes it: as is, unless it holds a control character, a double quote or a backslash; then in
    /// double quotes with C escapes. Non-ASCII stays UTF-8 (as with core.quotePath=false), which `git apply` reads.
    /// </summary>
    internal static string Quote(string name)
    {
        if (!name.Any(c => c < 0x20 || c == '"' || c == '\\' || c == 0x7f))
        {
            return name;
        }
        var quoted = new StringBuilder("\"");
        foreach (var c in name)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                '\a' => "\\a",
                '\b' => "\\b",
                '\f' => "\\f",
                '\v' => "\\v",
                _ when c < 0x20 || c == 0x7f => "\\" + Convert.ToString(c, 8).PadLeft(3, '0'),
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }
}
