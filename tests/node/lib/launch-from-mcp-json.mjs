// Starts a server exactly as the root mcp.json says (command, args, env; cwd = repository root), stdio inherited, so
// a client that cannot set the server's working directory (the Inspector CLI) still talks to the shipped command.
//   node tests/node/lib/launch-from-mcp-json.mjs [server-name]
import { spawn } from 'node:child_process';
import { readServerConfig, repoRoot } from './mcp-config.mjs';

const server = readServerConfig(process.argv[2] ?? 'session-mcp');
const child = spawn(server.command, server.args, { cwd: repoRoot, env: { ...process.env, ...server.env }, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`launch-from-mcp-json: cannot start ${server.command}: ${error.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
