// The sandbox's pages in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core, against a gateway started in sandbox mode (its in-process simulator plays
// every upstream). Checks the recipients' view (a WeLink card, a WeCom text card, a Xiaowei
// reminder drawn from the exact bodies, markup in a body shown as text) and a simulated Juzi
// chat: the gateway's real sidebar embedded in the simulator's page, signed in through the
// simulator's Juzi OAuth, sending a waiting message that then shows in the chat.
//
// Env: GATEWAY (http://127.0.0.1:PORT), SIMULATOR (the sandbox simulator, http://127.0.0.1:PORT),
// DEMO_SECRET (a caller with send/read), ARTIFACTS (folder for the screenshots).
// Prints "N passed, N failed"; exits 1 on failure.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { check, fail, finish, restAs } from './harness.mjs';

const GATEWAY = process.env.GATEWAY;
const SIMULATOR = process.env.SIMULATOR;
const SECRET = process.env.DEMO_SECRET;
const ARTIFACTS = process.env.ARTIFACTS || path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts');
if (!GATEWAY || !SIMULATOR || !SECRET) {
  console.error('GATEWAY, SIMULATOR and DEMO_SECRET must be set (tests/browser/run.sh sets them)');
  process.exit(2);
}

const CHAT = 'wrSandboxChatAAAA';
const WAIT = { timeout: 15000 };
// The Juzi text payload of the alert below: title, content and url, one a line.
const JUZI_TEXT = 'Disk almost full\ndb-3 /var at 95%\nhttps://ops.example/runbook/db3';
const EVIL = '<img src=x onerror="window.__pwned=1">';

const rest = restAs(GATEWAY, SECRET);

function deliveryTo(message, channel) {
  const d = message.deliveries.find((x) => x.channel === channel);
  assert.ok(d, `no ${channel} delivery in ${JSON.stringify(message)}`);
  return d;
}

/** Waits until the simulator has recorded a call to each of `paths` (the workers send them). */
async function upstreamCalls(paths) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const { calls } = await (await fetch(`${SIMULATOR}/_sim/calls`)).json();
    if (paths.every((p) => calls.some((c) => c.path === p && c.status === 200))) return calls;
    if (Date.now() > deadline) throw new Error(`no calls to ${paths} in ${JSON.stringify(calls.map((c) => c.path))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dataDirs = [];
const open = [];
async function launch(viewport) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-sandbox-chromium-'));
  dataDirs.push(userDataDir);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
  open.push(context);
  // Keeps the browser on loopback: the sidebar's helper scripts get an empty script.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    if (url.pathname.endsWith('.js')) {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: '/* not loaded in tests */' });
    }
    return route.abort();
  });
  return context;
}

try {
  const alert = await rest('POST', '/v1/messages', {
    title: 'Disk almost full', content: 'db-3 /var at 95%', url: 'https://ops.example/runbook/db3',
    targets: [
      { channel: 'welink', users: ['zhangsan@welink'] },
      { channel: 'wecom', users: ['zhangsan'] },
      { channel: 'xiaowei', users: ['zhangsan'] },
      { channel: 'juzi', chat_id: CHAT, type: 'text' },
    ],
  });
  const juzi = deliveryTo(alert, 'juzi');
  assert.equal(juzi.status, 'awaiting_agent');
  await rest('POST', '/v1/messages', {
    title: EVIL, content: `content ${EVIL}`, targets: [{ channel: 'wecom', users: ['lisi'] }],
  });
  await upstreamCalls(['/api/messages/v2/card/common', '/cgi-bin/message/send', '/api/athenaservice/v1/contextaware/push']);

  const context = await launch({ width: 1280, height: 900 });
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  await check("the recipients' view draws the WeLink card, the WeCom text card and the Xiaowei reminder", async () => {
    await page.goto(`${SIMULATOR}/_sim/recipients`);
    const card = page.locator('article[data-path="/api/messages/v2/card/common"]').first();
    await card.waitFor(WAIT);
    assert.equal(await card.locator('header strong').textContent(), 'WeLink card');
    assert.equal(await card.locator('.screen .title').textContent(), 'Disk almost full');
    assert.equal(await card.locator('.screen .content').textContent(), 'db-3 /var at 95%');
    assert.match(await card.locator('.screen .owner').textContent(), /Notify/);
    assert.match(await card.locator('.screen .link').textContent(), /https:\/\/ops\.example\/runbook\/db3/);
    assert.match(await card.locator('header').textContent(), /to zhangsan@welink/);
    // The drawing comes from the exact body, which is there too.
    const body = JSON.parse(await card.locator('details pre').textContent());
    assert.equal(body.msgTitle, 'Disk almost full');

    const wecom = page.locator('article[data-path="/cgi-bin/message/send"]', { hasText: 'db-3 /var at 95%' }).first();
    assert.equal(await wecom.locator('header strong').textContent(), 'WeCom app message · textcard');
    assert.equal(await wecom.locator('.screen .title').textContent(), 'Disk almost full');
    assert.match(await wecom.locator('.screen .cardlink').textContent(), /详情/);

    const xiaowei = page.locator('article[data-path="/api/athenaservice/v1/contextaware/push"]').first();
    assert.equal(await xiaowei.locator('.screen .title').textContent(), 'Disk almost full');
    assert.match(await xiaowei.locator('.screen').textContent(), /shown until \d{4}-\d\d-\d\d/);
  });

  await check('markup in a body is shown as text, never run', async () => {
    const evil = page.locator('article[data-path="/cgi-bin/message/send"]', { hasText: 'content <img' }).first();
    await evil.waitFor(WAIT);
    assert.match(await evil.locator('.screen').textContent(), /<img src=x onerror=/);
    assert.equal(await page.locator('article img').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'sandbox-recipients.png'), fullPage: true });

  await check('the Juzi chats page lists the chat with a waiting message', async () => {
    await page.goto(`${SIMULATOR}/_sim/chats`);
    const item = page.locator(`#chats li[data-chat-key="chat:${CHAT}"]`);
    await item.waitFor(WAIT);
    assert.equal(await item.getAttribute('data-channel'), 'juzi');
    assert.match(await item.textContent(), /1 waiting · 0 in the chat/);
  });

  await check('opening it embeds the real sidebar, signed in, showing that chat and its message', async () => {
    await page.click(`#chats li[data-chat-key="chat:${CHAT}"] button`);
    const sidebar = page.frameLocator('#sidebar');
    await sidebar.locator(`li[data-id="${juzi.id}"] button.send`).waitFor(WAIT);
    assert.match(await sidebar.locator('#chat').textContent(), new RegExp(CHAT));
    assert.match(await sidebar.locator('#agent').textContent(), /bot 647844cd6059597fc5c79f38/);
    assert.equal(await sidebar.locator(`li[data-id="${juzi.id}"] .preview`).textContent(), JUZI_TEXT);
    assert.match(await page.locator('#messages').textContent(), /Nothing in this chat yet/);
  });

  await check('send in the sidebar: the message arrives in the simulated chat and the delivery is sent', async () => {
    const sidebar = page.frameLocator('#sidebar');
    await sidebar.locator(`li[data-id="${juzi.id}"] button.send`).click();
    await sidebar.locator(`li[data-id="${juzi.id}"][data-status="sent"]`).waitFor(WAIT);
    const bubble = page.locator('#messages .msg .bubble');
    await bubble.waitFor(WAIT);
    assert.equal(await bubble.textContent(), JUZI_TEXT);
    const message = await rest('GET', `/v1/messages/${alert.id}`);
    assert.equal(deliveryTo(message, 'juzi').status, 'sent');
    const { chats } = await (await fetch(`${SIMULATOR}/_sim/juzi/chats`)).json();
    const chat = chats.find((c) => c.chat_key === `chat:${CHAT}`);
    assert.deepEqual(chat.messages.map((m) => m.payload), [
      { msgtype: 'text', text: { content: JUZI_TEXT } },
    ]);
    await page.locator(`#chats li[data-chat-key="chat:${CHAT}"]`, { hasText: '0 waiting · 1 in the chat' }).waitFor(WAIT);
  });

  await check('a news message is sent as a news card in the chat', async () => {
    const news = await rest('POST', '/v1/messages', {
      title: 'Runbook: db-3 disk', content: 'Free space on /var', url: 'https://ops.example/runbook/db3',
      targets: [{ channel: 'juzi', chat_id: CHAT }],
    });
    const d = deliveryTo(news, 'juzi');
    const sidebar = page.frameLocator('#sidebar');
    await sidebar.locator('#refresh').click();
    await sidebar.locator(`li[data-id="${d.id}"] button.send`).click();
    await sidebar.locator(`li[data-id="${d.id}"][data-status="sent"]`).waitFor(WAIT);
    const card = page.locator('#messages .msg .card[data-msgtype="news"]');
    await card.waitFor(WAIT);
    assert.equal(await card.locator('.title').textContent(), 'Runbook: db-3 disk');
    assert.equal(await card.locator('.desc').textContent(), 'Free space on /var');
  });

  await check('the pages raised no script errors', async () => {
    assert.deepEqual(pageErrors, []);
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'sandbox-juzi-chat.png'), fullPage: true });

  await check('the sidebar opened on its own (not framed) does not use the bridge', async () => {
    const alone = await context.newPage();
    await alone.goto(`${GATEWAY}/sidebar/`);
    await alone.waitForFunction(() => /sidebar of a Juzi or WeCom chat/.test(document.getElementById('chat').textContent), null, WAIT);
    assert.equal(await alone.evaluate(() => Boolean(window.juziWx && window.juziWx.sandbox)), false);
    await alone.close();
  });
} catch (e) {
  fail('setup', e);
} finally {
  for (const c of open) await c.close().catch(() => {});
  for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
}

finish();
