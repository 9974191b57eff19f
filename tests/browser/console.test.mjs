// The admin console (/console/) in a real browser: headless Chromium (Debian's /usr/bin/chromium)
// driven by playwright-core, against a gateway started in sandbox mode (its in-process simulator
// plays every upstream). Signs in with the demo admin key (a wrong one is refused), finds a
// message sent in the sandbox, opens its timeline, recalls it and sees the status change, sees
// a lane's chart after 300 sends, checks that a change without the CSRF header is refused and
// that no request leaves for another host. The Alerts view shows an alert made in the sandbox
// (a lead and two suppressed repeats) and opens it; a person added in the People view is
// listed, and a group naming an unknown person shows the API's 422 beside its members; the
// Acknowledge button on a message with an escalation step acknowledges it as the signed-in
// admin and the page shows who, with the step cancelled.
//
// Env: GATEWAY (http://127.0.0.1:PORT), DEMO_SECRET (the secret of access key "demo", an admin),
// ARTIFACTS (folder for the screenshots: console-signin.png, console-now.png,
// console-now-phone.png, console-now-zh.png, console-messages.png, console-message.png,
// console-alerts.png, console-alert.png, console-people.png, console-ack.png).
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
const TITLE = `Console check ${Date.now()}: disk almost full`;
const LANE = 'welink:sandbox-welink|/messages/v2/card/common';
const RUN = Date.now();
const ALERT_KEY = `console-${RUN}/db-3 disk`;
const PERSON = `console-zhangsan-${RUN}`;
const GROUP = `console-oncall-${RUN}`;

const rest = restAs(GATEWAY, SECRET);

async function until(what, fn) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-console-chromium-'));
let context;
const offHost = [];
const pageErrors = [];
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  // Every request is looked at: one for another host is recorded and never sent.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    offHost.push(url.href);
    return route.abort();
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // 401/403 (sign-in and CSRF checks) and 422 (the group form's check) are expected answers.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (40[13]|422)/.test(m.text())) pageErrors.push(m.text()); });
  // Confirmations are accepted; the acknowledge prompt with the name it offers.
  page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(d.defaultValue()) : d.accept()));

  const sent = await rest('POST', '/v1/messages', {
    title: TITLE, content: 'db-3 /var at 95%', targets: [{ channel: 'welink', users: ['zhangsan@welink'] }],
  });
  await until('the message to be sent', async () => (await rest('GET', `/v1/messages/${sent.id}`)).status === 'sent');

  await check('a wrong key is refused and sets no session', async () => {
    await page.goto(`${GATEWAY}/console/`);
    await page.locator('#signin-form').waitFor(WAIT);
    await page.fill('#access-key', 'demo');
    await page.fill('#secret-key', 'not-the-secret');
    await page.click('#signin-submit');
    await page.locator('#signin-error').waitFor({ state: 'visible', ...WAIT });
    assert.match(await page.locator('#signin-error').textContent(), /refused/i);
    assert.equal((await context.cookies()).filter((c) => c.name === 'notify_console').length, 0);
    assert.equal(await page.locator('#nav').isVisible(), false);
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-signin.png') });

  await check('the demo admin signs in to an HttpOnly, SameSite=Strict session', async () => {
    await page.fill('#access-key', 'demo');
    await page.fill('#secret-key', SECRET);
    await page.click('#signin-submit');
    await page.locator('#nav').waitFor({ state: 'visible', ...WAIT });
    const cookie = (await context.cookies()).find((c) => c.name === 'notify_console');
    assert.ok(cookie, 'session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/console');
    assert.equal(await page.evaluate(() => document.cookie.includes('notify_console')), false);
  });

  await check('the message sent in the sandbox is found by its title', async () => {
    await page.click('#tab-messages');
    await page.fill('#s-q', TITLE);
    await page.click('#search button[type=submit]');
    const row = page.locator(`#results tr[data-id="${sent.id}"]`);
    await row.waitFor(WAIT);
    assert.match(await row.textContent(), /sent/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-messages.png') });
    await row.click();
  });

  await check('its page shows the delivery, its part and the upstream call on a timeline', async () => {
    await page.locator('#message-status').waitFor(WAIT);
    assert.equal(await page.locator('#message-status').textContent(), 'sent');
    const delivery = page.locator(`.delivery[data-delivery="${sent.deliveries[0].id}"]`);
    await delivery.waitFor(WAIT);
    const attempt = delivery.locator('.timeline li').first();
    await attempt.waitFor(WAIT);
    const text = await attempt.textContent();
    assert.match(text, /\/messages\/v2\/card\/common/);
    assert.match(text, /HTTP 200/);
    assert.match(await delivery.locator('table').textContent(), /done/);
  });

  await check('a change without the CSRF header is refused', async () => {
    const status = await page.evaluate(async (id) => {
      const r = await fetch(`/console/api/v1/messages/${id}/recall`, { method: 'POST', credentials: 'same-origin' });
      return r.status;
    }, sent.id);
    assert.equal(status, 403);
    assert.equal((await rest('GET', `/v1/messages/${sent.id}`)).status, 'sent', 'nothing recalled');
  });

  await check('Recall recalls it and the page shows the new status', async () => {
    await page.click('#recall');
    await page.locator('#action-result').waitFor({ state: 'visible', ...WAIT });
    assert.match(await page.locator('#action-result').textContent(), /Done/);
    await page.waitForFunction(() => /recall/.test(document.getElementById('message-status').textContent), null, WAIT);
    await page.waitForFunction(() => document.getElementById('message-status').textContent === 'recalled', null, WAIT);
    assert.equal((await rest('GET', `/v1/messages/${sent.id}`)).status, 'recalled');
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-message.png'), fullPage: true });

  await check('the Alerts view lists an alert made in the sandbox with its suppressed repeats, and opens it', async () => {
    // One after another: the first leads, the two repeats inside the window are suppressed.
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const m = await rest('POST', '/v1/messages', {
        title: `Disk almost full (${i})`, content: 'db-3 /var at 95%',
        targets: [{ channel: 'log', users: ['oncall'] }],
        alert: { key: ALERT_KEY, status: 'firing' },
      });
      ids.push(m.id);
    }
    await page.click('#tab-alerts');
    const row = page.locator(`#alert-list tr[data-key="${ALERT_KEY}"]`);
    await row.waitFor(WAIT);
    assert.equal(await row.locator('td.n-suppressed').textContent(), '2');
    assert.match(await row.textContent(), /firing/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-alerts.png'), fullPage: true });
    await row.click();
    await page.locator('#alert-status').waitFor(WAIT);
    assert.equal(await page.locator('#alert-suppressed').textContent(), '2');
    assert.equal(await page.locator('#alert-messages tr.row').count(), 3);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-alert.png'), fullPage: true });
    // A suppressed message's page says which message went out in its place.
    await page.locator(`#alert-messages tr[data-id="${ids[2]}"]`).click();
    await page.locator('#suppressed-into').waitFor(WAIT);
    assert.equal(await page.locator('#message-status').textContent(), 'suppressed');
    assert.match(await page.locator('#suppressed-into').textContent(), new RegExp(ids[0]));
  });

  await check('a person added in the People view is listed; a group shows the API\'s 422 by field', async () => {
    await page.click('#tab-people');
    await page.locator('#person-form').waitFor(WAIT);
    await page.fill('#p-id', PERSON);
    await page.fill('#p-name', 'Zhang San');
    await page.fill('#p-welink', 'zhangsan@welink');
    await page.click('#person-save');
    const row = page.locator(`#people-list tr[data-person="${PERSON}"]`);
    await row.waitFor(WAIT);
    assert.match(await row.textContent(), /zhangsan@welink/);
    assert.equal((await rest('GET', `/v1/people/${PERSON}`)).welink, 'zhangsan@welink');
    // A member the directory does not hold: the 422 shows beside the members.
    await page.fill('#g-name', GROUP);
    await page.fill('#g-members', `${PERSON}, ghost-${RUN}`);
    await page.click('#group-save');
    const err = page.locator('#group-form .field-error[data-field="members"]');
    await err.waitFor({ state: 'visible', ...WAIT });
    assert.match(await err.textContent(), /members\[1\].*unknown_person/);
    await page.fill('#g-members', PERSON);
    await page.click('#group-save');
    await page.locator(`#group-list tr[data-group="${GROUP}"]`).waitFor(WAIT);
    assert.equal(await err.isVisible(), false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-people.png'), fullPage: true });
  });

  await check('Acknowledge on a message with an escalation step shows who acknowledged', async () => {
    // The step is an hour away: pending until the acknowledgement cancels it.
    const m = await rest('POST', '/v1/messages', {
      title: `Console ack ${RUN}: db-3 down`, content: 'primary unreachable',
      targets: [{ channel: 'log', users: ['oncall'] }],
      escalation: [{ after: '1h', targets: [{ channel: 'log', users: ['boss'] }] }],
    });
    await page.evaluate((id) => { location.hash = '#message/' + encodeURIComponent(id); }, m.id);
    await page.locator('.delivery .escalation[data-state="pending"]').waitFor(WAIT);
    await page.click('#ack');
    await page.locator('#action-result').waitFor({ state: 'visible', ...WAIT });
    assert.match(await page.locator('#action-result').textContent(), /Done.*demo/);
    await page.locator('#acknowledged-by').waitFor(WAIT);
    assert.equal(await page.locator('#acknowledged-by').textContent(), 'demo');
    await page.locator('.delivery .escalation[data-state="cancelled"]').waitFor(WAIT);
    assert.equal((await rest('GET', `/v1/messages/${m.id}`)).acknowledged_by, 'demo');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-ack.png'), fullPage: true });
  });

  await check("a lane's chart shows 300 sends against its cap", async () => {
    for (let i = 0; i < 300; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, j) => rest('POST', '/v1/messages', {
        title: `Load ${i + j}`, content: 'chart check', targets: [{ channel: 'welink', users: [`user${i + j}@welink`] }],
      })));
    }
    await until('300 calls', async () => {
      const ch = (await rest('GET', '/v1/channels')).channels.find((c) => c.name === 'welink');
      const lane = ch.lanes.find((l) => l.lane === LANE);
      return lane && lane.calls_last_minute >= 300;
    });
    await page.click('#tab-now');
    const chart = page.locator(`.channel[data-channel="welink"] .lane[data-lane="${LANE}"] svg.chart`);
    await chart.waitFor(WAIT);
    await page.waitForFunction((lane) => {
      const svg = document.querySelector(`.channel[data-channel="welink"] .lane[data-lane="${lane}"] svg.chart`);
      const n = svg && Number((svg.getAttribute('aria-label').match(/(\d+) calls/) || [])[1]);
      return n >= 301;
    }, LANE, WAIT);
    assert.ok(await chart.locator('rect.bar').count() >= 1);
    assert.equal(await chart.locator('line.cap').count(), 2, 'the per-minute and per-second caps');
    assert.ok(Number(await page.locator('#n-accepted').textContent()) >= 301);
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-now.png'), fullPage: true });

  await check('the labels switch to Chinese', async () => {
    await page.click('#lang');
    assert.equal(await page.locator('#tab-now').textContent(), '实时');
    await page.locator('.lane h3').first().waitFor(WAIT);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-now-zh.png') });
    await page.click('#lang');
    assert.equal(await page.locator('#tab-now').textContent(), 'Now');
  });

  await check('the Now view fits a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-now-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await check('sign-out ends the session', async () => {
    await page.click('#sign-out');
    await page.locator('#signin-form').waitFor({ state: 'visible', ...WAIT });
    const status = await page.evaluate(async () => (await fetch('/console/api/session')).status);
    assert.equal(status, 401);
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
