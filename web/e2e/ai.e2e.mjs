// Browser flows of the AI module against the real master pointed at a real model: llama.cpp's
// server from the test virtualenv serving Gemma 3 270M (a base model: the flows assert on the
// plumbing, never on what it says). Chat streams deltas into the page and shows the provider,
// model and usage of the last event; Stop aborts a long answer; the router page shows the
// provider and the decisions; the modes editor creates and deletes a custom mode; the MCP page
// registers the Python SDK test server (stdio), probes it, lists its tools and test-fires one;
// a viewer sees no write buttons. Every page is screenshotted into test-results/screenshots/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { aiProblem, api, eventually, flowOf, uiLogin, launchBrowser, LLAMA_MODEL, mayskip, MCP_TEST_SERVER, missingPrerequisites, pythonOfVenv, screenshot, startLlama, startMaster } from './harness.mjs';

const ADMIN = { username: 'admin', password: 'e2e-admin-pass-1' };
const VIEWER = { username: 'viewer1', password: 'e2e-viewer-pass-1' };
const TIMEOUT = 20_000;
/** A small model on a busy two-core machine. */
const ANSWER_TIMEOUT = 120_000;

const missing = [missingPrerequisites(), aiProblem()].filter(Boolean).join('\n') || null;
if (missing && !mayskip) throw new Error(`e2e prerequisites missing:\n${missing}`);
if (missing) console.warn(`SKIPPING the AI e2e suite (E2E_ALLOW_SKIP=1):\n${missing}`);

let master;
let llama;
let chrome;
let adminToken;
let ctx;
let page;
const pageErrors = [];

async function newContext() {
  const c = await chrome.browser.newContext({ baseURL: master.base, viewport: { width: 1360, height: 860 } });
  c.setDefaultTimeout(TIMEOUT);
  c.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(`${p.url()}: ${err.message}`)));
  return c;
}

const flow = flowOf(test, 'ai', () => page);


/** Records every text the last assistant message shows, from now on. */
async function watchAssistant(p) {
  await p.evaluate(() => {
    window.__texts = [];
    new MutationObserver(() => {
      const all = document.querySelectorAll('[data-testid="chat-assistant"] .chat-content');
      const last = all[all.length - 1];
      if (last && window.__texts[window.__texts.length - 1] !== last.textContent) window.__texts.push(last.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

describe('AI pages against the real master and a real model', { skip: missing ? `prerequisites missing: ${missing}` : false }, () => {
  before(async () => {
    llama = await startLlama();
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
    await llama?.stop();
    if (pageErrors.length) console.warn(`page errors:\n${pageErrors.join('\n')}`);
  });

  flow('the AI pages appear once the module is on and pointed at the model', async () => {
    await uiLogin(page, ADMIN);
    await page.getByTestId('nav-fleet').waitFor();
    assert.equal(await page.getByTestId('nav-ai-chat').count(), 0, 'AI chat shown while the module is off');
    const on = await api(master.base, 'PUT', '/api/config/ai', { token: adminToken, body: { enabled: true, config: { openai_url: `${llama.url}/v1`, openai_model: LLAMA_MODEL } } });
    assert.equal(on.status, 200, on.text);
    await page.reload();
    for (const id of ['nav-ai-chat', 'nav-ai-router', 'nav-ai-modes', 'nav-ai-mcp']) await page.getByTestId(id).waitFor();
  });

  flow('chat: the answer streams in delta by delta, then its provider, model and usage', async () => {
    await page.getByTestId('nav-ai-chat').click();
    await page.getByTestId('page-ai-chat').waitFor();
    await eventually('the model in the list', async () => (await page.getByTestId('chat-model').locator('option').count()) > 1);
    await page.getByTestId('chat-max-tokens').fill('0');
    await page.getByTestId('chat-input').fill('Count from one to ten.');
    await page.getByTestId('chat-send').click();
    assert.match(await page.getByTestId('chat-error').textContent(), /max_tokens/);
    await page.getByTestId('chat-max-tokens').fill('24');
    await watchAssistant(page);
    await page.getByTestId('chat-send').click();
    const done = page.getByTestId('chat-done');
    await done.waitFor({ timeout: ANSWER_TIMEOUT });
    const meta = await done.textContent();
    assert.match(meta, /openai/);
    assert.match(meta, new RegExp(LLAMA_MODEL));
    assert.match(meta, /\d+ in \/ \d+ out tokens/);
    const texts = await page.evaluate(() => window.__texts.filter((t) => t && t !== '…'));
    assert.ok(texts.length >= 2, `the answer did not grow in pieces: ${JSON.stringify(texts)}`);
    assert.ok(texts.every((t, i) => i === 0 || t.startsWith(texts[i - 1])), `the pieces do not add up: ${JSON.stringify(texts)}`);
    await screenshot(page, 'ai-chat');
  });

  flow('chat: Stop aborts a long answer', async () => {
    await page.getByTestId('chat-clear').click();
    await page.getByTestId('chat-max-tokens').fill('');
    await page.getByTestId('chat-input').fill('Write a very long story about a lighthouse keeper, in many chapters.');
    await watchAssistant(page);
    await page.getByTestId('chat-send').click();
    await eventually('the first delta', async () => (await page.evaluate(() => window.__texts.filter((t) => t && t !== '…').length)) > 0, ANSWER_TIMEOUT);
    await page.getByTestId('chat-stop').click();
    await page.getByTestId('chat-stopped').waitFor();
    assert.equal(await page.getByTestId('chat-done').count(), 0, 'the answer ended by itself instead of being stopped');
    await page.getByTestId('chat-send').waitFor();
    await screenshot(page, 'ai-chat-stopped');
    // The model is free again: the next question is answered.
    await page.getByTestId('chat-max-tokens').fill('8');
    await page.getByTestId('chat-input').fill('Say hello.');
    await page.getByTestId('chat-send').click();
    await page.getByTestId('chat-done').waitFor({ timeout: ANSWER_TIMEOUT });
  });

  flow('router: the provider, its health and the decisions with their reasons', async () => {
    await page.getByTestId('nav-ai-router').click();
    await page.getByTestId('page-ai-router').waitFor();
    const row = page.locator('[data-testid="ai-provider-row"][data-provider="openai"]');
    await row.waitFor();
    await eventually('the provider probed healthy', async () => /healthy/.test(await row.textContent()));
    const decisions = page.getByTestId('ai-decision');
    await eventually('decisions', async () => (await decisions.count()) >= 2);
    assert.match(await decisions.first().textContent(), new RegExp(`openai/${LLAMA_MODEL}`));
    await screenshot(page, 'ai-router');
  });

  flow('modes: built-in ones are read-only; a custom mode is created and deleted', async () => {
    await page.getByTestId('nav-ai-modes').click();
    await page.getByTestId('page-ai-modes').waitFor();
    const builtin = page.locator('[data-testid="mode-row"][data-builtin="true"]');
    await builtin.first().waitFor();
    assert.equal(await builtin.getByTestId('mode-edit').count(), 0);
    assert.equal(await builtin.getByTestId('mode-delete').count(), 0);
    await page.getByTestId('mode-new').click();
    await page.getByTestId('mode-name').fill('careful');
    await page.getByTestId('mode-write').selectOption('refuse');
    await page.getByTestId('mode-tools').fill('restart_container=maybe');
    await page.getByTestId('mode-submit').click();
    await page.getByTestId('mode-dialog').locator('.field-invalid').waitFor();
    await page.getByTestId('mode-tools').fill('list_containers=ask');
    await screenshot(page, 'ai-mode-editor');
    await page.getByTestId('mode-submit').click();
    const row = page.locator('[data-testid="mode-row"][data-name="careful"]');
    await row.waitFor();
    assert.match(await row.textContent(), /list_containers: ask/);
    const stored = await api(master.base, 'GET', '/api/ai/modes?limit=500', { token: adminToken });
    assert.deepEqual(
      (({ read, write, tools }) => ({ read, write, tools }))(stored.json.items.find((m) => m.name === 'careful')),
      { read: 'run', write: 'refuse', tools: { list_containers: 'ask' } },
    );
    await screenshot(page, 'ai-modes');
    await row.getByTestId('mode-delete').click();
    await page.getByTestId('confirm-submit').click();
    await row.waitFor({ state: 'detached' });
  });

  flow('MCP: the Python SDK server registered over stdio, probed, its tools listed and test-fired', async () => {
    await page.getByTestId('nav-ai-mcp').click();
    await page.getByTestId('page-ai-mcp').waitFor();
    await page.getByTestId('mcp-server-new').click();
    await page.getByTestId('mcp-server-name').fill('pytest');
    await page.getByTestId('mcp-server-command').fill(pythonOfVenv());
    await page.getByTestId('mcp-server-args').fill(`${MCP_TEST_SERVER} stdio`);
    await screenshot(page, 'ai-mcp-register');
    await page.getByTestId('mcp-server-submit').click();
    const row = page.locator('[data-testid="mcp-server-row"][data-name="pytest"]');
    await row.waitFor({ timeout: ANSWER_TIMEOUT });
    // A cold Python start on a busy machine can miss the master's 10 s initialize timeout: the
    // probe is asked again (at most three times), as a person would.
    const health = row.getByTestId('mcp-server-health');
    for (let attempt = 1; ; attempt++) {
      await row.getByTestId('mcp-server-probe').click();
      await eventually('a probe answer', async () => (await health.count()) === 1 && (await health.getAttribute('data-reachable')) !== null, ANSWER_TIMEOUT);
      if ((await health.getAttribute('data-reachable')) === 'true' || attempt === 3) break;
    }
    assert.equal(await health.getAttribute('data-reachable'), 'true', await health.textContent());
    assert.match(await health.textContent(), /cb-test-tools 1\.2\.3/);
    for (const tool of ['pytest__add', 'pytest__echo']) await page.locator(`[data-testid="mcp-tool-row"][data-name="${tool}"]`).waitFor();
    await screenshot(page, 'ai-mcp');

    await page.locator('[data-testid="mcp-tool-row"][data-name="pytest__echo"]').getByTestId('mcp-tool-test').click();
    const args = page.getByTestId('mcp-test-arguments');
    await args.fill('{"shout": true}');
    await page.getByTestId('mcp-test-submit').click();
    await page.getByTestId('mcp-test-dialog').locator('.field-invalid').filter({ hasText: 'text' }).waitFor();
    await args.fill('{"text": "hello from the page", "shout": true}');
    await page.getByTestId('mcp-test-submit').click();
    const result = page.getByTestId('mcp-test-result');
    await result.waitFor({ timeout: ANSWER_TIMEOUT });
    assert.equal(await result.getAttribute('data-error'), 'false');
    assert.match(await result.textContent(), /HELLO FROM THE PAGE/);
    await screenshot(page, 'ai-mcp-test-fire');
    await page.getByTestId('mcp-test-dialog').getByRole('button', { name: 'Close', exact: true }).last().click();
    await page.getByTestId('mcp-test-dialog').waitFor({ state: 'detached' });
  });

  flow('a viewer may chat and read, but sees no write buttons', async () => {
    const created = await api(master.base, 'POST', '/api/users', { token: adminToken, body: { ...VIEWER, role: 'viewer' } });
    assert.equal(created.status, 201, created.text);
    const vctx = await newContext();
    try {
      const vp = await vctx.newPage();
      await uiLogin(vp, VIEWER);
      await vp.getByTestId('nav-ai-chat').click();
      await vp.getByTestId('chat-send').waitFor();
      await vp.getByTestId('nav-ai-modes').click();
      await vp.getByTestId('mode-row').first().waitFor();
      assert.equal(await vp.getByTestId('mode-new').count(), 0);
      await vp.getByTestId('nav-ai-mcp').click();
      await vp.locator('[data-testid="mcp-server-row"][data-name="pytest"]').waitFor();
      for (const id of ['mcp-server-new', 'mcp-server-edit', 'mcp-server-delete', 'mcp-tool-test']) {
        assert.equal(await vp.getByTestId(id).count(), 0, `${id} shown to a viewer`);
      }
      assert.equal(await vp.getByTestId('mcp-server-probe').count(), 1, 'a viewer may probe');
      await screenshot(vp, 'ai-mcp-viewer');
    } finally {
      await vctx.close();
    }
  });

  flow('the MCP server is removed', async () => {
    const row = page.locator('[data-testid="mcp-server-row"][data-name="pytest"]');
    await row.getByTestId('mcp-server-delete').click();
    await page.getByTestId('confirm-submit').click();
    await row.waitFor({ state: 'detached' });
    await page.locator('[data-testid="mcp-tool-row"][data-name="pytest__echo"]').waitFor({ state: 'detached' });
  });
});
