// The Juzi sidebar in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core, against a running gateway whose sandbox simulator plays Juzi and WeCom.
// A stub `wx` object (addInitScript) stands in for juzi-helper; the real helper scripts are
// never fetched (every request off 127.0.0.1 is answered locally or aborted).
//
// Env: GATEWAY (http://127.0.0.1:PORT), DEMO_SECRET (a caller with send/read/recall),
// ARTIFACTS (folder for the screenshot). Prints "N passed, N failed"; exits 1 on failure.

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

// The simulator's default Juzi account (001 lines 121-129) and the contract's sample chat.
const BOT = '647844cd6059597fc5c79f38';
const CHAT = 'wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA';
const WAIT = { timeout: 15000 };

const rest = restAs(GATEWAY, SECRET);

async function post(message) {
  const m = await rest('POST', '/v1/messages', message);
  assert.equal(m.deliveries[0].status, 'awaiting_agent');
  return { message: m.id, delivery: m.deliveries[0].id };
}

async function deliveryOf(messageId) {
  return (await rest('GET', `/v1/messages/${messageId}`)).deliveries[0];
}

/** Keeps the browser on loopback: helper scripts are answered with an empty script. */
async function loopbackOnly(context) {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    if (url.pathname.endsWith('.js')) {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: '/* not loaded in tests */' });
    }
    return route.abort();
  });
}

/** juzi-helper's stand-in: getCurChatInfo answers the chat, invoke records and answers. */
function juziStub({ chat, bot }) {
  const calls = [];
  const results = [];
  window.__juzi = { calls, results };
  const juziWx = {
    isJuziWx: true,
    getCurChatInfo(opts) {
      setTimeout(() => opts.success({
        Id: 'conv-1', name: 'Ops customers', type: 1, external: true, wxChatId: chat,
        botId: bot, botName: 'Ops bot', botStatus: 2, botType: 2, jzGroupId: 'g1', jzUserId: 'u1',
      }), 0);
    },
    invoke(name, params, cb) {
      calls.push({ name, params: JSON.parse(JSON.stringify(params)) });
      const err_msg = results.length ? results.shift() : `${name}:ok`;
      setTimeout(() => cb({ err_msg }), 10);
    },
  };
  window.juziWx = juziWx;
  window.wx = juziWx;
}

/** WECOM-JSSDK's stand-in for the native client (no juzi-helper): register and send. */
function wwStub({ chat }) {
  const state = { registered: null, config: null, agentConfig: null, sent: [] };
  window.__ww = state;
  window.ww = {
    register(opts) {
      state.registered = { corpId: opts.corpId, agentId: opts.agentId, jsApiList: opts.jsApiList };
      const url = location.href.split('#')[0];
      Promise.resolve(opts.getConfigSignature(url)).then((s) => { state.config = s; });
      Promise.resolve(opts.getAgentConfigSignature(url)).then((s) => { state.agentConfig = s; });
    },
    getCurExternalChat() { return Promise.resolve({ errMsg: 'getCurExternalChat:ok', chatId: chat }); },
    getCurExternalContact() { return Promise.reject({ errMsg: 'getCurExternalContact:fail' }); },
    sendChatMessage(p) { state.sent.push(p); return Promise.resolve({ errMsg: 'sendChatMessage:ok' }); },
  };
}

const executablePath = '/usr/bin/chromium';
const dataDirs = [];
/** A fresh browser (its own --user-data-dir, as playwright passes it) with one context. */
async function launch(viewport) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-sidebar-chromium-'));
  dataDirs.push(userDataDir);
  return chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // No name lookups leave the machine; the tests use 127.0.0.1 only.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
}
const open = [];

try {
  const text = await post({
    title: 'Disk almost full', content: 'db-3 /var at 95%',
    targets: [{ channel: 'juzi', chat_id: CHAT }],
  });
  const news = await post({
    title: 'Runbook: db-3 disk', content: 'Free space on /var', url: 'https://ops.example/runbook/db3',
    targets: [{ channel: 'juzi', chat_id: CHAT, bot_id: BOT }],
  });
  const elsewhere = await post({ content: 'another chat', targets: [{ channel: 'juzi', chat_id: 'wrSomewhereElse' }] });
  const otherBot = await post({ content: 'another bot', targets: [{ channel: 'juzi', chat_id: CHAT, bot_id: 'another-bot' }] });

  const context = await launch({ width: 400, height: 640 });
  open.push(context);
  await loopbackOnly(context);
  await context.addInitScript(juziStub, { chat: CHAT, bot: BOT });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  await check('an agent without a session signs in through the Juzi OAuth and gets the page', async () => {
    const seen = [];
    page.on('request', (r) => { if (r.isNavigationRequest()) seen.push(new URL(r.url()).pathname); });
    await page.goto(`${GATEWAY}/sidebar/`);
    assert.ok(seen.includes('/oauth/connect/authorize'), `navigations: ${seen.join(' ')}`);
    assert.ok(seen.includes('/sidebar/oauth/callback'), `navigations: ${seen.join(' ')}`);
    assert.equal(new URL(page.url()).pathname, '/sidebar/');
    await page.waitForFunction(() => /bot /.test(document.getElementById('agent').textContent), null, WAIT);
    assert.match(await page.textContent('#agent'), new RegExp(BOT));
    const cookies = await context.cookies(`${GATEWAY}/sidebar/`);
    const session = cookies.find((c) => c.name === 'notify_sidebar');
    assert.ok(session && session.httpOnly && session.sameSite === 'Lax', JSON.stringify(cookies));
  });

  await check("the open chat's waiting messages are listed with previews, and only those", async () => {
    await page.waitForSelector(`li[data-id="${text.delivery}"]`, WAIT);
    await page.waitForSelector(`li[data-id="${news.delivery}"]`, WAIT);
    const ids = await page.$$eval('#list li', (els) => els.map((e) => e.dataset.id));
    assert.deepEqual(ids.sort(), [text.delivery, news.delivery].sort());
    // This channel has auto_send off: nothing leaves before a click.
    const states = await page.$$eval('#list li', (els) => els.map((e) => e.dataset.status));
    assert.deepEqual(states, ['waiting', 'waiting']);
    assert.deepEqual(await page.evaluate(() => window.__juzi.calls), []);
    assert.ok(!ids.includes(elsewhere.delivery) && !ids.includes(otherBot.delivery));
    const preview = await page.textContent(`li[data-id="${text.delivery}"] .preview`);
    assert.equal(preview, 'Disk almost full\ndb-3 /var at 95%');
    assert.match(await page.textContent(`li[data-id="${news.delivery}"] .preview`), /Runbook: db-3 disk/);
    assert.match(await page.textContent('#chat'), new RegExp(CHAT));
  });

  await check("clicking send calls sendChatMessage with exactly the document's TextMsg shape", async () => {
    await page.click(`li[data-id="${text.delivery}"] button.send`);
    await page.waitForSelector(`li[data-id="${text.delivery}"][data-status="sent"]`, WAIT);
    const calls = await page.evaluate(() => window.__juzi.calls);
    assert.deepEqual(calls[0], {
      name: 'sendChatMessage',
      params: { msgtype: 'text', text: { content: 'Disk almost full\ndb-3 /var at 95%' } },
    });
  });

  await check('the delivery turns sent (REST API)', async () => {
    const d = await deliveryOf(text.message);
    assert.equal(d.status, 'sent');
  });

  await check('a failure reason (url is empty) shows as failed, on the page and in the API', async () => {
    await page.evaluate(() => window.__juzi.results.push('url is empty'));
    await page.click(`li[data-id="${news.delivery}"] button.send`);
    await page.waitForSelector(`li[data-id="${news.delivery}"][data-status="failed"]`, WAIT);
    assert.match(await page.textContent(`li[data-id="${news.delivery}"] .state`), /failed: url is empty/);
    const calls = await page.evaluate(() => window.__juzi.calls);
    assert.deepEqual(calls[1], {
      name: 'sendChatMessage',
      params: {
        msgtype: 'news',
        news: { link: 'https://ops.example/runbook/db3', title: 'Runbook: db-3 disk', desc: 'Free space on /var' },
      },
    });
    const d = await deliveryOf(news.message);
    assert.equal(d.status, 'failed');
    assert.equal(d.last_error, 'url is empty');
  });

  await check('the page raised no script errors', async () => {
    assert.deepEqual(pageErrors, []);
  });

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'sidebar.png'), fullPage: true });
  await context.close();

  await check('native WeCom: ww.register gets server-side signatures and the page sends with ww', async () => {
    const plain = await post({ content: 'sent from native WeCom', targets: [{ channel: 'juzi', chat_id: CHAT }] });
    const native = await launch({ width: 400, height: 640 });
    open.push(native);
    await loopbackOnly(native);
    await native.addInitScript(wwStub, { chat: CHAT });
    const p = native.pages()[0] || await native.newPage();
    await p.goto(`${GATEWAY}/sidebar/`);
    await p.waitForSelector(`li[data-id="${plain.delivery}"]`, WAIT);
    await p.waitForFunction(() => window.__ww.config && window.__ww.agentConfig, null, WAIT);
    const ww = await p.evaluate(() => window.__ww);
    assert.equal(ww.registered.corpId, 'sandbox-corp');
    assert.equal(ww.registered.agentId, 1000002);
    for (const s of [ww.config, ww.agentConfig]) {
      assert.deepEqual(Object.keys(s).sort(), ['nonceStr', 'signature', 'timestamp']);
      assert.match(s.signature, /^[0-9a-f]{40}$/);
    }
    await p.click(`li[data-id="${plain.delivery}"] button.send`);
    await p.waitForSelector(`li[data-id="${plain.delivery}"][data-status="sent"]`, WAIT);
    const sent = await p.evaluate(() => window.__ww.sent);
    assert.deepEqual(sent, [{ msgtype: 'text', text: { content: 'sent from native WeCom' } }]);
    assert.equal((await deliveryOf(plain.message)).status, 'sent');
    await native.close();
  });

  await check('auto_send: the page sends every waiting message of the chat without a click, oldest first', async () => {
    const first = await post({ content: 'auto one', targets: [{ channel: 'juzi-auto', chat_id: CHAT }] });
    const second = await post({ title: 'Auto two', content: 'second', targets: [{ channel: 'juzi-auto', chat_id: CHAT }] });
    const auto = await launch({ width: 400, height: 640 });
    open.push(auto);
    await loopbackOnly(auto);
    await auto.addInitScript(juziStub, { chat: CHAT, bot: BOT });
    const p = auto.pages()[0] || await auto.newPage();
    await p.goto(`${GATEWAY}/sidebar/?channel=juzi-auto`);
    await p.waitForSelector(`li[data-id="${first.delivery}"][data-status="sent"]`, WAIT);
    await p.waitForSelector(`li[data-id="${second.delivery}"][data-status="sent"]`, WAIT);
    const calls = await p.evaluate(() => window.__juzi.calls);
    assert.deepEqual(calls, [
      { name: 'sendChatMessage', params: { msgtype: 'text', text: { content: 'auto one' } } },
      { name: 'sendChatMessage', params: { msgtype: 'text', text: { content: 'Auto two\nsecond' } } },
    ]);
    assert.equal((await deliveryOf(first.message)).status, 'sent');
    assert.equal((await deliveryOf(second.message)).status, 'sent');
    await auto.close();
  });
} catch (e) {
  fail('setup', e);
} finally {
  for (const c of open) await c.close().catch(() => {});
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
}

finish();
