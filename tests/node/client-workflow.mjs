// An agent's workflow against session-mcp through the official TypeScript SDK client (what Claude Code and the MCP
// Inspector are built on), the server started exactly as the root mcp.json says. The client validates every
// structuredContent against the tool's outputSchema (cached by listTools) and throws McpError -32602 on a mismatch:
// such an error is never caught here, it fails the run.
//
//   node tests/node/client-workflow.mjs        (exit 0: every step passed; exit 1 at the first failure)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { MaxResultChars, connectSessionMcp, freshTempDir, repoRoot, resultSize, resultText } from './lib/harness.mjs';
import { fail, onFailureShow, step } from './lib/steps.mjs';

process.on('uncaughtException', (error) => fail('uncaught', error));

const CallTimeoutMs = 120_000;
const data = freshTempDir('workflow');
console.log(`session-mcp from ${path.join(repoRoot, 'mcp.json')}, data dir ${data.dir}`);

let server;
await step('connect (mcp.json: command, args, env; cwd = repository root)', async () => {
  server = await connectSessionMcp(data.dir);
  const info = server.client.getServerVersion();
  return `${info?.name} ${info?.version}`;
});
onFailureShow(() => `data dir kept: ${data.dir}\n--- server stderr (tail) ---\n${server.stderr().slice(-8000)}`);
const { client } = server;

let callCount = 0;
let lastSize;
/**
 * tools/call through the SDK (validation on). Every result, success or error, must fit in MaxResultChars.
 * The SDK has already checked structuredContent against the outputSchema when this returns.
 */
async function call(name, args) {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout: CallTimeoutMs });
  callCount++;
  const size = (lastSize = resultSize(result));
  assert.ok(size.total <= MaxResultChars, `${name} result is ${size.total} characters (text ${size.text} + structuredContent ${size.structured}), over ${MaxResultChars}`);
  return result;
}

/** A successful call: not isError, and it carries structuredContent (which the SDK validated). */
async function ok(name, args) {
  const result = await call(name, args);
  assert.ok(!result.isError, `${name} failed: ${resultText(result)}`);
  assert.ok(result.structuredContent, `${name} returned no structuredContent`);
  return result.structuredContent;
}

/** A tool error: isError true, with a message; returns the message. */
async function toolError(name, args) {
  const result = await call(name, args);
  assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} should fail, got ${resultText(result)}`);
  const text = resultText(result);
  assert.ok(text.length > 0, `${name} error has no text`);
  return text;
}

const oneLine = (text, max = 120) => (text.length > max ? `${text.slice(0, max)}…` : text).replace(/\s+/g, ' ');
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

let tools;
await step('tools/list: every tool has an inputSchema and an outputSchema', async () => {
  // Listing first caches the output-schema validators that callTool uses.
  const listed = await client.listTools();
  tools = listed.tools;
  assert.ok(tools.length > 0, 'no tools');
  for (const tool of tools) {
    assert.equal(tool.inputSchema?.type, 'object', `${tool.name}: inputSchema`);
    assert.equal(tool.outputSchema?.type, 'object', `${tool.name}: outputSchema`);
  }
  for (const name of ['session_create', 'session_list', 'session_destroy', 'session_exec', 'session_read_file', 'session_write_file', 'session_edit_file', 'session_replay']) {
    assert.ok(tools.some((tool) => tool.name === name), `${name} is not listed`);
  }
  return `${tools.length} tools, tools/list result ${JSON.stringify(listed).length} characters of JSON`;
});

const sourceDir = path.join(repoRoot, 'samples', 'scenarios');
let session;
await step('session_create with source_dir (under the server\'s source root)', async () => {
  session = await ok('session_create', { source_dir: sourceDir, name: 'ts-client-workflow' });
  assert.equal(typeof session.session_id, 'string');
  assert.ok(session.session_id.length > 0);
  assert.equal(session.backend, 'local');
  assert.equal(session.status, 'running');
  return session.session_id;
});
const id = session.session_id;

await step('session_exec ls: the copied files are in the workspace', async () => {
  const result = await ok('session_exec', { session_id: id, command: 'ls' });
  assert.equal(result.exit_code, 0, result.stderr);
  assert.match(result.stdout, /^quickstart\.json$/m);
  assert.match(result.stdout, /^docker\.json$/m);
  return oneLine(result.stdout);
});

await step('session_exec echo hi', async () => {
  const result = await ok('session_exec', { session_id: id, command: 'echo hi' });
  assert.equal(result.exit_code, 0);
  assert.equal(result.stdout, 'hi\n');
  assert.equal(result.timed_out, false);
  assert.equal(result.truncated, false);
  assert.ok(Number.isInteger(result.event_seq) && result.event_seq > 0, `event_seq ${result.event_seq}`);
  return `event_seq ${result.event_seq}`;
});

await step('session_exec a failing command: exit code 3', async () => {
  const result = await call('session_exec', { session_id: id, command: 'echo oops >&2; exit 3' });
  assert.ok(result.structuredContent, `no structuredContent: ${resultText(result)}`);
  assert.equal(result.structuredContent.exit_code, 3);
  assert.equal(result.structuredContent.stderr, 'oops\n');
  return `isError ${result.isError === true}`;
});

await step('session_exec a timeout: sleep 5 with timeout_ms 300', async () => {
  const started = performance.now();
  const result = await call('session_exec', { session_id: id, command: 'sleep 5', timeout_ms: 300 });
  assert.ok(result.structuredContent, `no structuredContent: ${resultText(result)}`);
  assert.equal(result.structuredContent.timed_out, true);
  assert.ok(performance.now() - started < 4000, 'the timeout did not kill sleep 5');
  // The session stays usable after a timeout.
  const after = await ok('session_exec', { session_id: id, command: 'echo alive' });
  assert.equal(after.stdout, 'alive\n');
  return `isError ${result.isError === true}, exit_code ${result.structuredContent.exit_code}`;
});

await step('session_exec a noisy command: seq 1 200000 is truncated, the result stays small', async () => {
  const result = await ok('session_exec', { session_id: id, command: 'seq 1 200000' });
  assert.equal(result.exit_code, 0);
  assert.equal(result.truncated, true);
  assert.match(result.stdout, /^1$/m, 'the head is kept');
  assert.match(result.stdout, /^200000$/m, 'the tail is kept');
  const size = lastSize;
  return `result ${size.total} characters (text ${size.text} + structuredContent ${size.structured})`;
});

await step('session_exec cd and export persist', async () => {
  await ok('session_exec', { session_id: id, command: 'mkdir -p sub' });
  const changed = await ok('session_exec', { session_id: id, command: 'cd sub && export X=1' });
  assert.equal(changed.exit_code, 0);
  const result = await ok('session_exec', { session_id: id, command: 'pwd; echo "X=$X"' });
  assert.match(result.stdout, /\/sub\nX=1\n$/);
  assert.match(result.cwd, /sub$/);
  await ok('session_exec', { session_id: id, command: 'cd ..' });
  return `cwd ${result.cwd}`;
});

const fileText = ['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7'].join('\n') + '\n';
let written;
await step('background job: start, wait for a match, answer a read, list, kill', async () => {
  const started = await ok('session_exec', { session_id: id, command: 'echo ready; read x; echo got $x; sleep 100', background: true });
  assert.equal(started.exit_code, undefined);
  assert.match(started.job_id, /^j-/);
  const ready = await ok('session_job_output', { session_id: id, job_id: started.job_id, wait_ms: 10000, until: 'ready' });
  assert.equal(ready.wait_ended_by, 'matched');
  await ok('session_job_input', { session_id: id, job_id: started.job_id, text: 'yes', keys: ['Enter'] });
  const answered = await ok('session_job_output', { session_id: id, job_id: started.job_id, cursor: ready.next_cursor, wait_ms: 10000, until: 'got' });
  assert.equal(answered.output, 'got yes\n');
  const jobs = await ok('session_jobs', { session_id: id });
  assert.ok(jobs.jobs.some((j) => j.job_id === started.job_id && j.state === 'running'));
  const killed = await ok('session_job_kill', { session_id: id, job_id: started.job_id });
  assert.equal(killed.state, 'killed');
  const handedOver = await ok('session_exec', { session_id: id, command: 'echo early; sleep 1; echo late', timeout_ms: 300, on_timeout: 'background' });
  assert.equal(handedOver.timed_out, true);
  const rest = await ok('session_job_output', { session_id: id, job_id: handedOver.job_id, wait_ms: 10000 });
  assert.equal(rest.output, 'early\nlate\n');
  return `job ${started.job_id} killed; ${handedOver.job_id} handed over and finished`;
});

await step('terminal: open a shell, type a line, read the screen, close', async () => {
  const opened = await ok('session_terminal_open', { session_id: id, cols: 60, rows: 10 });
  assert.match(opened.terminal_id, /^t-/);
  await ok('session_terminal_send', { session_id: id, terminal_id: opened.terminal_id, text: 'echo from-the-terminal', keys: ['Enter'] });
  const screen = await ok('session_terminal_read', { session_id: id, terminal_id: opened.terminal_id, wait_ms: 5000, until: 'from-the-terminal\\s' });
  assert.ok(screen.screen.includes('from-the-terminal'), screen.screen);
  const changes = await ok('session_terminal_read', { session_id: id, terminal_id: opened.terminal_id, mode: 'changes' });
  assert.ok(Array.isArray(changes.changed));
  const closed = await ok('session_terminal_close', { session_id: id, terminal_id: opened.terminal_id });
  assert.equal(closed.state, 'killed');
  return `terminal ${opened.terminal_id}`;
});

await step('session_write_file', async () => {
  written = await ok('session_write_file', { session_id: id, path: 'src/app.txt', content: fileText, create_dirs: true });
  assert.equal(written.bytes, Buffer.byteLength(fileText));
  assert.equal(written.sha256, sha256(fileText));
  assert.equal(written.created, true);
  assert.equal(written.path, 'src/app.txt', 'the path is not workspace-relative');
  return `${written.path}, ${written.bytes} bytes`;
});

await step('session_read_file: numbered lines for the model, the plain lines and sha256 in structuredContent', async () => {
  const result = await call('session_read_file', { session_id: id, path: 'src/app.txt' });
  assert.ok(!result.isError, resultText(result));
  const read = result.structuredContent;
  assert.equal(read.path, 'src/app.txt');
  assert.equal(read.total_lines, 7);
  assert.equal(read.first_line, 1);
  assert.equal(read.last_line, 7);
  assert.equal(read.has_more, false);
  assert.equal(read.sha256, written.sha256);
  assert.deepEqual(read.content.replace(/\n$/, '').split('\n'), fileText.trimEnd().split('\n'));
  const text = resultText(result);
  for (let line = 1; line <= 7; line++) {
    assert.match(text, new RegExp(`^\\s*${line}\\t(?:line ${line}|new)$`, 'm'), `line ${line} is not numbered in the text: ${text}`);
  }
  return oneLine(text.split('\n')[1] ?? '');
});

await step('session_edit_file: a unified diff with workspace-relative paths', async () => {
  const result = await ok('session_edit_file', { session_id: id, path: 'src/app.txt', old_string: 'line 4\n', new_string: 'new\n' });
  assert.equal(result.replacements, 1);
  assert.equal(result.sha256_before, written.sha256);
  assert.equal(result.sha256_after, sha256(fileText.replace('line 4\n', 'new\n')));
  assert.match(result.diff, /^\+new$/m);
  assert.match(result.diff, /^-line 4$/m);
  assert.match(result.diff, /^--- a\/src\/app\.txt$/m, `diff header: ${result.diff.split('\n')[0]}`);
  assert.match(result.diff, /^\+\+\+ b\/src\/app\.txt$/m);
  assert.ok(!result.diff.includes(data.dir), 'the diff shows a host path');
  return oneLine(result.diff.split('\n').slice(0, 2).join(' '));
});

await step('session_edit_file with no match: the error shows the closest region', async () => {
  const text = await toolError('session_edit_file', { session_id: id, path: 'src/app.txt', old_string: 'line 5\nline 6\nline 9\n', new_string: 'x' });
  assert.match(text, /closest/i);
  assert.match(text, /line 5/);
  return oneLine(text);
});

await step('error: unknown session id', async () => {
  const text = await toolError('session_exec', { session_id: 'no-such-session', command: 'true' });
  assert.match(text, /no-such-session/);
  return oneLine(text);
});

await step('error: invalid argument type (timeout_ms: "x")', async () => {
  const text = await toolError('session_exec', { session_id: id, command: 'true', timeout_ms: 'x' });
  assert.match(text, /timeout_ms/);
  return oneLine(text);
});

await step('error: unknown tool', async () => {
  // The protocol allows either a JSON-RPC error or an isError result; either way it must name the tool. A schema
  // mismatch (-32602 "Structured content does not match") is no acceptable answer and is rethrown.
  let outcome;
  try {
    const result = await call('session_no_such_tool', { session_id: id });
    assert.equal(result.isError, true, `unknown tool answered ${resultText(result)}`);
    outcome = `isError result: ${resultText(result)}`;
  } catch (error) {
    if (!(error instanceof McpError) || /output schema|structured content/i.test(error.message)) {
      throw error;
    }
    outcome = `JSON-RPC error ${error.code}: ${error.message}`;
  }
  assert.match(outcome, /session_no_such_tool/);
  return oneLine(outcome);
});

await step('error: a path that escapes the workspace', async () => {
  const text = await toolError('session_read_file', { session_id: id, path: '../../etc/passwd' });
  assert.ok(!/root:x:0:0/.test(text), 'the error shows /etc/passwd');
  return oneLine(text);
});

await step('session_replay format transcript', async () => {
  const result = await ok('session_replay', { session_id: id, format: 'transcript' });
  assert.equal(typeof result.transcript, 'string');
  assert.match(result.transcript, /echo hi/);
  return `${result.transcript.length} characters`;
});

await step('session_replay format events', async () => {
  const result = await ok('session_replay', { session_id: id, format: 'events' });
  assert.ok(Array.isArray(result.events), 'events is not an array');
  assert.ok(result.events.length >= 10, `${result.events.length} events`);
  assert.ok(result.events.some((event) => event.tool === 'session_exec'), 'no session_exec event');
  return `${result.events.length} events`;
});

await step('session_replay limit 2: next_seq', async () => {
  const result = await ok('session_replay', { session_id: id, format: 'events', limit: 2 });
  assert.equal(result.events.length, 2);
  assert.ok(Number.isInteger(result.next_seq), `next_seq ${result.next_seq}`);
  const next = await ok('session_replay', { session_id: id, format: 'events', limit: 2, from_seq: result.next_seq });
  assert.ok(next.events[0].seq >= result.next_seq && next.events[0].seq > result.events[1].seq, 'the next page does not continue');
  return `next_seq ${result.next_seq}`;
});

await step('error: invalid enum value (format: "xml")', async () => {
  const text = await toolError('session_replay', { session_id: id, format: 'xml' });
  assert.match(text, /format/);
  return oneLine(text);
});

await step('session_replay format diff: each step with what it changed', async () => {
  const result = await ok('session_replay', { session_id: id, format: 'diff', limit: 100 });
  assert.ok(Array.isArray(result.steps), 'steps is not an array');
  const edit = result.steps.find((s) => s.tool === 'session_edit_file' && s.changes);
  assert.ok(edit, 'no edit step with changes');
  assert.match(edit.changes.diff, /^diff --git a\/src\/app.txt b\/src\/app.txt$/m);
  return `${result.steps.length} steps, ${result.steps.filter((s) => s.changes).length} with changes`;
});

let forkId;
let editSeq;
await step('session_diff from the start, session_fork at a step, session_restore, session_export', async () => {
  const diff = await ok('session_diff', { session_id: id });
  assert.ok(diff.changes.files.some((f) => f.path === 'src/app.txt' && f.change === 'added'), JSON.stringify(diff.changes.files));
  const steps = (await ok('session_replay', { session_id: id, format: 'diff', limit: 100 })).steps;
  editSeq = steps.find((s) => s.tool === 'session_write_file').seq;
  const fork = await ok('session_fork', { session_id: id, at_seq: editSeq, name: 'ts-fork' });
  forkId = fork.session.session_id;
  assert.equal(fork.session.forked_from, id);
  const restored = await ok('session_restore', { session_id: id, to_seq: editSeq, dry_run: true });
  assert.equal(restored.dry_run, true);
  const patch = await ok('session_export', { session_id: id, format: 'patch' });
  assert.match(patch.patch_path, /\.patch$/);
  return `${diff.changes.total_files} files since the start; fork ${forkId}; restore would change ${restored.changes.total_files}; patch ${patch.patch_path}`;
});

await step('session_replay mode rerun: the session replayed in a fork of its start', async () => {
  const result = await ok('session_replay', { session_id: id, mode: 'rerun' });
  assert.ok(result.rerun.run > 5, `${result.rerun.run} steps run`);
  assert.equal(typeof result.rerun.into_session_id, 'string');
  assert.ok(result.rerun.steps.every((s) => ['same', 'differs', 'skipped'].includes(s.status)), JSON.stringify(result.rerun.steps));
  return `${result.rerun.run} steps run, ${result.rerun.differing} differ, into ${result.rerun.into_session_id}`;
});

await step('session_list: the session is listed', async () => {
  const result = await ok('session_list', {});
  const listed = result.sessions.find((entry) => entry.session_id === id);
  assert.ok(listed, `${id} is not listed`);
  assert.equal(listed.status, 'running');
  return `${result.sessions.length} session(s)`;
});

await step('session_destroy', async () => {
  const result = await ok('session_destroy', { session_id: id });
  assert.equal(result.session_id, id);
  assert.equal(result.status, 'stopped');
  return result.status;
});

await step('session_exec on the destroyed session fails', async () => {
  const text = await toolError('session_exec', { session_id: id, command: 'echo hi' });
  return oneLine(text);
});

await step('close', async () => {
  await server.close();
  data.remove();
  return `${callCount} tool calls, every result validated and at most ${MaxResultChars} characters`;
});
