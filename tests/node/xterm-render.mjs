// Renders a recorded terminal byte stream with @xterm/headless, the reference for TerminalScreen's tests.
//
// Usage: node tests/node/xterm-render.mjs FILE COLS ROWS [OFFSET...]
// Feeds FILE's bytes (xterm.js decodes the UTF-8 itself) and prints, as one JSON array, a snapshot of the screen after
// the first OFFSET bytes for each OFFSET given, and after the whole file: the visible rows with trailing spaces trimmed,
// the cursor (its column held inside the grid: xterm.js reports COLS while a wrap is pending), whether the cursor is
// shown, whether the alternate screen is active, and the window title. Widths follow Unicode 11 (the unicode11 addon),
// as wcwidth in the programs that were recorded does.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless');
const { Unicode11Addon } = require('@xterm/addon-unicode11');

const [file, colsText, rowsText, ...offsetTexts] = process.argv.slice(2);
const cols = Number(colsText);
const rows = Number(rowsText);
const bytes = readFileSync(file);
const offsets = [...offsetTexts.map(Number), bytes.length];

const terminal = new Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
terminal.loadAddon(new Unicode11Addon());
terminal.unicode.activeVersion = '11';
let title = '';
terminal.onTitleChange(text => { title = text; });

const write = data => new Promise(resolve => terminal.write(data, resolve));

const snapshots = [];
let fed = 0;
for (const offset of offsets) {
  await write(bytes.subarray(fed, offset));
  fed = offset;
  const buffer = terminal.buffer.active;
  const lines = [];
  for (let row = 0; row < rows; row++) {
    lines.push(buffer.getLine(buffer.baseY + row).translateToString(true).replace(/ +$/, ''));
  }
  snapshots.push({
    offset,
    lines,
    cursorRow: buffer.cursorY,
    cursorColumn: Math.min(buffer.cursorX, cols - 1),
    // Not in the public API: the core service's flag behind DECTCEM.
    cursorVisible: !terminal._core.coreService.isCursorHidden,
    alternateScreen: buffer.type === 'alternate',
    title,
  });
}
process.stdout.write(JSON.stringify(snapshots));
terminal.dispose();
