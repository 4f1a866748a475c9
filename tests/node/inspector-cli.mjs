// The MCP Inspector CLI (@modelcontextprotocol/inspector-cli, built on the official SDK client, which validates
// structuredContent against each outputSchema) against session-mcp as the root mcp.json starts it:
// tools/list, then tools/call session_create, each must exit 0 and print a result that parses.
//
// inspector-cli 1.0.3 cannot be pointed at the shipped mcp.json directly, for two reasons of its own:
//  - it finds its package.json through a probe relative to the *current directory* (`../package.json`) and dies with
//    ERR_MODULE_NOT_FOUND when the parent of its cwd has none (inspector issue #1503, closed as v1-deprecated);
//    the server inherits that cwd, and mcp.json's `--project src/McpServer` needs the repository root;
//  - with --config, it appends --method … after the server's args, so the `--` in mcp.json's args swallows them
//    ("Method is required").
// So the Inspector runs in a scratch directory with a package.json beside it, from a config whose server is
// lib/launch-from-mcp-json.mjs, which starts mcp.json's command, args and env in the repository root, stdio inherited.
//
//   node tests/node/inspector-cli.mjs        (exit 0: both calls passed)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectSessionMcp, freshTempDir, resultText, serverEnvironment } from './lib/harness.mjs';
import { onFailureShow, step } from './lib/steps.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const inspectorPackage = require.resolve('@modelcontextprotocol/inspector-cli/package.json');
const inspectorBin = path.join(path.dirname(inspectorPackage), JSON.parse(readFileSync(inspectorPackage, 'utf8')).bin['mcp-inspector-cli']);

const scratch = freshTempDir('inspector');
const dataDir = path.join(scratch.dir, 'data');
const inspectorCwd = path.join(scratch.dir, 'cwd');
mkdirSync(dataDir);
mkdirSync(inspectorCwd);
writeFileSync(path.join(scratch.dir, 'package.json'), '{ "private": true }\n');
const config = path.join(scratch.dir, 'mcp.json');
writeFileSync(config, JSON.stringify({
  mcpServers: { 'session-mcp': { type: 'stdio', command: process.execPath, args: [path.join(here, 'lib', 'launch-from-mcp-json.mjs'), 'session-mcp'] } },
}, null, 2));
console.log(`inspector-cli ${inspectorBin}, data dir ${dataDir}`);

let last = { stdout: '', stderr: '' };
onFailureShow(() => `scratch dir kept: ${scratch.dir}\n--- inspector stdout (tail) ---\n${last.stdout.slice(-4000)}\n--- inspector stderr (tail) ---\n${last.stderr.slice(-8000)}`);

/** Runs the Inspector CLI once; the data dir reaches the server through the environment the Inspector passes on. */
function inspector(...methodArgs) {
  const run = spawnSync(process.execPath, [inspectorBin, '--cli', '--config', config, '--server', 'session-mcp', ...methodArgs], {
    cwd: inspectorCwd,
    env: serverEnvironment(dataDir),
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  last = { stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
  assert.ok(!run.error, `the Inspector did not run: ${run.error?.message}`);
  assert.ok(!/-32602|output schema/i.test(last.stderr + last.stdout), `schema error: ${last.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  assert.equal(run.status, 0, `the Inspector exited with ${run.status ?? run.signal}: ${last.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  try {
    return JSON.parse(last.stdout);
  } catch (error) {
    throw new Error(`the Inspector's output is not JSON (${error.message}): ${last.stdout.slice(0, 300)}`);
  }
}

await step('warm-up: the server starts as mcp.json says (its `dotnet run` build check done)', async () => {
  // The Inspector gives the server 60 s to answer initialize (not configurable in 1.0.3); a `dotnet run` that has to
  // build first can take longer on a busy 2-core machine. Start it once here, with a generous timeout.
  const server = await connectSessionMcp(dataDir);
  await server.close();
});

await step('inspector tools/list', async () => {
  const listed = inspector('--method', 'tools/list');
  assert.ok(Array.isArray(listed.tools) && listed.tools.length > 0, 'no tools');
  for (const tool of listed.tools) {
    assert.ok(tool.inputSchema && tool.outputSchema, `${tool.name} lacks a schema`);
  }
  return `${listed.tools.length} tools`;
});

await step('inspector tools/call session_create (structuredContent validated by the SDK client)', async () => {
  const result = inspector('--method', 'tools/call', '--tool-name', 'session_create', '--tool-arg', 'name=inspector');
  assert.ok(!result.isError, `session_create failed: ${resultText(result)}`);
  assert.equal(typeof result.structuredContent?.session_id, 'string', 'no session_id');
  assert.equal(result.structuredContent.status, 'running');
  // The session landed in our data dir: the Inspector passed its environment on to the server.
  assert.ok(existsSync(path.join(dataDir, 'sessions', result.structuredContent.session_id)), `the session is not under ${dataDir}`);
  return result.structuredContent.session_id;
});

scratch.remove();
