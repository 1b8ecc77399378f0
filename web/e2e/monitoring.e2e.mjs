// Browser flows of the monitoring and alerting modules against the real master, a real Prometheus
// scraping the master's /metrics and a real Alertmanager delivering to the master's webhook, all
// on free loopback ports with throw-away data dirs; a real worker supplies node and container
// metrics. Each page is exercised and screenshotted: the modules' pages appear only once the
// modules are on; fleet charts with data over several ranges; a PromQL query as chart and table
// and Prometheus' error; targets up; an alert rule refused by Prometheus (error on its field),
// created, edited, then deleted; its alert firing live, acknowledged, silenced from the alert; the
// silence expired; what a viewer may do; Grafana links hidden while Grafana is not configured.
//
//   npm run e2e            (from web/; needs ../target/debug/contextbay with the dashboard embedded)
//   E2E_DIST_FROM_DISK=1 npm run e2e   (the browser talks to `vite preview` of web/dist)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  api,
  docker,
  dockerProblem,
  dockerScratch,
  launchBrowser,
  mayskip,
  missingPrerequisites,
  monitoringProblem,
  screenshot,
  startAlertmanager,
  startMaster,
  startPreview,
  startPrometheus,
  startWorker,
} from './harness.mjs';

const ADMIN = { username: 'admin', password: 'e2e-admin-pass-1' };
const VIEWER = { username: 'viewer1', password: 'e2e-viewer-pass-1' };
const WEBHOOK_TOKEN = 'webhook-e2e-0123456789-abcdefghijklmnop';
const RULE = 'E2EAlwaysFiring';
const TIMEOUT = 15_000;
/** Prometheus scrapes and evaluates every second; an alert needs scrape → rule → Alertmanager → webhook. */
const ALERT_TIMEOUT = 60_000;

const missing = [missingPrerequisites(), dockerProblem(), monitoringProblem()].filter(Boolean).join('\n') || null;
if (missing && !mayskip) {
  // Fail loudly, before any test runs: a silently skipped e2e suite proves nothing.
  throw new Error(`e2e prerequisites missing:\n${missing}`);
}
if (missing) console.warn(`SKIPPING the monitoring e2e suite (E2E_ALLOW_SKIP=1):\n${missing}`);

const DIST_FROM_DISK = process.env.E2E_DIST_FROM_DISK === '1';

let master;
let preview;
let prometheus;
let alertmanager;
let worker;
let scratchDocker;
let chrome;
let uiBase;
let adminToken;
let ctx;
let page;
const pageErrors = [];

async function newContext() {
  const c = await chrome.browser.newContext({ baseURL: uiBase, viewport: { width: 1360, height: 860 } });
  c.setDefaultTimeout(TIMEOUT);
  c.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(`${p.url()}: ${err.message}`)));
  return c;
}

/** A test whose failure leaves a screenshot of the admin page (`FAILED-<test>.png`). */
function flow(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      if (page && !page.isClosed()) {
        await screenshot(page, `FAILED-monitoring-${slug}`).catch(() => undefined);
        console.log(`FAILED "${name}" at ${page.url()}; screenshot test-results/screenshots/FAILED-monitoring-${slug}.png`);
      }
      throw err;
    }
  });
}

/** Polls `check` (which returns a value or null/undefined/false) until it gives one. */
async function eventually(what, check, timeout = TIMEOUT) {
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
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until `locator`'s text contains `text`. */
async function waitForText(locator, text, timeout = TIMEOUT) {
  return eventually(`text ${JSON.stringify(text)} in ${locator}`, async () => {
    const t = (await locator.textContent({ timeout: 1000 }).catch(() => '')) ?? '';
    return t.includes(text) ? t : null;
  }, timeout);
}

async function uiLogin(p, user) {
  await p.goto('/login');
  await p.getByTestId('login-username').fill(user.username);
  await p.getByTestId('login-password').fill(user.password);
  await p.getByTestId('login-submit').click();
  await p.getByTestId('user-menu').waitFor();
}

async function configureModule(name, config) {
  const r = await api(master.base, 'PUT', `/api/config/${name}`, { token: adminToken, body: { enabled: true, config } });
  assert.equal(r.status, 200, `PUT /api/config/${name}: ${r.text}`);
}

/** Waits for a chart panel to show a chart with at least one point, and returns its series count. */
async function panelWithData(p, testId, timeout = 45_000) {
  const panel = p.getByTestId(testId);
  await panel.waitFor();
  return eventually(
    `${testId} with data`,
    async () => {
      const state = await panel.getAttribute('data-state');
      if (state === 'error') throw new Error(await panel.getByTestId('chart-error').textContent());
      if (state !== 'data') return null;
      const chart = panel.getByTestId(`${testId}-chart`);
      const points = Number(await chart.getAttribute('data-points'));
      const series = Number(await chart.getAttribute('data-series'));
      // uPlot drew it: a canvas with a size.
      const drawn = await chart.locator('canvas').evaluate((c) => c.width > 0 && c.height > 0).catch(() => false);
      return points > 0 && series > 0 && drawn ? series : null;
    },
    timeout,
  );
}

describe('monitoring and alerting pages against the real master, Prometheus and Alertmanager', { skip: missing ? `prerequisites missing: ${missing}` : false }, () => {
  before(async () => {
    master = await startMaster();
    uiBase = master.base;
    if (DIST_FROM_DISK) {
      preview = await startPreview(master);
      uiBase = preview.base;
    }
    const setup = await api(master.base, 'POST', '/api/auth/setup', { body: ADMIN });
    assert.equal(setup.status, 201, `setup: ${setup.text}`);
    const login = await api(master.base, 'POST', '/api/auth/login', { body: ADMIN });
    assert.equal(login.status, 200, login.text);
    adminToken = login.json.access_token;
    alertmanager = await startAlertmanager(master, { token: WEBHOOK_TOKEN });
    prometheus = await startPrometheus(master, { alertmanager: alertmanager.addr });
    chrome = await launchBrowser();
    ctx = await newContext();
    page = await ctx.newPage();
  });

  after(async () => {
    await chrome?.close();
    await worker?.stop();
    await preview?.stop();
    try {
      scratchDocker?.cleanup();
    } catch (e) {
      console.warn(`docker cleanup: ${e.message}`);
    }
    await prometheus?.stop();
    await alertmanager?.stop();
    await master?.stop();
    if (pageErrors.length) console.warn(`page errors:\n${pageErrors.join('\n')}`);
  });

  flow('the pages appear only once the modules are on', async () => {
    await uiLogin(page, ADMIN);
    await page.getByTestId('nav-fleet').waitFor();
    for (const id of ['nav-monitoring', 'nav-alerts']) assert.equal(await page.getByTestId(id).count(), 0, `${id} shown while the module is off`);
    await page.goto('/monitoring');
    await page.getByTestId('module-off').waitFor();

    await configureModule('monitoring', { prometheus_url: prometheus.url });
    await configureModule('alerting', { alertmanager_url: alertmanager.url, webhook_token: WEBHOOK_TOKEN });
    await page.reload();
    for (const id of ['nav-monitoring', 'nav-query', 'nav-targets', 'nav-alerts', 'nav-alert-rules', 'nav-silences']) {
      await page.getByTestId(id).waitFor();
    }
    const modules = await api(master.base, 'GET', '/api/modules');
    for (const name of ['monitoring', 'alerting']) {
      const m = modules.json.items.find((x) => x.name === name);
      assert.deepEqual([m.enabled, m.configured, m.problems], [true, true, []], `${name}: ${JSON.stringify(m)}`);
    }
  });

  flow('targets: Prometheus scrapes the master and the target is up', async () => {
    await page.getByTestId('nav-targets').click();
    await page.getByTestId('page-targets').waitFor();
    const row = page.locator(`[data-testid="target-row"][data-url="${master.base}/metrics"]`);
    await eventually('the master target up', async () => (await row.getAttribute('data-health', { timeout: 1000 })) === 'up', 45_000);
    await waitForText(row.getByTestId('target-health'), 'up');
    assert.equal((await row.getByTestId('target-error').textContent()).trim(), '—');
    await page.getByTestId('prometheus-status').waitFor();
    await waitForText(page.getByTestId('prometheus-status'), 'reachable');
    await screenshot(page, 'm10-targets');
  });

  flow('fleet charts: CPU, memory, disk and network per node and per container, over picked ranges', async () => {
    // A real worker on this machine's Docker engine reports its host and containers; one test
    // container keeps running so that there are container samples.
    scratchDocker = dockerScratch();
    const id = scratchDocker.create('sleeper', ['sleep', '600']);
    docker('start', id);
    const host = await api(master.base, 'POST', '/api/hosts', { token: adminToken, body: { name: 'e2e-metrics-worker', labels: {} } });
    assert.equal(host.status, 201, host.text);
    worker = await startWorker(master, { enrollToken: host.json.enroll_token, name: 'monitoring-worker' });

    await page.getByTestId('nav-monitoring').click();
    await page.getByTestId('page-metrics').waitFor();
    assert.equal(await page.getByTestId('grafana-links').count(), 0, 'Grafana links shown although Grafana is not configured');
    for (const panel of ['panel-node-cpu', 'panel-node-memory', 'panel-node-disk', 'panel-node-network-rx', 'panel-node-network-tx']) {
      try {
        await panelWithData(page, panel, 60_000);
      } catch (e) {
        throw new Error(`${e.message}\nworker ${worker.exited() ? 'exited' : 'running'}:\n${worker.log().slice(-2000)}`);
      }
    }

    // Range pickers: presets keep the data; a custom range is validated before it is queried.
    await page.getByTestId('range-15m').click();
    await page.waitForURL((u) => u.searchParams.get('range') === '15m');
    await panelWithData(page, 'panel-node-cpu');
    await screenshot(page, 'm20-fleet-charts-15m');
    await page.getByTestId('range-6h').click();
    await page.waitForURL((u) => u.searchParams.get('range') === '6h');
    await panelWithData(page, 'panel-node-cpu');
    await page.getByTestId('range-custom').click();
    const start = await page.getByTestId('range-start').inputValue();
    await page.getByTestId('range-end').fill(start);
    await page.getByTestId('range-apply').click();
    await waitForText(page.getByTestId('range-error'), 'the end must be after the start');
    assert.ok(!/^\d+-\d+$/.test(new URL(page.url()).searchParams.get('range') ?? ''), 'an invalid custom range reached the URL');
    const end = new Date(Date.now() + 60_000);
    const from = new Date(Date.now() - 10 * 60_000);
    const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByTestId('range-start').fill(local(from));
    await page.getByTestId('range-end').fill(local(end));
    await page.getByTestId('range-apply').click();
    await page.waitForURL((u) => /^\d+-\d+$/.test(u.searchParams.get('range') ?? ''));
    await panelWithData(page, 'panel-node-cpu');
    await screenshot(page, 'm21-fleet-charts-custom');

    await page.getByTestId('scope-containers').click();
    await page.waitForURL((u) => u.searchParams.get('scope') === 'containers');
    await panelWithData(page, 'panel-container-cpu', 60_000);
    await panelWithData(page, 'panel-container-memory', 60_000);
    for (const panel of ['panel-container-network-rx', 'panel-container-network-tx', 'panel-container-disk-read', 'panel-container-disk-write']) {
      await panelWithData(page, panel, 60_000);
    }
    await screenshot(page, 'm22-fleet-charts-containers');
  });

  flow('query page: PromQL as a chart and a table, and Prometheus\' error shown as it words it', async () => {
    await page.getByTestId('nav-query').click();
    await page.getByTestId('page-query').waitFor();
    await page.getByTestId('query-input').fill('up{cb_component="master"}');
    await page.getByTestId('query-run').click();
    const row = page.getByTestId('query-row');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().textContent(), /cb_component="master"/);
    assert.equal((await row.first().locator('td').nth(1).textContent()).trim(), '1');
    await panelWithData(page, 'query-chart');
    await screenshot(page, 'm30-query');

    await page.getByTestId('query-input').fill('sum(rate(up[1m]) by');
    await page.getByTestId('query-run').click();
    const error = await waitForText(page.getByTestId('query-error'), 'parse error');
    const direct = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent('sum(rate(up[1m]) by')}`).then((r) => r.json());
    assert.equal(error.trim(), direct.error, 'the page shows Prometheus\' own message');
    await screenshot(page, 'm31-query-error');
  });

  flow('alert rules: PromQL refused on its field, a rule created, loaded by Prometheus and edited', async () => {
    await page.getByTestId('nav-alert-rules').click();
    await page.getByTestId('page-alert-rules').waitFor();
    // One nav entry is the current page.
    assert.equal(await page.getByTestId('nav-alert-rules').getAttribute('aria-current'), 'page');
    assert.equal(await page.getByTestId('nav-alerts').getAttribute('aria-current'), null);
    await page.getByTestId('rule-new').click();
    const dialog = page.getByTestId('rule-dialog');
    // Checked in the page: nothing is sent.
    await page.getByTestId('rule-name').fill('9 lives');
    await page.getByTestId('rule-submit').click();
    await waitForText(dialog.locator('.field-invalid:has([data-testid="rule-name"]) .field-error'), 'letters, digits and _');
    // Checked by the server with Prometheus: the error lands on the expression.
    await page.getByTestId('rule-name').fill(RULE);
    await page.getByTestId('rule-expr').fill('vector(1) ==');
    await page.getByTestId('rule-for').fill('0s');
    await page.getByTestId('rule-severity').selectOption('critical');
    await page.getByTestId('rule-annotations').fill('summary=always firing, for the e2e test');
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/alert-rules') && r.request().method() === 'POST'), page.getByTestId('rule-submit').click()]);
    assert.equal(refused.status(), 400);
    const message = await waitForText(dialog.locator('.field-invalid:has([data-testid="rule-expr"]) .field-error'), 'not valid PromQL');
    assert.equal(message.trim(), (await refused.json()).error);
    assert.equal(await page.getByTestId('rule-name').getAttribute('aria-invalid'), null, 'the name is no longer marked');
    await screenshot(page, 'm40-rule-refused');

    await page.getByTestId('rule-expr').fill('vector(1)');
    const [created] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/alert-rules') && r.request().method() === 'POST'), page.getByTestId('rule-submit').click()]);
    assert.equal(created.status(), 201, await created.text());
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="rule-row"][data-name="${RULE}"]`);
    await row.waitFor();
    await eventually('Prometheus loading the rule', async () => {
      const r = await api(master.base, 'GET', '/api/prometheus/rules', { token: adminToken });
      return JSON.stringify(r.json).includes(RULE);
    });

    // Edited: the editor opens with the rule's values; the new summary reaches the list.
    await row.getByTestId('rule-edit').click();
    await dialog.waitFor();
    assert.equal(await page.getByTestId('rule-expr').inputValue(), 'vector(1)');
    assert.equal(await page.getByTestId('rule-severity').inputValue(), 'critical');
    await page.getByTestId('rule-annotations').fill('summary=always firing (edited)');
    const [updated] = await Promise.all([page.waitForResponse((r) => r.url().includes('/api/alert-rules/') && r.request().method() === 'PUT'), page.getByTestId('rule-submit').click()]);
    assert.equal(updated.status(), 200, await updated.text());
    await dialog.waitFor({ state: 'detached' });
    await waitForText(row, 'always firing (edited)');
    await screenshot(page, 'm41-rules');
  });

  flow('alerts: the rule\'s alert fires live, is acknowledged, then silenced from the alert', async () => {
    await page.getByTestId('nav-alerts').click();
    await page.getByTestId('page-alerts').waitFor();
    await page.evaluate(() => {
      window.__noReload = true;
    });
    const row = page.locator(`[data-testid="alert-row"][data-name="${RULE}"]`);
    await row.waitFor({ timeout: ALERT_TIMEOUT });
    assert.equal(await row.getAttribute('data-status'), 'firing');
    await screenshot(page, 'm50-alert-firing');

    const [ack] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/acknowledge')), row.getByTestId('alert-acknowledge').click()]);
    assert.equal(ack.status(), 200);
    await waitForText(row.getByTestId('alert-ack'), `by ${ADMIN.username}`);
    assert.equal(await row.getAttribute('data-acknowledged'), 'true');

    await row.getByTestId('alert-silence').click();
    const dialog = page.getByTestId('silence-dialog');
    await dialog.waitFor();
    const matchers = dialog.getByTestId('silence-matcher');
    assert.equal(await matchers.first().locator('input').first().inputValue(), 'alertname');
    assert.equal(await matchers.first().locator('input').nth(1).inputValue(), RULE);
    // Alertmanager needs a comment: refused in the page, on its field.
    await page.getByTestId('silence-submit').click();
    await dialog.locator('.field-invalid:has([data-testid="silence-comment"]) .field-error').waitFor();
    await page.getByTestId('silence-comment').fill('e2e: silenced from the alert');
    await screenshot(page, 'm51-silence-from-alert');
    const [created] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/alertmanager/silences') && r.request().method() === 'POST'), page.getByTestId('silence-submit').click()]);
    assert.equal(created.status(), 201, await created.text());
    const silence = await created.json();
    assert.ok(silence.matchers.some((m) => m.name === 'alertname' && m.value === RULE && m.is_equal && !m.is_regex));
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page reloaded');
    // Alertmanager itself has it, active.
    const inAm = await eventually('the silence active in Alertmanager', async () => {
      const s = await fetch(`${alertmanager.url}/api/v2/silence/${silence.id}`).then((r) => r.json());
      return s.status?.state === 'active' ? s : null;
    });
    assert.equal(inAm.createdBy, ADMIN.username);
  });

  flow('silences: the new silence is listed and expired', async () => {
    await page.getByTestId('nav-silences').click();
    await page.getByTestId('page-silences').waitFor();
    const row = page.locator('[data-testid="silence-row"][data-state="active"]');
    await row.first().waitFor();
    assert.match(await row.first().textContent(), new RegExp(`alertname="${RULE}"`));
    await screenshot(page, 'm60-silences');
    const id = await row.first().getAttribute('data-id');
    await row.first().getByTestId('silence-expire').click();
    await page.getByTestId('expire-silence-dialog').getByTestId('confirm-submit').click();
    await page.getByTestId('expire-silence-dialog').waitFor({ state: 'detached' });
    await eventually('the silence expired in the list', async () =>
      (await page.locator(`[data-testid="silence-row"][data-id="${id}"]`).getAttribute('data-state', { timeout: 1000 })) === 'expired',
    );
    const s = await fetch(`${alertmanager.url}/api/v2/silence/${id}`).then((r) => r.json());
    assert.equal(s.status.state, 'expired');
    await page.getByTestId('chip-state-expired').click();
    await page.locator(`[data-testid="silence-row"][data-id="${id}"]`).waitFor();
    await screenshot(page, 'm61-silence-expired');
  });

  flow('a viewer sees the pages without the operator actions', async () => {
    const created = await api(master.base, 'POST', '/api/users', { token: adminToken, body: { ...VIEWER, role: 'viewer' } });
    assert.equal(created.status, 201, created.text);
    const vctx = await newContext();
    try {
      const vp = await vctx.newPage();
      await uiLogin(vp, VIEWER);
      await vp.getByTestId('nav-alerts').click();
      const row = vp.locator(`[data-testid="alert-row"][data-name="${RULE}"]`);
      await row.waitFor();
      assert.equal(await vp.getByTestId('alert-acknowledge').count(), 0);
      assert.equal(await vp.getByTestId('alert-silence').count(), 0);
      await vp.getByTestId('nav-alert-rules').click();
      await vp.locator(`[data-testid="rule-row"][data-name="${RULE}"]`).waitFor();
      assert.equal(await vp.getByTestId('rule-new').count(), 0);
      assert.equal(await vp.getByTestId('rule-delete').count(), 0);
      await vp.getByTestId('nav-silences').click();
      await vp.getByTestId('page-silences').waitFor();
      assert.equal(await vp.getByTestId('silence-new').count(), 0);
      await screenshot(vp, 'm70-viewer-silences');
    } finally {
      await vctx.close();
    }
  });

  flow('alert rules: the rule is deleted and Prometheus drops it', async () => {
    await page.getByTestId('nav-alert-rules').click();
    const row = page.locator(`[data-testid="rule-row"][data-name="${RULE}"]`);
    await row.getByTestId('rule-delete').click();
    await page.getByTestId('delete-rule-dialog').getByTestId('confirm-submit').click();
    await row.waitFor({ state: 'detached' });
    await eventually('Prometheus dropping the rule', async () => {
      const r = await api(master.base, 'GET', '/api/prometheus/rules', { token: adminToken });
      return r.status === 200 && !JSON.stringify(r.json).includes(RULE);
    });
    await screenshot(page, 'm80-rule-deleted');
    assert.deepEqual(pageErrors, []);
  });
});
