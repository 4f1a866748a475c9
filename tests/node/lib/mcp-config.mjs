// The root mcp.json, read as a client such as Claude Code reads it. No dependencies, so that the launcher starts fast.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: tests/node/lib/../../.. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** mcpServers[name] of the root mcp.json, as shipped. */
export function readServerConfig(name = 'session-mcp') {
  const config = JSON.parse(readFileSync(path.join(repoRoot, 'mcp.json'), 'utf8'));
  const server = config?.mcpServers?.[name];
  if (!server || typeof server.command !== 'string') {
    throw new Error(`mcp.json has no stdio server "${name}" with a command`);
  }
  return { command: server.command, args: server.args ?? [], env: server.env ?? {} };
}

/**
 * The environment a client such as Claude Code gives the server: its own environment plus the config's env, with
 * the developer's SESSION_MCP_* settings removed (they must not leak into a test) and a private data dir added. The
 * server runs in the process the client starts (SESSION_MCP_DAEMON=never): a daemon would outlive the test.
 */
export function serverEnvironment(dataDir, configEnv = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SESSION_MCP_')) {
      env[key] = value;
    }
  }
  return { ...env, ...configEnv, SESSION_MCP_DATA_DIR: dataDir, SESSION_MCP_DAEMON: 'never' };
}
