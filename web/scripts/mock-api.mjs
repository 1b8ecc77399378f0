#!/usr/bin/env node
// A development stand-in for the ContextBay master: the auth, users, keys, settings, modules,
// audit, activity, notifications and system endpoints of shared/spec/API.md, plus /api/ws,
// in memory, with no dependencies. It serves web/dist (SPA fallback) when it exists, so
// `npm run build && npm run mock` behaves like the embedded dashboard.
//
//   node scripts/mock-api.mjs [--port 8080] [--access-ttl 900] [--seed]
//
// --seed skips first-run setup (admin / adminadmin1, plus an operator and a viewer).
// Not a test double for the master: the real contract is what the master implements.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const PORT = Number(arg('port', process.env.PORT ?? 8080));
const ACCESS_TTL = Number(arg('access-ttl', 900));
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const started = Date.now();

// ---------------------------------------------------------------- state

const now = () => new Date().toISOString();
const users = new Map(); // id -> {user, password}
const sessions = new Map(); // access token -> {userId, exp}
const refreshTokens = new Map(); // refresh token -> userId
const keys = new Map(); // id -> {key, userId}
const settings = new Map();
const failures = new Map(); // ip -> {count, until}
const audit = [];
const events = []; // ring
const notifications = [];
let eventSeq = 0;
const modules = [
  ['monitoring', 'Prometheus metrics and Grafana dashboards'],
  ['alerting', 'Alert rules, Alertmanager silences and notification routing'],
  ['ai', 'Tiered AI router (Ollama + Claude) and background AI tasks'],
  ['security', 'Wazuh integration, vulnerability and compliance views'],
  ['knowledge', 'Knowledge base with RAG search'],
  ['backups', 'Scheduled volume backups with verify and restore'],
  ['webhooks', 'Outbound webhooks on platform events'],
].map(([name, description]) => ({ name, description, enabled: false, configured: name === 'webhooks' || name === 'backups', config: {} }));

function addUser(username, password, role) {
  const t = now();
  const user = { id: randomUUID(), username, role, disabled: false, created_at: t, updated_at: t, last_login_at: null };
  users.set(user.id, { user, password });
  return user;
}

if (args.includes('--seed')) {
  addUser('admin', 'adminadmin1', 'admin');
  addUser('operator', 'operator123', 'operator');
  addUser('viewer', 'viewer12345', 'viewer');
}

// ---------------------------------------------------------------- events + websocket

const sockets = new Set();

function publish(type, payload) {
  const ev = { id: ++eventSeq, type, ts: now(), payload };
  events.unshift(ev);
  events.length = Math.min(events.length, 500);
  for (const s of sockets) s.sendJson(ev);
  return ev;
}

function notify(title, body, level = 'info') {
  // Like the master: a notification is a `notification` event, listed under its event id.
  const ev = publish('notification', { title, body, level });
  notifications.unshift({ id: ev.id, ts: ev.ts, title, body, level });
}

function wsAccept(req, socket) {
  const auth = authenticate(req);
  if (!auth) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const key = req.headers['sec-websocket-key'];
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);

  const frame = (opcode, payload) => {
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
    socket.write(Buffer.concat([head, payload]));
  };
  const conn = { sendJson: (obj) => frame(1, Buffer.from(JSON.stringify(obj))), drop: () => socket.destroy() };
  sockets.add(conn);

  const url = new URL(req.url, 'http://x');
  const since = url.searchParams.has('since') ? Number(url.searchParams.get('since')) : null;
  conn.sendJson({ type: 'hello', last_id: eventSeq });
  if (since !== null) {
    const oldest = events.length ? events[events.length - 1].id : eventSeq + 1;
    // Like the master: a gap the ring cannot replay is `lagged` with resume_from = last id.
    if (since < oldest - 1) conn.sendJson({ type: 'lagged', missed: null, resume_from: eventSeq });
    else for (const ev of [...events].reverse()) if (ev.id > since) conn.sendJson(ev);
  }
  const ping = setInterval(() => frame(9, Buffer.alloc(0)), 20_000);

  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const opcode = buf[0] & 15;
      let len = buf[1] & 127;
      let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const masked = (buf[1] & 128) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (buf.length < need) return;
      const mask = masked ? buf.subarray(off, off + 4) : null;
      const data = Buffer.from(buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i % 4];
      buf = buf.subarray(need);
      if (opcode === 8) { frame(8, Buffer.alloc(0)); socket.end(); return; }
      if (opcode === 9) frame(10, data);
      if (opcode === 1) {
        try {
          const msg = JSON.parse(data.toString());
          if (msg.type === 'subscribe') conn.sendJson({ type: 'subscribed', topics: msg.topics ?? [] });
        } catch { conn.sendJson({ type: 'error', error: 'invalid JSON' }); }
      }
    }
  });
  const done = () => { clearInterval(ping); sockets.delete(conn); };
  socket.on('close', done);
  socket.on('error', done);
}

// ---------------------------------------------------------------- http helpers

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k) out[k] = v.join('=');
  }
  return out;
}

function authenticate(req) {
  const apiKey = req.headers['x-api-key'];
  if (apiKey) {
    for (const k of keys.values()) if (k.secret === apiKey) { k.key.last_used_at = now(); return { ...users.get(k.userId).user, auth_method: 'api_key' }; }
    return null;
  }
  const token = cookies(req).cb_session;
  const s = token && sessions.get(token);
  if (!s || s.exp < Date.now()) return null;
  const u = users.get(s.userId);
  if (!u || u.user.disabled) return null;
  return { ...u.user, auth_method: 'cookie' };
}

const RANK = { viewer: 0, operator: 1, admin: 2 };

class HttpError extends Error {
  constructor(status, message, code, headers = {}) { super(message); this.status = status; this.code = code; this.headers = headers; }
}

function send(res, status, body, headers = {}) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': res.requestId, ...headers });
  res.end(payload);
}

async function readJson(req) {
  let raw = '';
  for await (const c of req) raw += c;
  if (!raw) return {};
  try { return JSON.parse(raw); } catch { throw new HttpError(400, 'malformed JSON body', 'bad_request'); }
}

function issueSession(res, user) {
  const access = randomBytes(24).toString('hex');
  const refresh = randomBytes(24).toString('hex');
  sessions.set(access, { userId: user.id, exp: Date.now() + ACCESS_TTL * 1000 });
  refreshTokens.set(refresh, user.id);
  res.setHeader('Set-Cookie', [
    `cb_session=${access}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${ACCESS_TTL}`,
    `cb_refresh=${refresh}; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=${30 * 86400}`,
  ]);
  return { user, access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: ACCESS_TTL };
}

function page(items, q) {
  const limit = Math.min(500, Number(q.get('limit') ?? 50) || 50);
  const offset = Number(q.get('offset') ?? 0) || 0;
  return { items: items.slice(offset, offset + limit), total: items.length, limit, offset };
}

// ---------------------------------------------------------------- routes

async function route(req, res, me) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const m = req.method;
  const need = (role) => {
    if (!me) throw new HttpError(401, 'authentication required', 'unauthorized');
    if (RANK[me.role] < RANK[role]) throw new HttpError(403, `${role} role required`, 'forbidden');
  };
  let mt;

  if (m === 'GET' && p === '/api/health') return send(res, 200, { status: 'ok', version: '0.1.0-mock', setup_required: users.size === 0 });
  if (m === 'GET' && p === '/api/modules') return send(res, 200, { items: modules.map(({ config, ...rest }) => rest) });

  if (m === 'POST' && p === '/api/auth/setup') {
    if (users.size > 0) throw new HttpError(409, 'setup has already been completed', 'conflict');
    const b = await readJson(req);
    if (!b.username) throw new HttpError(400, 'username is required', 'bad_request');
    if ((b.password ?? '').length < 10) throw new HttpError(400, 'password must be at least 10 characters', 'bad_request');
    const u = addUser(b.username, b.password, 'admin');
    publish('user.created', u);
    return send(res, 201, issueSession(res, u));
  }
  if (m === 'POST' && p === '/api/auth/login') {
    const ip = req.socket.remoteAddress;
    const f = failures.get(ip);
    if (f && f.until > Date.now()) throw new HttpError(429, 'too many login attempts', 'rate_limited', { 'Retry-After': String(Math.ceil((f.until - Date.now()) / 1000)) });
    const b = await readJson(req);
    const rec = [...users.values()].find((x) => x.user.username === b.username);
    if (!rec || rec.password !== b.password || rec.user.disabled) {
      const count = (f?.count ?? 0) + 1;
      failures.set(ip, { count, until: count >= 5 ? Date.now() + 20_000 : 0 });
      throw new HttpError(401, 'invalid username or password', 'invalid_credentials');
    }
    failures.delete(ip);
    rec.user.last_login_at = now();
    publish('auth.login', { username: rec.user.username, source_ip: ip });
    return send(res, 200, issueSession(res, rec.user));
  }
  if (m === 'POST' && p === '/api/auth/refresh') {
    const token = cookies(req).cb_refresh;
    const userId = token && refreshTokens.get(token);
    if (!userId || !users.get(userId) || users.get(userId).user.disabled) throw new HttpError(401, 'invalid refresh token', 'unauthorized');
    refreshTokens.delete(token);
    return send(res, 200, issueSession(res, users.get(userId).user));
  }
  if (m === 'POST' && p === '/api/auth/logout') {
    need('viewer');
    sessions.delete(cookies(req).cb_session);
    refreshTokens.delete(cookies(req).cb_refresh);
    res.setHeader('Set-Cookie', ['cb_session=; Path=/; Max-Age=0', 'cb_refresh=; Path=/api/auth; Max-Age=0']);
    return send(res, 204);
  }
  if (m === 'GET' && p === '/api/auth/me') { need('viewer'); return send(res, 200, me); }

  if (p === '/api/users') {
    need('admin');
    if (m === 'GET') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const list = [...users.values()].map((x) => x.user).filter((u) => u.username.toLowerCase().includes(q)).sort((a, b) => a.username.localeCompare(b.username));
      return send(res, 200, page(list, url.searchParams));
    }
    if (m === 'POST') {
      const b = await readJson(req);
      if (!b.username) throw new HttpError(400, 'username is required', 'bad_request');
      if ((b.password ?? '').length < 10) throw new HttpError(400, 'password must be at least 10 characters', 'bad_request');
      if (!(b.role in RANK)) throw new HttpError(400, 'role must be admin, operator or viewer', 'bad_request');
      if ([...users.values()].some((x) => x.user.username === b.username)) throw new HttpError(409, `user ${b.username} already exists`, 'conflict');
      const u = addUser(b.username, b.password, b.role);
      publish('user.created', u);
      return send(res, 201, u);
    }
  }
  if ((mt = /^\/api\/users\/([^/]+)$/.exec(p))) {
    need('admin');
    const rec = users.get(mt[1]);
    if (!rec) throw new HttpError(404, 'user not found', 'not_found');
    if (m === 'GET') return send(res, 200, rec.user);
    if (m === 'PUT') {
      const b = await readJson(req);
      if (rec.user.id === me.id && (b.role && b.role !== me.role || b.disabled)) throw new HttpError(400, 'you cannot demote or disable yourself', 'bad_request');
      if (b.role) rec.user.role = b.role;
      if (typeof b.disabled === 'boolean') rec.user.disabled = b.disabled;
      if (b.password) { if (b.password.length < 10) throw new HttpError(400, 'password must be at least 10 characters', 'bad_request'); rec.password = b.password; }
      rec.user.updated_at = now();
      publish('user.updated', rec.user);
      return send(res, 200, rec.user);
    }
    if (m === 'DELETE') {
      if (rec.user.id === me.id) throw new HttpError(400, 'you cannot delete yourself', 'bad_request');
      users.delete(rec.user.id);
      publish('user.deleted', { id: rec.user.id, username: rec.user.username });
      return send(res, 204);
    }
  }

  if (p === '/api/keys') {
    need('viewer');
    if (m === 'GET') return send(res, 200, { items: [...keys.values()].filter((k) => k.userId === me.id).map((k) => k.key) });
    if (m === 'POST') {
      const b = await readJson(req);
      if (!b.name) throw new HttpError(400, 'name is required', 'bad_request');
      const role = b.role ?? me.role;
      if (RANK[role] > RANK[me.role]) throw new HttpError(403, 'a key cannot have a higher role than its owner', 'forbidden');
      const secret = 'cb_' + randomBytes(32).toString('base64url');
      const key = { id: randomUUID(), name: b.name, prefix: secret.slice(0, 7), role, created_at: now(), last_used_at: null, expires_at: b.expires_in_days ? new Date(Date.now() + b.expires_in_days * 86400e3).toISOString() : null };
      keys.set(key.id, { key, secret, userId: me.id });
      publish('apikey.created', key);
      return send(res, 201, { ...key, key: secret });
    }
  }
  if ((mt = /^\/api\/keys\/([^/]+)$/.exec(p)) && m === 'DELETE') {
    need('viewer');
    const k = keys.get(mt[1]);
    if (!k || k.userId !== me.id) throw new HttpError(404, 'API key not found', 'not_found');
    keys.delete(mt[1]);
    publish('apikey.revoked', { id: k.key.id, name: k.key.name });
    return send(res, 204);
  }

  if ((mt = /^\/api\/config\/([^/]+)$/.exec(p))) {
    need('admin');
    const mod = modules.find((x) => x.name === mt[1]);
    if (!mod) throw new HttpError(404, `unknown module ${mt[1]}`, 'not_found');
    if (m === 'PUT') {
      const b = await readJson(req);
      if (typeof b.enabled === 'boolean') mod.enabled = b.enabled;
      if (b.config) { mod.config = b.config; mod.configured = Object.keys(b.config).length > 0; }
      publish('module.updated', { name: mod.name, enabled: mod.enabled, configured: mod.configured });
    }
    return send(res, 200, { module: mod.name, enabled: mod.enabled, configured: mod.configured, config: mod.config });
  }
  if ((mt = /^\/api\/settings\/([^/]+)$/.exec(p))) {
    need('admin');
    const key = decodeURIComponent(mt[1]);
    if (m === 'PUT') {
      const b = await readJson(req);
      settings.set(key, { key, value: b.value, updated_at: now() });
      publish('setting.updated', settings.get(key));
    }
    const defaults = { 'ui.instance_name': 'ContextBay', 'ui.default_theme': 'system', 'ui.announcement': '' };
    const s = settings.get(key) ?? (key in defaults ? { key, value: defaults[key], updated_at: null } : null);
    if (!s) throw new HttpError(404, `setting ${key} is not set`, 'not_found');
    return send(res, 200, s);
  }

  if (m === 'GET' && p === '/api/audit') {
    need('admin');
    const q = url.searchParams;
    const list = audit.filter((a) =>
      (!q.get('actor') || a.actor === q.get('actor')) &&
      (!q.get('action') || a.action.includes(q.get('action'))) &&
      (!q.get('result') || a.result === q.get('result')) &&
      (!q.get('since') || a.ts >= q.get('since')) &&
      (!q.get('until') || a.ts <= q.get('until')));
    return send(res, 200, page(list, q));
  }
  if (m === 'GET' && p === '/api/activity') { need('viewer'); return send(res, 200, { items: events.slice(0, Number(url.searchParams.get('limit') ?? 50)) }); }
  if (m === 'GET' && p === '/api/notifications') { need('viewer'); return send(res, 200, { items: notifications.slice(0, Number(url.searchParams.get('limit') ?? 50)) }); }
  if (m === 'POST' && p === '/api/notifications/test') {
    need('operator');
    setTimeout(() => notify('Test notification', `Sent by ${me.username} from the dashboard`, 'info'), 300);
    return send(res, 202, {});
  }
  if (m === 'GET' && p === '/api/system/info') {
    need('admin');
    return send(res, 200, { version: '0.1.0-mock', uptime_seconds: Math.floor((Date.now() - started) / 1000), database: 'sqlite', data_dir: './data', hostname: 'mock-master', rss_bytes: process.memoryUsage().rss, ws_sessions: sockets.size, events_published: eventSeq });
  }
  if (m === 'GET' && p === '/api/export') {
    need('admin');
    return send(res, 200, { version: 1, exported_at: now(), users: [...users.values()].map((x) => x.user), settings: [...settings.values()], modules: modules.map(({ name, enabled, config }) => ({ name, enabled, config })) });
  }
  if (m === 'POST' && p === '/api/import') {
    need('admin');
    const b = await readJson(req);
    for (const s of b.settings ?? []) settings.set(s.key, { ...s, updated_at: now() });
    return send(res, 200, { imported: { settings: (b.settings ?? []).length, modules: 0, users: 0 } });
  }
  // Test hooks (not part of the API): drop every WebSocket, or publish an arbitrary event.
  if (m === 'POST' && p === '/api/__mock/drop-ws') { for (const s of sockets) s.drop(); return send(res, 204); }
  if (m === 'POST' && p === '/api/__mock/event') { const b = await readJson(req); return send(res, 200, publish(b.type, b.payload ?? {})); }
  throw new HttpError(404, `no route for ${m} ${p}`, 'not_found');
}

// ---------------------------------------------------------------- server

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2' };

function serveStatic(req, res) {
  if (!existsSync(DIST)) { res.writeHead(404); res.end('web/dist not built; use the Vite dev server'); return; }
  const rel = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = join(DIST, rel);
  if (!file.startsWith(DIST) || !existsSync(file) || statSync(file).isDirectory()) file = join(DIST, 'index.html');
  const immutable = file.includes(`${DIST}assets`);
  res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' });
  createReadStream(file).pipe(res);
}

const server = createServer(async (req, res) => {
  res.requestId = randomUUID();
  if (!req.url.startsWith('/api/')) return serveStatic(req, res);
  const me = authenticate(req);
  const mutating = req.method !== 'GET';
  try {
    await route(req, res, me);
    if (mutating && !req.url.startsWith('/api/auth/refresh')) record(req, me, res.statusCode, res.requestId);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    if (mutating) record(req, me, status, res.requestId);
    if (!(e instanceof HttpError)) console.error(e);
    send(res, status, { error: e instanceof HttpError ? e.message : 'internal error', code: e.code ?? 'internal', request_id: res.requestId }, e.headers ?? {});
  }
});

function record(req, me, status, requestId) {
  const path = new URL(req.url, 'http://x').pathname;
  audit.unshift({ id: audit.length + 1, ts: now(), actor: me?.username ?? 'anonymous', actor_id: me?.id ?? null, action: `${req.method} ${path}`, target: path.split('/').slice(3).join('/') || null, result: status < 400 ? 'success' : 'failure', status, request_id: requestId, source_ip: req.socket.remoteAddress });
}

server.on('upgrade', (req, socket) => {
  if (req.url.startsWith('/api/ws')) wsAccept(req, socket);
  else socket.destroy();
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`mock ContextBay master on http://127.0.0.1:${PORT} (access TTL ${ACCESS_TTL}s)${args.includes('--seed') ? ' — seeded: admin / adminadmin1' : ''}`);
});
