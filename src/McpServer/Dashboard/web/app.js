// The session-mcp dashboard: reads come from /dashboard/api (and its live feed), every action is an MCP tools/call on
// /mcp with the same token, so it is audited with the person's principal and refused for a read token like any call.
(() => {
  'use strict';

  const TOKEN_KEY = 'session-mcp-token';
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    mcp: null,
    tools: new Set(),
    sessions: [],
    attention: new Map(), // session id -> flags
    view: null,           // the current page's cleanup and event hooks
    feedAbort: null,
  };
  // Read by the browser tests: when each event arrived and was shown (Date.now(), ms).
  const probe = window.__dashboard = { feed: [], errors: [] };

  // ---- small DOM helpers (text only: nothing from the server is parsed as HTML) ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const main = () => $('main');

  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return `${Math.floor(s)} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }
  const time = (iso) => iso ? new Date(iso).toLocaleTimeString() : '';
  function notice(text) { const n = $('notice'); n.textContent = text; n.hidden = !text; }
  function fail(error) { probe.errors.push(String(error && error.message || error)); notice(String(error && error.message || error)); }

  // ---- HTTP: the dashboard's read API and server-sent events over fetch (so the token goes in a header, never a URL) ----
  async function api(path, options = {}) {
    const response = await fetch('/dashboard/api' + path, { ...options, headers: { Authorization: 'Bearer ' + state.token, ...(options.headers || {}) } });
    if (response.status === 401) { logout('The token was refused (unknown or revoked).'); throw new Error('unauthorized'); }
    if (!response.ok) throw new Error((await response.text()) || response.statusText);
    return response.status === 204 ? null : response.json();
  }

  async function stream(path, onEvent, signal) {
    const response = await fetch('/dashboard/api' + path, { headers: { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' }, signal });
    if (response.status === 401) { logout('The token was refused (unknown or revoked).'); throw new Error('unauthorized'); }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) type = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(type, JSON.parse(data));
      }
    }
  }

  // ---- MCP over Streamable HTTP: the one way the page changes anything ----
  class Mcp {
    constructor(token) { this.token = token; this.id = 0; this.sessionId = null; this.version = null; }
    async post(message) {
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: 'Bearer ' + this.token };
      if (this.sessionId) headers['Mcp-Session-Id'] = this.sessionId;
      if (this.version) headers['MCP-Protocol-Version'] = this.version;
      const response = await fetch('/mcp', { method: 'POST', headers, body: JSON.stringify(message) });
      this.sessionId = this.sessionId || response.headers.get('Mcp-Session-Id');
      if (response.status === 202) return null;
      const text = await response.text();
      if (!response.ok) throw new Error(`MCP ${message.method}: HTTP ${response.status} ${text}`);
      if (!(response.headers.get('Content-Type') || '').includes('text/event-stream')) return JSON.parse(text);
      for (const block of text.split('\n\n')) {
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
        if (!data) continue;
        const parsed = JSON.parse(data);
        if (parsed.id === message.id) return parsed;
      }
      throw new Error(`MCP ${message.method}: no answer`);
    }
    async request(method, params) {
      const answer = await this.post({ jsonrpc: '2.0', id: ++this.id, method, params });
      if (answer.error) throw new Error(answer.error.message);
      return answer.result;
    }
    async connect() {
      const init = await this.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'session-mcp-dashboard', version: '1' } });
      this.version = init.protocolVersion;
      await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const list = await this.request('tools/list', {});
      return new Set(list.tools.map((t) => t.name));
    }
    // The structured result, or an Error with the text the model would have read.
    async call(name, args) {
      const result = await this.request('tools/call', { name, arguments: args });
      if (result.isError) throw new Error(result.content.map((c) => c.text).join('\n'));
      return { structured: result.structuredContent || {}, text: (result.content || []).map((c) => c.text || '').join('\n') };
    }
  }

  // ---- log in / out ----
  function showLogin(message) {
    $('who').textContent = ''; $('feed-state').textContent = ''; $('logout').hidden = true; $('notify').hidden = true;
    const input = el('input', { id: 'token', type: 'password', placeholder: 'smcp_…', autocomplete: 'off', 'aria-label': 'token' });
    const error = el('div', { class: 'error', id: 'login-error', text: message || '' });
    main().replaceChildren(el('div', { class: 'login' },
      el('h1', { text: 'session-mcp dashboard' }),
      el('div', { class: 'muted' }, 'Log in with a bearer token from ', el('code', { text: 'session-mcp token create' }), '. A read token watches; typing into terminals and killing jobs need a full token.'),
      el('form', { onsubmit: (e) => { e.preventDefault(); login(input.value.trim()); } }, input, el('button', { class: 'primary', type: 'submit', id: 'login-button', text: 'Log in' })),
      error));
    input.focus();
  }

  async function login(token) {
    state.token = token;
    try {
      state.me = await api('/me');
    } catch (e) {
      if (e.message !== 'unauthorized') showLogin(e.message);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    state.mcp = new Mcp(token);
    try {
      state.tools = await state.mcp.connect();
    } catch (e) {
      fail(e);
    }
    $('who').replaceChildren(el('span', { text: state.me.principal + ' · ' }), el('span', { class: 'scope-' + state.me.scope, id: 'scope', text: state.me.scope }));
    $('logout').hidden = false;
    $('notify').hidden = !('Notification' in window) || Notification.permission !== 'default';
    if (!state.me.terminal_view || typeof window.Terminal !== 'function') {
      notice('This session-mcp was built without its terminal view (xterm.js comes from npm at build time; the build had no npm). Terminals show as text.');
    }
    startFeed();
    route();
  }

  function logout(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null; state.me = null; state.mcp = null;
    if (state.feedAbort) state.feedAbort.abort();
    leaveView();
    showLogin(message);
  }

  // ---- the live feed ----
  function startFeed() {
    if (state.feedAbort) state.feedAbort.abort();
    const abort = state.feedAbort = new AbortController();
    const run = async (delay) => {
      while (!abort.signal.aborted) {
        try {
          await stream('/feed', onFeed, abort.signal);
        } catch (e) {
          if (abort.signal.aborted) return;
        }
        $('feed-state').textContent = 'reconnecting…';
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    };
    run(250);
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      try {
        const data = await api('/sessions');
        state.sessions = data.sessions;
        for (const s of data.sessions) if (s.attention.length) state.attention.set(s.session_id, s.attention); else state.attention.delete(s.session_id);
        updateBadge();
        if (state.view && state.view.sessions) state.view.sessions();
      } catch (e) { if (e.message !== 'unauthorized') fail(e); }
    }, 200);
  }

  function onFeed(type, data) {
    if (type === 'hello') {
      $('feed-state').textContent = 'live';
      state.attention.clear();
      for (const f of data.attention) addFlag(f, false);
      updateBadge();
      refreshSoon();
      return;
    }
    if (type === 'event') {
      const record = { seq: data.seq, ts: data.ts, kind: data.kind, tool: data.tool, session_id: data.session_id, arrived: Date.now() };
      probe.feed.push(record);
      if (state.view && state.view.event) state.view.event(data);
      record.shown = Date.now();
      refreshSoon();
    } else if (type === 'attention') {
      addFlag(data, true);
      updateBadge();
      if (state.view && state.view.sessions) state.view.sessions();
    } else if (type === 'attention_cleared') {
      state.attention.delete(data.session_id);
      updateBadge();
      if (state.view && state.view.sessions) state.view.sessions();
    }
  }

  function addFlag(flag, notify) {
    const flags = state.attention.get(flag.session_id) || [];
    if (!flags.some((f) => f.reason === flag.reason && f.since === flag.since)) flags.push(flag);
    state.attention.set(flag.session_id, flags);
    if (notify && 'Notification' in window && Notification.permission === 'granted') {
      const session = state.sessions.find((s) => s.session_id === flag.session_id);
      new Notification(`session-mcp: ${session && session.name || flag.session_id}`, { body: flag.detail, tag: flag.session_id });
    }
  }

  function updateBadge() {
    const count = [...state.attention.values()].filter((f) => f.length).length;
    const badge = $('attention-count');
    badge.hidden = count === 0;
    badge.textContent = `${count} need${count === 1 ? 's' : ''} attention`;
    document.title = (count ? `(${count}) ` : '') + 'session-mcp';
  }

  // ---- pages ----
  function leaveView() { if (state.view && state.view.leave) state.view.leave(); state.view = null; }

  function route() {
    if (!state.me) return;
    leaveView();
    const match = location.hash.match(/^#\/s\/([\w-]+)/);
    if (match) sessionPage(match[1]); else sessionsPage();
  }

  // Tools that change nothing: their steps have no diff, restore or fork.
  const READ_ONLY = new Set(['session_list', 'session_read_file', 'session_replay', 'session_job_output', 'session_jobs', 'session_terminal_read', 'session_diff']);
  const SHOWN = new Set(['session_id', 'name', 'backend', 'status', 'workdir', 'cwd', 'created_at', 'last_activity_at', 'owner', 'jobs', 'attention', 'resources', 'health']);

  function statusPill(status) { return el('span', { class: 'status ' + status, text: status }); }

  function flagList(flags) {
    return el('div', { class: 'flags' }, (flags || []).map((f) => el('div', { class: 'flag ' + f.reason, text: f.detail })));
  }

  function sessionsPage() {
    const grid = el('div', { class: 'grid', id: 'sessions' });
    const activity = el('div', { class: 'activity', id: 'activity' });
    main().replaceChildren(el('h2', { text: 'Sessions' }), grid, el('h2', { text: 'Activity' }), activity);
    const render = () => {
      const cards = state.sessions.map((s) => {
        const flags = state.attention.get(s.session_id) || [];
        const running = (s.jobs || []).filter((j) => j.state === 'running');
        const facts = [
          ['backend', s.backend], ['owner', s.owner || 'local'], ['age', ago(s.created_at)], ['last activity', ago(s.last_activity_at)],
          ['cwd', s.cwd],
          ['now', running.length ? running.map((j) => (j.waiting_for_input ? '⌨ ' : '') + j.command).join(' · ') : '—'],
        ];
        if (s.resources) {
          const r = s.resources;
          facts.push(['use', `${r.processes} processes · ${(r.memory_bytes / 1048576).toFixed(1)} MiB · ${r.cpu_seconds} s CPU`]);
        }
        if (s.health) facts.push(['health', `${s.health.state} (checked ${ago(s.health.checked_at)})` + (s.health.detail ? `: ${s.health.detail}` : '')]);
        // Whatever else session_list reports (health, resource use …) is shown as it comes.
        for (const [key, value] of Object.entries(s)) {
          if (SHOWN.has(key) || value === null || value === undefined) continue;
          facts.push([key.replaceAll('_', ' '), typeof value === 'object' ? JSON.stringify(value) : String(value)]);
        }
        return el('div', { class: 'card' + (flags.length ? ' flagged' : ''), 'data-session': s.session_id, onclick: () => { location.hash = '#/s/' + s.session_id; } },
          el('div', { class: 'title' }, el('span', { class: 'name', text: s.name || s.session_id }), statusPill(s.status)),
          el('div', { class: 'muted mono', text: s.session_id }),
          el('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v, title: v })])),
          flagList(flags));
      });
      grid.replaceChildren(...(cards.length ? cards : [el('div', { class: 'empty', text: 'No sessions yet. An agent makes one with session_create.' })]));
    };
    const rows = [];
    const addRow = (e) => {
      rows.unshift(el('div', { class: 'row', 'data-seq': e.seq },
        el('span', { class: 'muted', text: '#' + e.seq }), el('span', { class: 'muted', text: time(e.ts) }),
        el('span', { class: 'mono', text: e.session_id || '—' }), el('span', { text: e.tool || e.kind }),
        el('span', { class: 'muted', text: describe(e) }), el('span', { class: 'outcome-' + e.outcome, text: e.outcome })));
      rows.length = Math.min(rows.length, 200);
      activity.replaceChildren(...rows);
    };
    render();
    state.view = { sessions: render, event: addRow };
  }

  function describe(e) {
    const s = e.summary || {}, a = e.arguments || {};
    const command = a.command || (e.tool === 'session_exec' || e.tool === 'session_terminal_open' ? e.target : null);
    if (e.tool === 'session_exec') return (command ? '$ ' + command + '  ' : '') + (s.exit_code !== undefined && s.exit_code !== null ? `→ exit ${s.exit_code}` : s.job_id ? `→ job ${s.job_id}` : '');
    if (e.tool === 'session_terminal_send') return typeof a.text === 'string' || a.keys ? (typeof a.text === 'string' ? JSON.stringify(a.text) : '') + (a.keys ? ' ' + a.keys.join(' ') : '') : e.target || '';
    if (e.tool === 'session_terminal_open') return (command || 'shell') + (s.terminal_id ? ` → ${s.terminal_id}` : '');
    if (e.kind === 'session_created') return [s.name, s.backend].filter(Boolean).join(' · ');
    if (e.kind === 'job_ended' || e.kind === 'job_lost') return `${s.job_id}: ${s.command || ''} ${s.exit_code !== null && s.exit_code !== undefined ? 'exit ' + s.exit_code : ''}`;
    if (a.path || e.target) return a.path || e.target;
    if (e.error) return e.error;
    return s.detail || '';
  }

  function sessionPage(id) {
    const abort = new AbortController();
    const can = (tool) => state.tools.has(tool);
    const head = el('div', { class: 'session-head' });
    const flagsBox = el('div', { id: 'session-flags' });
    const termTabs = el('div', { class: 'tabs' });
    const termBox = el('div', { id: 'terminal' });
    const jobsBox = el('div', { id: 'jobs' });
    const timeline = el('div', { class: 'timeline', id: 'timeline' });
    const downloads = el('div', { class: 'downloads', id: 'downloads' });
    main().replaceChildren(
      el('div', {}, el('a', { href: '#/', text: '← all sessions' })), head, flagsBox,
      el('div', { class: 'columns' },
        el('div', {},
          el('h2', { text: 'Terminals' }), el('div', { class: 'panel' }, termTabs, termBox),
          el('h2', { text: 'Jobs' }), el('div', { class: 'panel' }, jobsBox),
          el('h2', { text: 'Downloads' }), el('div', { class: 'panel' }, downloads)),
        el('div', {}, el('h2', { text: 'History' }), el('div', { class: 'panel' }, timeline))));

    // Looking at the session is what clears its attention flags.
    api(`/sessions/${id}/seen`, { method: 'POST' }).catch(() => {});

    let openTerminal = null, terminal = null, shownJobs = '';
    const openOutputs = new Map();
    const session = () => state.sessions.find((s) => s.session_id === id);

    function renderHead() {
      const s = session();
      if (!s) { head.replaceChildren(el('h1', { text: id }), el('span', { class: 'muted', text: 'not visible to this token (or not loaded yet)' })); return; }
      head.replaceChildren(el('h1', { text: s.name || s.session_id }), statusPill(s.status),
        el('span', { class: 'muted mono', text: `${s.session_id} · ${s.backend} · owner ${s.owner || 'local'} · created ${ago(s.created_at)} · cwd ${s.cwd}` }));
      const flags = state.attention.get(id) || [];
      flagsBox.replaceChildren(flags.length ? el('div', { class: 'panel' }, flagList(flags), el('button', { onclick: () => api(`/sessions/${id}/seen`, { method: 'POST' }), text: 'Seen' })) : '');
      const jobs = s.jobs || [];
      const key = JSON.stringify(jobs);
      if (key !== shownJobs) { shownJobs = key; renderJobs(jobs); renderTerminals(jobs); renderDownloads(jobs); }
    }

    function renderTerminals(jobs) {
      const terms = jobs.filter((j) => j.kind === 'terminal');
      termTabs.replaceChildren(...terms.map((t) => el('button', { class: t.job_id === openTerminal ? 'active' : '', onclick: () => showTerminal(t), text: `${t.job_id} · ${t.command} · ${t.state}${t.waiting_for_input ? ' ⌨' : ''}` })),
        can('session_terminal_send') ? '' : el('span', { class: 'readonly', id: 'read-only', text: 'read-only: this token cannot type' }));
      if (!terms.length) { termBox.replaceChildren(el('div', { class: 'empty', text: 'No terminals. An agent opens one with session_terminal_open.' })); return; }
      if (!openTerminal || !terms.some((t) => t.job_id === openTerminal)) showTerminal(terms.find((t) => t.state === 'running') || terms[terms.length - 1]);
    }

    function showTerminal(job) {
      if (terminal) terminal.close();
      openTerminal = job.job_id;
      [...termTabs.querySelectorAll('button')].forEach((b) => b.classList.toggle('active', b.textContent.startsWith(job.job_id)));
      terminal = mountTerminal(id, job, can('session_terminal_send'));
      termBox.replaceChildren(terminal.node);
    }

    function renderJobs(jobs) {
      const plain = jobs.filter((j) => j.kind === 'job');
      if (!plain.length) { jobsBox.replaceChildren(el('div', { class: 'empty', text: 'No background jobs.' })); return; }
      jobsBox.replaceChildren(el('table', {},
        el('tr', {}, ['job', 'command', 'state', 'exit', 'output', ''].map((h) => el('th', { text: h }))),
        plain.map((j) => {
          const row = el('tr', { 'data-job': j.job_id },
            el('td', { class: 'mono', text: j.job_id }), el('td', { class: 'cmd mono', title: j.command, text: j.command }),
            el('td', { text: j.state + (j.waiting_for_input ? ' (waiting for input)' : '') }), el('td', { text: j.exit_code ?? (j.signal ? 'signal ' + j.signal : '') }),
            el('td', { text: `${j.output_bytes} B` }),
            el('td', {}, el('button', { onclick: () => toggleOutput(j), text: 'output' }), ' ',
              can('session_job_kill') && j.state === 'running' ? el('button', { class: 'danger', onclick: () => act('session_job_kill', { session_id: id, job_id: j.job_id }), text: 'kill' }) : ''));
          const out = openOutputs.get(j.job_id);
          return out ? [row, el('tr', {}, el('td', { colspan: 6 }, out.node))] : row;
        })));
    }

    function toggleOutput(job) {
      const open = openOutputs.get(job.job_id);
      if (open) { open.close(); openOutputs.delete(job.job_id); } else openOutputs.set(job.job_id, mountOutput(id, job));
      shownJobs = ''; renderHead();
    }

    function renderDownloads(jobs) {
      const items = [];
      items.push(el('button', { id: 'download-report', onclick: () => fetchFile(`/sessions/${id}/report.md`, `${id}.md`), text: 'report (.md)' }));
      if (can('session_export')) items.push(el('button', { id: 'download-patch', onclick: () => download('session_export', { session_id: id, format: 'patch' }, `${id}.patch`, (r) => r.patch || r.diff || r.content), text: 'patch' }));
      else if (can('session_diff')) items.push(el('button', { id: 'download-patch', onclick: () => download('session_diff', { session_id: id }, `${id}.patch`, (r) => r.changes && r.changes.diff), text: 'patch' }));
      for (const t of jobs.filter((j) => j.kind === 'terminal')) {
        items.push(el('button', { onclick: () => fetchFile(`/sessions/${id}/terminals/${t.job_id}/recording`, `${id}-${t.job_id}.cast`), text: `recording ${t.job_id} (.cast)` }));
      }
      downloads.replaceChildren(...(items.length ? items : [el('span', { class: 'muted', text: 'Nothing to download yet.' })]));
    }

    // The newest steps first; older ones a page at a time, on request.
    async function loadTimeline(before) {
      const page = await api(`/sessions/${id}/events` + (before ? `?before_seq=${before}` : ''));
      const more = timeline.querySelector('.older');
      if (more) more.remove();
      const shown = new Set([...timeline.querySelectorAll('.step')].map((n) => Number(n.dataset.seq)));
      timeline.append(...page.events.reverse().filter((e) => !shown.has(e.seq)).map(step));
      if (page.older) timeline.append(el('button', { class: 'older', onclick: () => loadTimeline(page.older).catch(fail), text: 'older steps…' }));
    }

    function step(e) {
      const details = el('pre', { hidden: true, text: JSON.stringify({ arguments: e.arguments, summary: e.summary, error: e.error || undefined, output: e.output }, null, 2) });
      const actions = el('div', { class: 'actions' });
      // Only steps that could change files have a diff, a state to restore or to fork from.
      const changes = e.kind === 'tool_call' && !READ_ONLY.has(e.tool) && e.outcome === 'ok';
      if (changes && can('session_diff')) actions.append(el('button', { class: 'diff', onclick: (ev) => stepDiff(e, ev.target.closest('.step'), details), text: 'diff' }));
      if (changes && can('session_restore')) actions.append(el('button', { class: 'restore', onclick: () => restore(e.seq), text: 'restore' }));
      if (changes && can('session_fork')) actions.append(el('button', { class: 'fork', onclick: () => fork(e.seq), text: 'fork' }));
      return el('div', { class: 'step', 'data-seq': e.seq },
        el('div', { class: 'line', onclick: (ev) => { if (ev.target.tagName !== 'BUTTON') details.hidden = !details.hidden; } },
          el('span', { class: 'muted', text: '#' + e.seq }), el('span', { class: 'muted', text: time(e.ts) }),
          el('span', { class: 'what', text: e.tool || e.kind }),
          el('span', { class: 'meta' }, el('span', { class: 'outcome-' + e.outcome, text: e.outcome }), el('span', { class: 'muted', text: `${e.duration_ms} ms` }),
            e.principal ? el('span', { class: 'muted', text: e.principal }) : '', actions)),
        el('div', { class: 'detail mono', text: describe(e) }),
        details);
    }

    async function fork(seq) {
      const result = await act('session_fork', { session_id: id, at_seq: seq, name: `${(session() && session().name) || id} @${seq}` });
      const forked = result && (result.structured.session ? result.structured.session.session_id : result.structured.session_id);
      if (forked) location.hash = '#/s/' + forked;
    }

    // Shows what restoring would change (a dry run), and restores only once the person agrees.
    async function restore(seq) {
      const preview = await act('session_restore', { session_id: id, to_seq: seq, dry_run: true });
      if (!preview) return;
      const files = (preview.structured.changes && preview.structured.changes.files) || [];
      if (!confirm(`Restore ${id}'s files to their state after step #${seq}? ${files.length} file(s) change:\n` + files.map((f) => `${f.change} ${f.path}`).join('\n'))) return;
      const done = await act('session_restore', { session_id: id, to_seq: seq });
      if (done) notice(`Restored to step #${seq}: ${files.length} file(s) changed.`);
    }

    // What one step changed: from the session's previous step shown (or its start) to this one.
    async function stepDiff(e, node, into) {
      const older = node && node.nextElementSibling && node.nextElementSibling.dataset.seq;
      const args = { session_id: id, to_seq: e.seq };
      if (older) args.from_seq = Number(older);
      try {
        const r = await state.mcp.call('session_diff', args);
        into.textContent = (r.structured.changes && r.structured.changes.diff) || r.text || '(no change to files)';
        into.hidden = false;
      } catch (err) { fail(err); }
    }

    renderHead();
    loadTimeline().catch(fail);
    state.view = {
      sessions: renderHead,
      event: (e) => { if (e.session_id === id && !timeline.querySelector(`.step[data-seq="${e.seq}"]`)) timeline.prepend(step(e)); },
      leave: () => { abort.abort(); if (terminal) terminal.close(); for (const o of openOutputs.values()) o.close(); },
    };
  }

  // A call on behalf of the person: audited with their token's principal; an error (a read token, say) is shown.
  async function act(tool, args) {
    try { notice(''); return await state.mcp.call(tool, args); } catch (e) { fail(e); return null; }
  }

  async function download(tool, args, name, pick) {
    const result = await act(tool, args);
    if (!result) return;
    const text = pick(result.structured);
    save(new Blob([typeof text === 'string' ? text : result.text], { type: 'text/plain' }), name);
  }

  async function fetchFile(path, name) {
    const response = await fetch('/dashboard/api' + path, { headers: { Authorization: 'Bearer ' + state.token } });
    if (!response.ok) { fail(await response.text()); return; }
    save(await response.blob(), name);
  }

  function save(blob, name) {
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a); a.click(); a.remove();
  }

  function base64Bytes(text) {
    const raw = atob(text), bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // A terminal, live: its output from the journal through xterm.js; keys typed go out as session_terminal_send calls.
  function mountTerminal(sessionId, job, writable) {
    const abort = new AbortController();
    const node = el('div', { class: 'term', id: 'term-' + job.job_id, 'data-terminal': job.job_id });
    if (typeof window.Terminal !== 'function') {
      const pre = el('pre', { class: 'mono' });
      node.append(pre);
      const decoder = new TextDecoder();
      stream(`/sessions/${sessionId}/jobs/${job.job_id}/stream`, (type, d) => { if (type === 'output') pre.textContent += decoder.decode(base64Bytes(d.data), { stream: true }); }, abort.signal).catch(() => {});
      return { node, close: () => abort.abort() };
    }
    const term = new window.Terminal({ cols: job.cols || 120, rows: job.rows || 40, disableStdin: !writable, convertEol: false, fontSize: 13, cursorBlink: writable, scrollback: 5000, theme: { background: '#000000' } });
    term.open(node);
    let pending = '', sending = false;
    const flush = async () => {
      sending = true;
      while (pending) {
        const text = pending; pending = '';
        try { await state.mcp.call('session_terminal_send', { session_id: sessionId, terminal_id: job.job_id, text, wait_ms: 0 }); } catch (e) { fail(e); }
      }
      sending = false;
    };
    if (writable) term.onData((data) => { pending += data; if (!sending) flush(); });
    stream(`/sessions/${sessionId}/jobs/${job.job_id}/stream`, (type, d) => {
      if (type === 'output') term.write(base64Bytes(d.data));
      else if (type === 'end') term.write(`\r\n\x1b[2m[${d.state}${d.exit_code !== undefined ? ' ' + d.exit_code : ''}]\x1b[0m`);
    }, abort.signal).catch(() => {});
    window.__dashboard.terminal = term;
    return { node, close: () => { abort.abort(); term.dispose(); } };
  }

  // A background job's output, live, as text.
  function mountOutput(sessionId, job) {
    const abort = new AbortController();
    const pre = el('pre', { class: 'output', 'data-output': job.job_id });
    const decoder = new TextDecoder();
    stream(`/sessions/${sessionId}/jobs/${job.job_id}/stream`, (type, d) => {
      if (type === 'output') { pre.textContent += decoder.decode(base64Bytes(d.data), { stream: true }); pre.scrollTop = pre.scrollHeight; }
      else if (type === 'gap') pre.textContent += `\n[… ${d.to - d.from} bytes not kept …]\n`;
      else if (type === 'end') pre.textContent += `\n[${d.state}${d.exit_code !== undefined ? ' ' + d.exit_code : ''}]`;
    }, abort.signal).catch(() => {});
    return { node: pre, close: () => abort.abort() };
  }

  $('logout').addEventListener('click', () => logout(''));
  $('notify').addEventListener('click', async () => { await Notification.requestPermission(); $('notify').hidden = Notification.permission !== 'default'; });
  window.addEventListener('hashchange', route);
  setInterval(() => { if (state.view && state.view.sessions && !document.hidden) state.view.sessions(); }, 15000);
  if (state.token) login(state.token); else showLogin('');
})();
