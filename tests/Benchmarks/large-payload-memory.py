#!/usr/bin/env python3
"""Server memory under large arguments: N session_write_file calls of SIZE bytes each over stdio, then the server's
VmRSS/VmHWM from /proc. Raw JSON-RPC (no client library), so nothing on the client side skews the server's numbers.

  python3 tests/Benchmarks/large-payload-memory.py [calls=20] [megabytes=10] [extra env, e.g. DOTNET_GCgen0size=...]
  (run after `dotnet build Mcp.sln`; uses src/McpServer/bin/Debug/net10.0/session-mcp.dll)
"""
import json, os, shutil, subprocess, sys, tempfile, time

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20
megabytes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
extra_env = dict(a.split('=', 1) for a in sys.argv[3:])
hold = int(extra_env.pop('hold', '0'))
tool = extra_env.pop('tool', 'session_write_file')  # or session_exec: the same bytes as stdin of `cat >/dev/null`  # seconds to keep the server up at the end (to take a dotnet-gcdump of it)
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
dll = os.path.join(root, 'src/McpServer/bin/Debug/net10.0/session-mcp.dll')
data = tempfile.mkdtemp(prefix='smcp-mem-')
env = {k: v for k, v in os.environ.items() if not k.startswith('SESSION_MCP_')}
env.update(extra_env)
server = subprocess.Popen(['dotnet', dll, 'serve', '--data-dir', data], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
next_id = 0

def request(method, params):
    global next_id
    next_id += 1
    server.stdin.write((json.dumps({'jsonrpc': '2.0', 'id': next_id, 'method': method, 'params': params}) + '\n').encode())
    server.stdin.flush()
    while True:
        message = json.loads(server.stdout.readline())
        if message.get('id') == next_id:
            return message

def rss():
    status = open(f'/proc/{server.pid}/status').read().splitlines()
    return {l.split(':')[0]: int(l.split()[1]) // 1024 for l in status if l.startswith(('VmRSS', 'VmHWM'))}

request('initialize', {'protocolVersion': '2025-11-25', 'capabilities': {}, 'clientInfo': {'name': 'mem', 'version': '1'}})
server.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'); server.stdin.flush()
session = request('tools/call', {'name': 'session_create', 'arguments': {}})['result']['structuredContent']['session_id']
print(f'after start: {rss()} MiB')
content = 'x' * (megabytes * 1_000_000)
started = time.monotonic()
for i in range(calls):
    arguments = {'session_id': session, 'path': f'f{i % 2}.txt', 'content': content} if tool == 'session_write_file' \
        else {'session_id': session, 'command': 'cat >/dev/null', 'stdin': content}
    result = request('tools/call', {'name': tool, 'arguments': arguments})
    assert not result['result'].get('isError'), result
print(f'after {calls} x {megabytes} MB {tool} ({time.monotonic() - started:.1f} s): {rss()} MiB')
time.sleep(5)
print(f'5 s idle later: {rss()} MiB')
result = request('tools/call', {'name': 'session_exec', 'arguments': {'session_id': session, 'command': 'true'}})
time.sleep(1)
print(f'after one small call + 1 s: {rss()} MiB')
if hold:
    print(f'server pid {server.pid}, held {hold} s', flush=True)
    time.sleep(hold)
server.stdin.close(); server.wait(10)
print(f'audit db: {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs if f.startswith("session-mcp.db")) // (1024*1024)} MiB')
shutil.rmtree(data, ignore_errors=True)
