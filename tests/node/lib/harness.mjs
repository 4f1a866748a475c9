// Shared by the Node scripts: start session-mcp exactly as the repository's mcp.json says, measure results,
// and report steps. Only the official TypeScript SDK is used to talk to servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readServerConfig, repoRoot, serverEnvironment } from './mcp-config.mjs';

export { readServerConfig, repoRoot, serverEnvironment };

/** The largest result (content text plus structuredContent JSON) a tool may return, in characters. */
export const MaxResultChars = 40_000;

/** A fresh temporary directory, and a function that removes it. */
export function freshTempDir(purpose) {
  const dir = mkdtempSync(path.join(tmpdir(), `session-mcp-node-${purpose}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Connects the official SDK client over stdio to a server process. stderr is collected (shown on failure) rather
 * than inherited, so a caller's stdout stays one line per step.
 */
export async function connectStdio({ command, args, env, cwd, clientName = 'session-mcp-node-tests' }) {
  const transport = new StdioClientTransport({ command, args, env, cwd, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk) => {
    stderr += chunk.toString();
    if (stderr.length > 200_000) {
      stderr = stderr.slice(-100_000);
    }
  });
  const client = new Client({ name: clientName, version: '1.0.0' });
  try {
    // Generous: `dotnet run` checks the build before it starts, which takes long on a loaded 2-core machine.
    await client.connect(transport, { timeout: 180_000 });
  } catch (error) {
    throw new Error(`could not connect to ${command} ${args.join(' ')}: ${error.message}\n--- server stderr ---\n${stderr}`);
  }
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

/** session-mcp as mcp.json starts it (cwd = repository root), with the given data dir. */
export function connectSessionMcp(dataDir) {
  const server = readServerConfig('session-mcp');
  return connectStdio({ ...server, env: serverEnvironment(dataDir, server.env), cwd: repoRoot });
}

/** Characters a model reads from a result: every text content item, and the structuredContent as JSON. */
export function resultSize(result) {
  const text = (result?.content ?? []).reduce((sum, item) => sum + (typeof item.text === 'string' ? item.text.length : 0), 0);
  const structured = result?.structuredContent === undefined ? 0 : JSON.stringify(result.structuredContent).length;
  return { text, structured, total: text + structured };
}

/** The text content of a result, joined. */
export function resultText(result) {
  return (result?.content ?? []).filter((item) => item.type === 'text').map((item) => item.text).join('\n');
}
