// How many characters a model reads from typical results: session-mcp's tools next to the peers that do the same
// thing (@modelcontextprotocol/server-filesystem, desktop-commander), all driven by the official TypeScript SDK client
// (output schemas validated, as Claude Code does). Size = every text content item + JSON.stringify(structuredContent).
// Prints a markdown table on stdout; progress goes to stderr.
//
//   node tests/node/measure-sizes.mjs
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { connectSessionMcp, connectStdio, freshTempDir, resultSize, resultText } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const scratch = freshTempDir('measure');
const dataDir = path.join(scratch.dir, 'data');
const work = path.join(scratch.dir, 'work');
const home = path.join(scratch.dir, 'home');
for (const dir of [dataDir, work, home]) {
  mkdirSync(dir);
}

const sevenLines = Array.from({ length: 7 }, (_, i) => `line ${i + 1}: the quick brown fox`).join('\n') + '\n';
const twoHundredLines = Array.from({ length: 200 }, (_, i) => `const value${i + 1} = compute(${i + 1}); // line ${i + 1}`).join('\n') + '\n';
const editOld = 'const value100 = compute(100); // line 100';
const editNew = 'const value100 = compute(100) + 1; // line 100';

/** rows[operation][server] = { tool, size } */
const rows = new Map();
const servers = ['session-mcp', 'server-filesystem', 'desktop-commander'];

function record(operation, server, tool, size) {
  if (!rows.has(operation)) {
    rows.set(operation, {});
  }
  rows.get(operation)[server] = { tool, size };
  console.error(`${server.padEnd(18)} ${operation.padEnd(40)} ${tool.padEnd(20)} ${size.total} (${size.text} text + ${size.structured} structured)`);
}

/** One tools/call, which must succeed; records its size. */
async function measure(client, server, operation, tool, args) {
  const result = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 });
  assert.ok(!result.isError, `${server} ${tool} failed: ${resultText(result)}`);
  record(operation, server, tool, resultSize(result));
  return result;
}

/** tools/list (which also caches the output-schema validators); its size is the JSON of the whole result. */
async function measureToolsList(client, server) {
  const listed = await client.listTools();
  const total = JSON.stringify(listed).length;
  record('tools/list (JSON of the result)', server, `${listed.tools.length} tools`, { text: total, structured: 0, total });
}

async function measureSessionMcp() {
  const server = await connectSessionMcp(dataDir);
  try {
    const { client } = server;
    await measureToolsList(client, 'session-mcp');
    const created = await measure(client, 'session-mcp', 'create a session', 'session_create', {});
    const id = created.structuredContent.session_id;
    const exec = await measure(client, 'session-mcp', 'exec `echo hi`', 'session_exec', { session_id: id, command: 'echo hi' });
    assert.equal(exec.structuredContent.stdout, 'hi\n');
    await measure(client, 'session-mcp', 'write a 7-line file', 'session_write_file', { session_id: id, path: 'seven.txt', content: sevenLines });
    await measure(client, 'session-mcp', 'read a 7-line file', 'session_read_file', { session_id: id, path: 'seven.txt' });
    await client.callTool({ name: 'session_write_file', arguments: { session_id: id, path: 'big.js', content: twoHundredLines } });
    await measure(client, 'session-mcp', 'edit 1 line of a 200-line file', 'session_edit_file', { session_id: id, path: 'big.js', old_string: editOld, new_string: editNew });
    await measure(client, 'session-mcp', 'list (sessions: 1; directory: 2 files)', 'session_list', {});
    await measure(client, 'session-mcp', 'replay 5 events as a transcript', 'session_replay', { session_id: id, limit: 5, format: 'transcript' });
    await measure(client, 'session-mcp', 'replay 5 events as events', 'session_replay', { session_id: id, limit: 5, format: 'events' });
    await measure(client, 'session-mcp', 'destroy a session', 'session_destroy', { session_id: id });
  } catch (error) {
    throw new Error(`${error.message}\n--- session-mcp stderr (tail) ---\n${server.stderr().slice(-4000)}`);
  } finally {
    await server.close();
  }
}

async function measureFilesystem() {
  const dir = path.join(work, 'fs');
  mkdirSync(dir);
  const bin = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');
  const server = await connectStdio({ command: process.execPath, args: [bin, dir], env: { ...process.env, HOME: home }, cwd: dir });
  try {
    const { client } = server;
    await measureToolsList(client, 'server-filesystem');
    await measure(client, 'server-filesystem', 'write a 7-line file', 'write_file', { path: path.join(dir, 'seven.txt'), content: sevenLines });
    await measure(client, 'server-filesystem', 'read a 7-line file', 'read_text_file', { path: path.join(dir, 'seven.txt') });
    await client.callTool({ name: 'write_file', arguments: { path: path.join(dir, 'big.js'), content: twoHundredLines } });
    await measure(client, 'server-filesystem', 'edit 1 line of a 200-line file', 'edit_file', { path: path.join(dir, 'big.js'), edits: [{ oldText: editOld, newText: editNew }] });
    await measure(client, 'server-filesystem', 'list (sessions: 1; directory: 2 files)', 'list_directory', { path: dir });
  } finally {
    await server.close();
  }
}

async function measureDesktopCommander() {
  const dir = path.join(work, 'dc');
  mkdirSync(dir);
  // Its config lives in $HOME: a private one, telemetry off, confined to the work dir, no onboarding.
  mkdirSync(path.join(home, '.claude-server-commander'));
  writeFileSync(path.join(home, '.claude-server-commander', 'config.json'), JSON.stringify({
    blockedCommands: [], defaultShell: '/bin/sh', allowedDirectories: [dir], telemetryEnabled: false,
    fileWriteLineLimit: 50, fileReadLineLimit: 1000, pendingWelcomeOnboarding: false, welcomeOnboardingEligible: false,
  }, null, 2));
  const bin = require.resolve('@wonderwhy-er/desktop-commander/dist/index.js');
  const server = await connectStdio({ command: process.execPath, args: [bin, '--no-onboarding'], env: { ...process.env, HOME: home, SHELL: '/bin/sh' }, cwd: dir });
  try {
    const { client } = server;
    await measureToolsList(client, 'desktop-commander');
    const exec = await measure(client, 'desktop-commander', 'exec `echo hi`', 'start_process', { command: 'echo hi', timeout_ms: 10_000 });
    assert.match(resultText(exec), /^hi$/m, `start_process did not show the output: ${resultText(exec)}`);
    await measure(client, 'desktop-commander', 'write a 7-line file', 'write_file', { path: path.join(dir, 'seven.txt'), content: sevenLines });
    await measure(client, 'desktop-commander', 'read a 7-line file', 'read_file', { path: path.join(dir, 'seven.txt') });
    await client.callTool({ name: 'write_file', arguments: { path: path.join(dir, 'big.js'), content: twoHundredLines.split('\n').slice(0, 50).join('\n') + '\n' } });
    for (let from = 50; from < 200; from += 50) {
      // Its write_file takes at most fileWriteLineLimit (50) lines per call.
      await client.callTool({ name: 'write_file', arguments: { path: path.join(dir, 'big.js'), content: twoHundredLines.split('\n').slice(from, from + 50).join('\n') + '\n', mode: 'append' } });
    }
    await measure(client, 'desktop-commander', 'edit 1 line of a 200-line file', 'edit_block', { file_path: path.join(dir, 'big.js'), old_string: editOld, new_string: editNew });
    await measure(client, 'desktop-commander', 'list (sessions: 1; directory: 2 files)', 'list_directory', { path: dir, depth: 1 });
  } finally {
    await server.close();
  }
}

function cell(entry) {
  if (!entry) {
    return '—';
  }
  const { tool, size } = entry;
  return size.structured === 0 && size.text === size.total && /tools$/.test(tool)
    ? `${size.total} (${tool})`
    : `\`${tool}\` **${size.total}** (${size.text} + ${size.structured})`;
}

try {
  await measureSessionMcp();
  await measureFilesystem();
  await measureDesktopCommander();
} catch (error) {
  console.error(`measure-sizes failed: ${error.message}`);
  console.error(`scratch dir kept: ${scratch.dir}`);
  process.exit(1);
}

console.log(`Characters a model reads per result: **total** (content text + JSON of structuredContent). Paths in results are under a ${scratch.dir.length}-character temp dir.\n`);
console.log(`| operation | ${servers.join(' | ')} |`);
console.log(`|---|${servers.map(() => '---').join('|')}|`);
for (const [operation, entries] of rows) {
  console.log(`| ${operation} | ${servers.map((server) => cell(entries[server])).join(' | ')} |`);
}
scratch.remove();
