// Browser flows of the backups module and the sub-containers page against the real master and
// the real Docker engine: a backup job created on a real volume through the editor (the client's
// checks, the schedule's next firings, the master's 400 shown on the field it names), run from
// the page with its progress seen live until done, verified, restored into a new volume whose
// files are then compared with the original's, the archive downloaded; what a viewer may do; the
// sub-containers catalogue. Every page is screenshotted into test-results/screenshots/.
//
//   npm run e2e     (from web/; needs the master binary with the dashboard embedded, Docker, Chromium)

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { api, eventually, flowOf, uiLogin, docker, dockerProblem, launchBrowser, mayskip, missingPrerequisites, screenshot, startMaster, TEST_IMAGE } from './harness.mjs';

const ADMIN = { username: 'admin', password: 'e2e-admin-pass-1' };
const VIEWER = { username: 'viewer1', password: 'e2e-viewer-pass-1' };
const TIMEOUT = 20_000;
/** A run of ~100 MiB of random data on a busy two-core machine. */
const RUN_TIMEOUT = 120_000;

const missing = [missingPrerequisites(), dockerProblem()].filter(Boolean).join('\n') || null;
if (missing && !mayskip) throw new Error(`e2e prerequisites missing:\n${missing}`);
if (missing) console.warn(`SKIPPING the backups e2e suite (E2E_ALLOW_SKIP=1):\n${missing}`);

const prefix = `cb-e2e-bk-${randomBytes(4).toString('hex')}`;
const VOLUME = `${prefix}-data`;
const GONE = `${prefix}-gone`;
const RESTORED = `${prefix}-restored`;
const JOB = 'e2e nightly';

let master;
let chrome;
let adminToken;
let ctx;
let page;
const volumes = new Set();
const pageErrors = [];

async function newContext() {
  const c = await chrome.browser.newContext({ baseURL: master.base, viewport: { width: 1360, height: 860 }, acceptDownloads: true });
  c.setDefaultTimeout(TIMEOUT);
  c.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(`${p.url()}: ${err.message}`)));
  return c;
}

const flow = flowOf(test, 'backups', () => page);


function createVolume(name) {
  docker('volume', 'create', '--label', 'contextbay.test=1', name);
  volumes.add(name);
}

/** Runs a throw-away busybox container (no network) with `volume` at /data. */
function inVolume(volume, script, ro = false) {
  return docker('run', '--rm', '--network', 'none', '--label', 'contextbay.test=1', '-v', `${volume}:/data${ro ? ':ro' : ''}`, TEST_IMAGE, 'sh', '-c', script);
}

/** Every file's path, mode, size and SHA-256 under the volume. */
function manifest(volume) {
  return inVolume(volume, 'cd /data && find . -type f | sort | while read f; do echo "$f $(stat -c %a:%s "$f") $(sha256sum < "$f" | cut -d" " -f1)"; done', true);
}

describe('backups and sub-containers pages against the real master and Docker engine', { skip: missing ? `prerequisites missing: ${missing}` : false }, () => {
  before(async () => {
    createVolume(VOLUME);
    inVolume(VOLUME, 'mkdir -p /data/etc /data/db && echo hello > /data/etc/greeting && chmod 600 /data/etc/greeting && dd if=/dev/urandom of=/data/db/blob bs=1048576 count=96 2>/dev/null');
    createVolume(GONE);
    master = await startMaster();
    const setup = await api(master.base, 'POST', '/api/auth/setup', { body: ADMIN });
    assert.equal(setup.status, 201, `setup: ${setup.text}`);
    const login = await api(master.base, 'POST', '/api/auth/login', { body: ADMIN });
    assert.equal(login.status, 200, login.text);
    adminToken = login.json.access_token;
    chrome = await launchBrowser();
    ctx = await newContext();
    page = await ctx.newPage();
  });

  after(async () => {
    await chrome?.close();
    await master?.stop();
    for (const v of volumes) {
      try {
        docker('volume', 'rm', '-f', v);
      } catch (e) {
        console.warn(`removing volume ${v}: ${e.message}`);
      }
    }
    if (pageErrors.length) console.warn(`page errors:\n${pageErrors.join('\n')}`);
  });

  flow('the backups page appears once the module is on', async () => {
    await uiLogin(page, ADMIN);
    await page.getByTestId('nav-fleet').waitFor();
    assert.equal(await page.getByTestId('nav-backups').count(), 0, 'Backups shown while the module is off');
    const on = await api(master.base, 'PUT', '/api/config/backups', { token: adminToken, body: { enabled: true, config: {} } });
    assert.equal(on.status, 200, on.text);
    await page.reload();
    await page.getByTestId('nav-backups').click();
    await page.getByTestId('page-backup-jobs').waitFor();
    await page.getByTestId('backup-jobs-table').or(page.getByText('No backup jobs')).first().waitFor();
    await screenshot(page, 'backups-empty');
  });

  flow('the editor checks the schedule, shows its next firings and the master’s 400 on its field', async () => {
    await page.getByTestId('backup-job-new').click();
    const dialog = page.getByTestId('backup-job-dialog');
    await dialog.waitFor();
    await page.getByTestId('backup-job-name').fill(JOB);
    await eventually('the volumes of the local endpoint', async () => (await page.getByTestId('backup-job-volume').locator(`option[value="${GONE}"]`).count()) === 1);
    await page.getByTestId('backup-job-volume').selectOption(GONE);
    await page.getByTestId('backup-job-scheduled').click();
    await page.getByTestId('backup-job-cron').fill('61 2 * * *');
    await page.getByTestId('schedule-preview-error').waitFor();
    await page.getByTestId('backup-job-submit').click();
    await dialog.locator('.field-invalid').filter({ has: page.getByTestId('backup-job-cron') }).waitFor();

    await page.getByTestId('backup-job-cron').fill('30 2 * * 1-5');
    await page.getByTestId('backup-job-timezone').fill('Europe/Paris');
    const firings = page.getByTestId('schedule-preview').locator('li');
    await eventually('five next firings', async () => (await firings.count()) === 5);
    await screenshot(page, 'backups-editor-schedule');

    // The volume goes away between choosing it and saving: only the master can tell.
    docker('volume', 'rm', GONE);
    volumes.delete(GONE);
    await page.getByTestId('backup-job-submit').click();
    const volumeField = dialog.locator('.field-invalid').filter({ has: page.getByTestId('backup-job-volume') });
    await volumeField.waitFor();
    assert.match(await volumeField.locator('.field-error').textContent(), new RegExp(`no volume '${GONE}'`));
    await screenshot(page, 'backups-editor-server-error');

    await page.getByTestId('backup-job-volume').selectOption(VOLUME);
    await page.getByTestId('backup-job-keep-last').fill('3');
    await page.getByTestId('backup-job-submit').click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="backup-job-row"][data-name="${JOB}"]`);
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /30 2 \* \* 1-5/);
    assert.match(text, /Europe\/Paris/);
    assert.match(text, /last 3/);
    await screenshot(page, 'backups-jobs');
  });

  flow('run now: the progress shows live until the run is done', async () => {
    await page.locator(`[data-testid="backup-job-row"][data-name="${JOB}"]`).getByTestId('backup-job-link').click();
    await page.getByTestId('page-backup-job').waitFor();
    // Every text the progress cell shows while the run goes (it is gone once the run ended).
    await page.evaluate(() => {
      window.__progress = [];
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid="backup-progress"]')) window.__progress.push(el.textContent);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByTestId('backup-run-now').click();
    await page.locator('[data-testid="backup-record-row"][data-status="running"]').waitFor();
    await screenshot(page, 'backups-run-progress');
    await page.locator('[data-testid="backup-record-row"][data-status="succeeded"]').waitFor({ timeout: RUN_TIMEOUT });
    const seen = await page.evaluate(() => window.__progress);
    assert.ok(
      seen.some((t) => /\d+(\.\d+)? MiB read/.test(t)),
      `the page showed no progress in bytes while the run went: ${JSON.stringify(seen.slice(-5))}`,
    );
    const row = page.locator('[data-testid="backup-record-row"][data-status="succeeded"]');
    assert.match(await row.textContent(), /MiB/);
    await screenshot(page, 'backups-run-done');
  });

  flow('verify, download and restore into a new volume with the same files', async () => {
    const row = page.locator('[data-testid="backup-record-row"][data-status="succeeded"]');
    await row.getByTestId('backup-record-verify').click();
    await row.getByTestId('backup-verified').waitFor({ timeout: RUN_TIMEOUT });

    const records = await api(master.base, 'GET', `/api/backup-jobs/${await jobId()}/records`, { token: adminToken });
    const record = records.json.items[0];
    const href = await row.getByTestId('backup-record-download').getAttribute('href');
    const download = await page.evaluate(async (h) => {
      const r = await fetch(h);
      const body = await r.arrayBuffer();
      const digest = [...new Uint8Array(await crypto.subtle.digest('SHA-256', body))].map((b) => b.toString(16).padStart(2, '0')).join('');
      return { status: r.status, length: body.byteLength, sha: r.headers.get('x-checksum-sha256'), digest };
    }, href);
    assert.deepEqual(download, { status: 200, length: record.size_bytes, sha: record.sha256, digest: record.sha256 });

    await row.getByTestId('backup-record-restore').click();
    const dialog = page.getByTestId('backup-restore-dialog');
    await dialog.waitFor();
    await page.getByTestId('backup-restore-volume').fill('bad name');
    await page.getByTestId('backup-restore-submit').click();
    await dialog.locator('.field-invalid').waitFor();
    await page.getByTestId('backup-restore-volume').fill(RESTORED);
    volumes.add(RESTORED);
    await screenshot(page, 'backups-restore-dialog');
    await page.getByTestId('backup-restore-submit').click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('toast').filter({ hasText: `Restored into volume ${RESTORED}` }).waitFor({ timeout: RUN_TIMEOUT });
    assert.equal(manifest(RESTORED), manifest(VOLUME));
    assert.match(manifest(RESTORED), /\.\/etc\/greeting 600:6 /);
    await screenshot(page, 'backups-restored');
  });

  flow('a viewer sees jobs and records but no write buttons', async () => {
    const created = await api(master.base, 'POST', '/api/users', { token: adminToken, body: { ...VIEWER, role: 'viewer' } });
    assert.equal(created.status, 201, created.text);
    const vctx = await newContext();
    try {
      const vp = await vctx.newPage();
      await uiLogin(vp, VIEWER);
      await vp.goto('/backups');
      await vp.locator(`[data-testid="backup-job-row"][data-name="${JOB}"]`).waitFor();
      assert.equal(await vp.getByTestId('backup-job-new').count(), 0);
      assert.equal(await vp.getByTestId('backup-job-run').count(), 0);
      assert.equal(await vp.getByTestId('backup-job-delete').count(), 0);
      await vp.getByTestId('backup-job-link').first().click();
      await vp.getByTestId('backup-record-row').first().waitFor();
      for (const id of ['backup-run-now', 'backup-job-edit', 'backup-record-verify', 'backup-record-restore']) {
        assert.equal(await vp.getByTestId(id).count(), 0, `${id} shown to a viewer`);
      }
      assert.ok((await vp.getByTestId('backup-record-download').count()) > 0, 'viewers may download');
      assert.equal(await vp.getByTestId('nav-subcontainers').count(), 0, 'sub-containers shown to a viewer');
      await screenshot(vp, 'backups-viewer');
    } finally {
      await vctx.close();
    }
  });

  flow('sub-containers: the catalogue with each service’s state, and its deploy form', async () => {
    await page.getByTestId('nav-subcontainers').click();
    await page.getByTestId('page-subcontainers').waitFor();
    const rows = page.getByTestId('subcontainer-row');
    await eventually('the catalogue', async () => (await rows.count()) >= 10);
    const names = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    for (const n of ['prometheus', 'alertmanager', 'grafana', 'loki', 'ollama']) assert.ok(names.includes(n), `${n} missing from ${names}`);
    await page.locator('[data-testid="subcontainer-row"][data-name="prometheus"]').click();
    const detail = page.locator('[data-testid="subcontainer-detail"][data-name="prometheus"]');
    await detail.waitFor();
    assert.match(await detail.textContent(), /not deployed/);
    await screenshot(page, 'subcontainers');
    await detail.getByTestId('subcontainer-deploy').click();
    await page.getByTestId('subcontainer-config-dialog').waitFor();
    await page.getByTestId('subcontainer-port').fill('70000');
    await page.getByTestId('subcontainer-config-submit').click();
    await page.getByTestId('subcontainer-config-dialog').locator('.field-invalid').waitFor();
    await screenshot(page, 'subcontainers-deploy-form');
  });
});

async function jobId() {
  const jobs = await api(master.base, 'GET', '/api/backup-jobs', { token: adminToken });
  return jobs.json.items.find((j) => j.name === JOB).id;
}
