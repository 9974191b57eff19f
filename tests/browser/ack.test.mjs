// The acknowledge link's page (/ack/{token}) in a real browser: headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core, against a gateway started in sandbox mode. Sends
// a message with an escalation step, opens its ack_url: the alert shows, opening it did not
// acknowledge (checked through the API), the Acknowledge button with a typed name does (checked
// through the API: who, and the step cancelled), and the page then says who acknowledged. No
// request leaves for another host, and there is no CSP violation.
//
// Env: GATEWAY (http://127.0.0.1:PORT), DEMO_SECRET (the secret of access key "demo"),
// ARTIFACTS (folder for the screenshots: ack-open.png, ack-done.png).
// Prints "N passed, N failed"; exits 1 on failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { check, fail, finish, restAs } from './harness.mjs';

const GATEWAY = process.env.GATEWAY;
const SECRET = process.env.DEMO_SECRET;
const ARTIFACTS = process.env.ARTIFACTS || path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
if (!GATEWAY || !SECRET) {
  console.error('GATEWAY and DEMO_SECRET must be set (tests/browser/run.sh sets them)');
  process.exit(2);
}
const WAIT = { timeout: 20000 };
const TITLE = `Ack check ${Date.now()}: db-3 down`;

const rest = restAs(GATEWAY, SECRET);

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-ack-chromium-'));
let context;
const offHost = [];
const pageErrors = [];
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 420, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    offHost.push(url.href);
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The forged link's 404 is expected; anything else (a CSP violation, say) is not.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 404/.test(m.text())) pageErrors.push(m.text()); });

  // The step is an hour away: it is pending for the whole test.
  const sent = await rest('POST', '/v1/messages', {
    title: TITLE, content: 'primary unreachable for 2 min',
    targets: [{ channel: 'log', users: ['oncall'] }],
    escalation: [{ after: '1h', targets: [{ channel: 'log', users: ['boss'] }] }],
  });
  assert.ok(sent.ack_url, 'a message with escalation has an acknowledge link');

  await check('the link shows the alert and an Acknowledge button', async () => {
    const res = await page.goto(sent.ack_url);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'], /default-src 'none'/);
    await page.locator('#ack').waitFor(WAIT);
    assert.equal(await page.locator('#title').textContent(), TITLE);
    assert.equal(await page.locator('#content').textContent(), 'primary unreachable for 2 min');
    assert.match(await page.locator('#ack').textContent(), /Acknowledge/);
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'ack-open.png') });

  await check('opening the link acknowledged nothing', async () => {
    const m = await rest('GET', `/v1/messages/${sent.id}`);
    assert.equal(m.acknowledged_by, undefined);
    assert.equal(m.deliveries[1].escalation.state, 'pending');
  });

  await check('the button acknowledges as the name typed and cancels the pending step', async () => {
    await page.fill('#by', '张三');
    await Promise.all([page.waitForURL(sent.ack_url, WAIT), page.click('#ack')]);
    await page.locator('#acknowledged').waitFor(WAIT);
    assert.match(await page.locator('#acknowledged').textContent(), /Acknowledged by 张三/);
    assert.equal(await page.locator('#ack').count(), 0);
    const m = await rest('GET', `/v1/messages/${sent.id}`);
    assert.equal(m.acknowledged_by, '张三');
    assert.ok(m.acknowledged_at);
    assert.deepEqual(m.deliveries[1].escalation.state, 'cancelled');
    assert.deepEqual(m.deliveries[1].escalation.reason, 'acknowledged');
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'ack-done.png') });

  await check('a forged link is a 404', async () => {
    const res = await page.goto(sent.ack_url.slice(0, -2) + 'xx');
    assert.equal(res.status(), 404);
  });

  await check('no request left for another host, and no script error or CSP violation', async () => {
    assert.deepEqual(offHost, []);
    assert.deepEqual(pageErrors, []);
  });
} catch (e) {
  fail('setup', e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

finish();
