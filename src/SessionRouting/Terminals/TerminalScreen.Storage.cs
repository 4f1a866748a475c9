namespace SessionMcp.SessionRouting.Terminals;

// The storage behind TerminalScreen: rows of packed cells, the two screens, saved cursors and character sets.
internal sealed partial class TerminalScreen
{
    private readonly record struct SavedCursor(int X, int Y, char Mapping)
    {
        public static SavedCursor Home => new(0, 0, 'B');
    }

    private struct Charsets
    {
        public static Charsets Default => new() { G0 = 'B', G1 = 'B', G2 = 'B', G3 = 'B', Mapping = 'B' };

        public char G0;
        public char G1;
        public char G2;
        public char G3;
        public int Gl;

        // What printing uses: the set invoked into GL, or what DECRC restored since.
        public char Mapping;

        public void Invoke(int set)
        {
            Gl = set;
            Mapping = Get(set);
        }

        public void Designate(int set, char final)
        {
            switch (set)
            {
                case 0:
                    G0 = final;
                    break;
                case 1:
                    G1 = final;
                    break;
                case 2:
                    G2 = final;
                    break;
                default:
                    G3 = final;
                    break;
            }
            if (set == Gl)
            {
                Mapping = final;
            }
        }

        private readonly char Get(int set) => set switch { 0 => G0, 1 => G1, 2 => G2, _ => G3 };
    }

    /// <summary>A row: its cells, the text of its cells with combining marks, and when it last changed.</summary>
    private sealed class Line(int columns)
    {
        public int[] Cells = new int[columns];

        // Indexed from cells with ClusterFlag; entries of overwritten cells linger until a compaction.
        public List<string>? Clusters;

        public long Version;

        public void Clear()
        {
            Array.Clear(Cells);
            Clusters = null;
        }

        /// <summary>Stores a cluster's text, replacing the entry at <paramref name="reuse"/> when the cell had one; returns its index.</summary>
        public int AddCluster(string text, int reuse)
        {
            Clusters ??= [];
            if (reuse >= 0 && reuse < Clusters.Count)
            {
                Clusters[reuse] = text;
                return reuse;
            }
            if (Clusters.Count >= Cells.Length)
            {
                Compact();
            }
            Clusters.Add(text);
            return Clusters.Count - 1;
        }

        // Keeps only the entries that cells still point at, so the list never outgrows the row.
        private void Compact()
        {
            var live = new List<string>();
            for (var x = 0; x < Cells.Length; x++)
            {
                if ((Cells[x] & ClusterFlag) != 0)
                {
                    live.Add(Clusters![Cells[x] & CodePointMask]);
                    Cells[x] = (Cells[x] & ~CodePointMask) | (live.Count - 1);
                }
            }
            Clusters = live;
        }

        public void Resize(int columns)
        {
            var cells = new int[columns];
            Cells.AsSpan(0, Math.Min(columns, Cells.Length)).CopyTo(cells);
            if ((cells[^1] & WideFlag) != 0 && columns < Cells.Length)
            {
                cells[^1] = 0; // its spacer is cut off
            }
            Cells = cells;
        }
    }

    /// <summary>
    /// A screen's rows, scroll region (inclusive, 0-based), saved cursor and tab stops (per screen, as in xterm.js: the
    /// alternate screen starts with the default stops).
    /// </summary>
    private sealed class Grid
    {
        public Line[] Lines;
        public int Top;
        public int Bottom;
        public SavedCursor Saved = SavedCursor.Home;
        public bool[] TabStops;

        public Grid(int columns, int rows)
        {
            TabStops = DefaultTabStops(columns, null);
            Lines = new Line[rows];
            for (var y = 0; y < rows; y++)
            {
                Lines[y] = new Line(columns);
            }
            Bottom = rows - 1;
        }

        /// <summary>
        /// Moves rows <paramref name="top"/>..<paramref name="bottom"/> down by <paramref name="count"/> (up when
        /// negative); rows pushed out are blanked and come back in at the other end, and every row there is touched.
        /// </summary>
        public void Shift(int top, int bottom, int count, long version)
        {
            var height = bottom - top + 1;
            var n = Math.Min(Math.Abs(count), height);
            if (n == 0)
            {
                return;
            }
            var region = Lines.AsSpan(top, height);
            // Rotating the row objects moves no cells.
            if (count < 0)
            {
                region[..n].Reverse();
                region[n..].Reverse();
                region.Reverse();
                foreach (var line in region[^n..])
                {
                    line.Clear();
                }
            }
            else
            {
                region.Reverse();
                region[..n].Reverse();
                region[n..].Reverse();
                foreach (var line in region[..n])
                {
                    line.Clear();
                }
            }
            foreach (var line in region)
            {
                line.Version = version;
            }
        }

        /// <summary>
        /// Resizes the rows, keeping the row <paramref name="anchor"/> (the cursor's, or the saved cursor's) on screen;
        /// returns where row <paramref name="cursorRow"/> ends up when <paramref name="moveCursor"/>, else it unchanged.
        /// </summary>
        public int Resize(int columns, int rows, int anchor, bool moveCursor, int cursorRow)
        {
            foreach (var line in Lines)
            {
                line.Resize(columns);
            }
            var lines = new List<Line>(Lines);
            var dropTop = Math.Max(0, anchor - rows + 1);
            dropTop = Math.Min(dropTop, Math.Max(0, lines.Count - rows));
            lines.RemoveRange(0, dropTop);
            if (lines.Count > rows)
            {
                lines.RemoveRange(rows, lines.Count - rows);
            }
            while (lines.Count < rows)
            {
                lines.Add(new Line(columns));
            }
            Lines = [.. lines];
            TabStops = DefaultTabStops(columns, TabStops);
            Top = 0;
            Bottom = rows - 1;
            Saved = Saved with
            {
                X = Math.Min(Saved.X, columns - 1),
                Y = Math.Clamp(Saved.Y - dropTop, 0, rows - 1),
            };
            return moveCursor ? cursorRow - dropTop : cursorRow;
        }
    }
}
