// The admin console. No library, no inline code (the page's CSP forbids it): the views are
// built with DOM calls, the charts as SVG elements. Every change sends the session's CSRF
// token as x-console-csrf. Views refresh themselves every REFRESH_MS.
"use strict";

const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

const LABELS = {
  en: {
    brand: "notify-gateway console", now: "Now", messages: "Messages", signOut: "Sign out",
    signInTitle: "Sign in", signInHelp: "An admin caller's access key and secret ([[auth.clients]] with the admin scope).",
    accessKey: "Access key", secretKey: "Secret", signIn: "Sign in", lastHour: "Last hour",
    accepted: "accepted", sent: "sent", failed: "failed", open: "in progress",
    suppressed: "suppressed", tilesNote: "Deliveries accepted in the last hour, by status now; suppressed: messages of an alert held back inside its dedup window.",
    id: "Id", title: "Title", channel: "Channel", status: "Status", tenant: "Tenant", since: "Since", until: "Until",
    search: "Search", created: "Created", more: "More", back: "← Messages", updated: "updated",
    credentialsInError: "Credentials in error", noCredentialErrors: "No credential in error.",
    queued: "queued", sending: "sending", blocked: "blocked", oldest: "oldest queued", none: "none",
    callsLastMinute: "calls in the last minute", capMin: "cap", pausedUntil: "paused until", rateLimited: "rate-limit answers (48503…)",
    quota: "Xiaowei quota today", closed: "closed by upstream", owner: "owner",
    legendCalls: "calls / min", legendPeak: "peak calls / s", legendCap: "cap", legendPause: "48503 answer → pause",
    recall: "Recall", retry: "Retry", deliveries: "Deliveries", parts: "Parts", attempts: "Attempts",
    failedRecipients: "Failed recipients", truncated: "truncated to fit the channel", possibleDuplicate: "possible duplicate",
    noAttempts: "No upstream call yet.", noMessages: "No message matches.", signInFailed: "Sign-in refused: wrong access key or secret, or not an admin.",
    confirmRecall: "Recall this message?", done: "Done", refused: "Refused", lastError: "last error",
    token: "token", upstreamIds: "upstream ids", ms: "ms",
    alerts: "Alerts", peopleAndGroups: "People and groups", people: "People", groups: "Groups",
    firing: "firing", acknowledged: "acknowledged", resolved: "resolved", all: "all",
    alertKey: "Key", firstSeen: "First seen", lastSeen: "Last seen", sentCount: "Sent",
    pendingSteps: "Pending escalation steps", acknowledgedBy: "Acknowledged by", acknowledgedAt: "Acknowledged at",
    backAlerts: "← Alerts", alertStatus: "Alert status", suppressedInto: "Suppressed into", noAlerts: "No alert matches.",
    alert: "Alert", acknowledge: "Acknowledge", askAckName: "Acknowledge as (your name):",
    escalationStep: "escalation step", due: "due", fallbackOf: "fallback of", cancelledSteps: "cancelled steps",
    alreadyAcknowledged: "already acknowledged", personId: "Id", name: "Name", workid: "Work id",
    groupName: "Name", members: "Members", membersHelp: "Members (person ids, separated by commas)",
    addOrEditPerson: "Add or edit a person", addOrEditGroup: "Add or edit a group", save: "Save",
    edit: "Edit", delete: "Delete", confirmDelete: "Delete {0}?", noPeople: "No person yet.", noGroups: "No group yet.",
    saved: "Saved", deleted: "Deleted",
  },
  zh: {
    brand: "notify-gateway 管理台", now: "实时", messages: "消息", signOut: "退出",
    signInTitle: "登录", signInHelp: "使用管理员调用方的 Access Key 和密钥（[[auth.clients]] 中含 admin 权限）。",
    accessKey: "Access Key", secretKey: "密钥", signIn: "登录", lastHour: "最近一小时",
    accepted: "已接收", sent: "已发送", failed: "失败", open: "处理中",
    suppressed: "已抑制", tilesNote: "最近一小时接收的投递，按当前状态统计；已抑制：告警在去重窗口内被压下的消息。",
    id: "ID", title: "标题", channel: "渠道", status: "状态", tenant: "租户", since: "起始", until: "截止",
    search: "搜索", created: "创建时间", more: "更多", back: "← 消息", updated: "更新于",
    credentialsInError: "异常凭据", noCredentialErrors: "没有异常凭据。",
    queued: "排队", sending: "发送中", blocked: "等待", oldest: "最早排队", none: "无",
    callsLastMinute: "最近一分钟调用", capMin: "上限", pausedUntil: "暂停至", rateLimited: "限流应答（48503…）",
    quota: "小微今日配额", closed: "上游已关闭", owner: "持有副本",
    legendCalls: "每分钟调用", legendPeak: "每秒峰值", legendCap: "上限", legendPause: "48503 应答 → 暂停",
    recall: "撤回", retry: "重试", deliveries: "投递", parts: "分片", attempts: "调用",
    failedRecipients: "失败的接收人", truncated: "已按渠道截断", possibleDuplicate: "可能重复",
    noAttempts: "尚无上游调用。", noMessages: "没有匹配的消息。", signInFailed: "登录被拒绝：Access Key 或密钥错误，或不是管理员。",
    confirmRecall: "确定撤回这条消息？", done: "完成", refused: "被拒绝", lastError: "最后错误",
    token: "令牌", upstreamIds: "上游 ID", ms: "毫秒",
    alerts: "告警", peopleAndGroups: "人员与群组", people: "人员", groups: "群组",
    firing: "告警中", acknowledged: "已确认", resolved: "已恢复", all: "全部",
    alertKey: "告警键", firstSeen: "首次出现", lastSeen: "最近出现", sentCount: "已发送",
    pendingSteps: "待升级步骤", acknowledgedBy: "确认人", acknowledgedAt: "确认时间",
    backAlerts: "← 告警", alertStatus: "告警状态", suppressedInto: "并入", noAlerts: "没有匹配的告警。",
    alert: "告警", acknowledge: "确认", askAckName: "以此名字确认（你的名字）：",
    escalationStep: "升级步骤", due: "到期", fallbackOf: "兜底自", cancelledSteps: "已取消的步骤",
    alreadyAcknowledged: "此前已确认", personId: "ID", name: "姓名", workid: "工号",
    groupName: "名称", members: "成员", membersHelp: "成员（人员 ID，用逗号分隔）",
    addOrEditPerson: "添加或修改人员", addOrEditGroup: "添加或修改群组", save: "保存",
    edit: "修改", delete: "删除", confirmDelete: "确定删除 {0}？", noPeople: "还没有人员。", noGroups: "还没有群组。",
    saved: "已保存", deleted: "已删除",
  },
};

let lang = localStorage.getItem("console-lang") === "zh" ? "zh" : "en";
let csrf = "";
let timer = null;
let listCursor = null;
let alertCursor = null;
let me = "";
const VIEWS = ["now", "messages", "message", "alerts", "alert", "people"];

const $ = (id) => document.getElementById(id);
const t = (k) => (LABELS[lang][k] || LABELS.en[k] || k);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function applyLabels() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
}

// --- calls to the gateway ------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") headers["x-console-csrf"] = csrf || "sign-in";
  if (body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch("/console/api/" + path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await resp.json(); } catch (_) { data = null; }
  if (resp.status === 401 && path !== "sign-in") { showSignIn(); }
  return { ok: resp.ok, status: resp.status, data };
}

function errorText(r) {
  const e = r.data && r.data.error;
  return r.status + " " + (e ? (e.code ? e.code + ": " : "") + (e.message || "") : "");
}

// --- session -------------------------------------------------------------------------------

function showSignIn() {
  csrf = "";
  stopTimer();
  for (const id of VIEWS) $(id).hidden = true;
  $("nav").hidden = true; $("who").hidden = true; $("sign-out").hidden = true;
  $("signin").hidden = false;
}

function signedIn(s) {
  csrf = s.csrf;
  me = s.name;
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false; $("who").textContent = s.name + " (" + s.access_key + ")";
  $("sign-out").hidden = false;
  route();
}

async function signIn(ev) {
  ev.preventDefault();
  $("signin-error").hidden = true;
  const r = await api("POST", "sign-in", { access_key: $("access-key").value, secret_key: $("secret-key").value });
  $("secret-key").value = "";
  if (r.ok) { signedIn(r.data); return; }
  $("signin-error").textContent = r.status === 401 ? t("signInFailed") : errorText(r);
  $("signin-error").hidden = false;
}

async function signOut() {
  await api("POST", "sign-out");
  location.hash = "";
  showSignIn();
}

// --- routing and refresh -------------------------------------------------------------------

function stopTimer() { if (timer) { clearInterval(timer); timer = null; } }

function route() {
  if (!csrf) return;
  stopTimer();
  const h = location.hash || "#now";
  for (const id of VIEWS) $(id).hidden = true;
  const tab = h.startsWith("#message") ? "messages" : h.startsWith("#alert") ? "alerts" : h === "#people" ? "people" : "now";
  for (const name of ["now", "messages", "alerts", "people"]) $("tab-" + name).classList.toggle("active", tab === name);
  let refresh;
  // The directory does not refresh by itself: it changes only when someone edits it, and a
  // redraw would not help whoever is typing into its forms.
  let every = REFRESH_MS;
  if (h.startsWith("#alert/")) {
    const key = decodeURIComponent(h.slice("#alert/".length));
    $("alert").hidden = false;
    refresh = () => loadAlert(key);
  } else if (h === "#alerts") {
    $("alerts").hidden = false;
    refresh = () => listAlerts(false);
  } else if (h === "#people") {
    $("people").hidden = false;
    refresh = loadDirectory;
    every = 0;
  } else if (h.startsWith("#message/")) {
    const id = decodeURIComponent(h.slice("#message/".length));
    $("message").hidden = false;
    refresh = () => loadMessage(id);
  } else if (h === "#messages") {
    $("messages").hidden = false;
    refresh = () => searchMessages(false);
  } else {
    $("now").hidden = false;
    refresh = loadNow;
  }
  refresh();
  if (every) timer = setInterval(refresh, every);
}

function stamp() {
  $("updated").textContent = t("updated") + " " + new Date().toLocaleTimeString();
}

// --- Now -----------------------------------------------------------------------------------

const SENT = ["sent", "recalling", "recalled", "recall_failed", "not_recallable"];
const FAILED = ["failed", "expired"];

async function loadNow() {
  const [stats, channels, activity] = await Promise.all([
    api("GET", "v1/stats?window=1h"), api("GET", "v1/channels"), api("GET", "activity?minutes=60"),
  ]);
  if (!stats.ok || !channels.ok || !activity.ok) return;
  let sent = 0, failed = 0;
  for (const byStatus of Object.values(stats.data.channels)) {
    for (const [s, n] of Object.entries(byStatus)) {
      if (SENT.includes(s)) sent += n; else if (FAILED.includes(s)) failed += n;
    }
  }
  $("n-accepted").textContent = stats.data.total;
  $("n-sent").textContent = sent;
  $("n-failed").textContent = failed;
  $("n-open").textContent = stats.data.total - sent - failed;
  $("n-suppressed").textContent = activity.data.suppressed;
  drawCredentials(channels.data.channels);
  drawChannels(channels.data.channels, activity.data);
  stamp();
}

function drawCredentials(channels) {
  const bad = channels.filter((c) => c.token && c.token.rejected_code);
  const box = el("div", { class: "card" + (bad.length ? " alarm" : ""), id: "credentials-card" },
    el("h2", { text: t("credentialsInError") }),
    bad.length === 0 ? el("p", { class: "muted", text: t("noCredentialErrors") }) :
      el("ul", {}, bad.map((c) => el("li", {},
        el("b", { text: c.name }), " ", el("span", { class: "mono", text: c.credential }), " — ",
        el("span", { class: "error", text: c.token.rejected_code + ": " + (c.token.rejected_error || "") })))));
  $("credentials").replaceChildren(box);
}

function age(ms) {
  const s = Math.round(ms / 1000);
  if (s < 90) return s + " s";
  const m = Math.round(s / 60);
  return m < 90 ? m + " min" : (m / 60).toFixed(1) + " h";
}

function drawChannels(channels, activity) {
  const cards = channels.map((c) => {
    const quota = c.quota ? el("div", { class: "quota" },
      el("h3", { text: t("quota") + " — " + c.quota.enterprise }),
      el("div", { class: "facts" }, el("span", {}, el("b", { text: c.quota.used_today + " / " + c.quota.daily_quota })),
        c.quota.closed ? el("span", { class: "error", text: t("closed") }) : null),
      meter(c.quota.used_today, c.quota.daily_quota)) : null;
    const token = c.token && c.token.rejected_code ? el("p", { class: "error",
      text: t("token") + ": " + c.token.rejected_code + " " + (c.token.rejected_error || "") }) : null;
    return el("div", { class: "card channel", "data-channel": c.name },
      el("h2", {}, c.name + " ", el("span", { class: "muted small", text: c.kind + " · " + t("queued") + " " + c.queue_depth })),
      token, quota,
      el("div", { class: "lanes" }, c.lanes.map((l) => drawLane(l, activity))));
  });
  $("channels").replaceChildren(...cards);
}

function meter(used, limit) {
  const pct = limit > 0 ? Math.min(100, (100 * used) / limit) : 0;
  const bar = el("div", {});
  bar.style.width = pct + "%"; // CSSOM, which the CSP allows (no style attribute in markup)
  return el("div", { class: "meter" + (used >= limit ? " full" : "") }, bar);
}

function drawLane(l, activity) {
  const oldest = activity.oldest_queued.find((o) => o.lane === l.lane);
  const paused = l.paused_until ? new Date(l.paused_until) : null;
  const facts = el("div", { class: "facts" },
    el("span", {}, t("queued") + " ", el("b", { text: l.depth.queued || 0 })),
    el("span", {}, t("sending") + " ", el("b", { text: l.depth.sending || 0 })),
    el("span", {}, t("blocked") + " ", el("b", { text: l.depth.blocked || 0 })),
    el("span", {}, t("oldest") + " ", el("b", { class: "oldest", text: oldest ? age(oldest.age_ms) : t("none") })),
    el("span", {}, t("callsLastMinute") + " ", el("b", { text: l.calls_last_minute + (l.cap_per_minute ? " / " + l.cap_per_minute : "") })),
    el("span", {}, t("rateLimited") + " ", el("b", { text: l.rate_limited })),
    paused ? el("span", { class: "error" }, t("pausedUntil") + " " + paused.toLocaleTimeString()) : null,
    l.owner ? el("span", { class: "muted" }, t("owner") + " " + l.owner) : null);
  const rows = activity.minutes.filter((m) => m.lane === l.lane);
  return el("div", { class: "lane", "data-lane": l.lane },
    el("h3", { class: "mono", text: l.interface }), facts,
    chart(rows, activity, l, paused),
    el("div", { class: "legend" },
      el("span", {}, el("i", { class: "l-bar" }), t("legendCalls")),
      el("span", {}, el("i", { class: "l-peak" }), t("legendPeak")),
      el("span", {}, el("i", { class: "l-cap" }), t("legendCap") + " " + (l.cap_per_minute || "–") + "/min, " + (l.cap_per_second || "–") + "/s"),
      el("span", {}, el("i", { class: "l-pause" }), t("legendPause"))));
}

// Calls per minute over the hour (upper band, against the per-minute cap) and the busiest
// second of each minute (lower band, against the per-second cap); minutes with a rate-limit
// answer are shaded (each such answer pauses the lane) and a current pause is drawn at the end.
function chart(rows, activity, lane, paused) {
  const W = 600, H1 = 110, H2 = 45, GAP = 16, LEFT = 34, TOP = 6;
  const n = Math.round((activity.now_ms - activity.since_ms) / 60000) + 1;
  const slot = (W - LEFT) / n;
  const byMinute = new Map(rows.map((r) => [Math.round((r.minute - activity.since_ms) / 60000), r]));
  const capMin = lane.cap_per_minute || 0, capSec = lane.cap_per_second || 0;
  const maxCalls = Math.max(1, capMin * 1.15, ...rows.map((r) => r.calls * 1.1));
  const maxPeak = Math.max(1, capSec * 1.15, ...rows.map((r) => r.peak_per_second * 1.1));
  const y1 = (v) => TOP + H1 - (H1 * v) / maxCalls;
  const base2 = TOP + H1 + GAP + H2;
  const y2 = (v) => base2 - (H2 * v) / maxPeak;
  const s = svg("svg", { viewBox: `0 0 ${W} ${base2 + 14}`, class: "chart", role: "img",
    "aria-label": lane.lane + ": " + rows.reduce((a, r) => a + r.calls, 0) + " calls" });
  s.append(svg("line", { x1: LEFT, x2: W, y1: TOP + H1, y2: TOP + H1, class: "axis" }));
  s.append(svg("line", { x1: LEFT, x2: W, y1: base2, y2: base2, class: "axis" }));
  for (let i = 0; i < n; i++) {
    const r = byMinute.get(i);
    if (!r) continue;
    const x = LEFT + i * slot;
    if (r.rate_limited > 0) {
      s.append(svg("rect", { x, y: TOP, width: slot, height: base2 - TOP, class: "pause" }));
      s.append(svg("path", { d: `M${x + slot / 2 - 3},${TOP} h6 l-3,5 z`, class: "limited" }));
    }
    const b = svg("rect", { x: x + 0.5, y: y1(r.calls), width: Math.max(1, slot - 1), height: TOP + H1 - y1(r.calls),
      class: "bar" + (capMin && r.calls >= capMin ? " hot" : "") });
    b.append(svg("title", {}, new Date(r.minute).toLocaleTimeString() + ": " + r.calls + "/min, peak " + r.peak_per_second + "/s, 48503×" + r.rate_limited));
    s.append(b);
    s.append(svg("rect", { x: x + 0.5, y: y2(r.peak_per_second), width: Math.max(1, slot - 1), height: base2 - y2(r.peak_per_second), class: "peak" }));
  }
  if (paused && paused.getTime() > activity.now_ms) {
    s.append(svg("rect", { x: W - slot, y: TOP, width: slot, height: base2 - TOP, class: "pause" }));
  }
  if (capMin) {
    s.append(svg("line", { x1: LEFT, x2: W, y1: y1(capMin), y2: y1(capMin), class: "cap" }));
    s.append(svg("text", { x: 2, y: y1(capMin) + 3 }, String(capMin)));
  }
  if (capSec) {
    s.append(svg("line", { x1: LEFT, x2: W, y1: y2(capSec), y2: y2(capSec), class: "cap" }));
    s.append(svg("text", { x: 2, y: y2(capSec) + 3 }, capSec + "/s"));
  }
  s.append(svg("text", { x: LEFT, y: base2 + 12 }, "-60 min"));
  s.append(svg("text", { x: W - 24, y: base2 + 12 }, "now"));
  return s;
}

// --- Messages ------------------------------------------------------------------------------

function localToIso(v) { return v ? new Date(v).toISOString() : ""; }

function searchQuery() {
  const p = new URLSearchParams();
  for (const [k, id] of [["q", "s-q"], ["channel", "s-channel"], ["status", "s-status"], ["tenant", "s-tenant"]]) {
    const v = $(id).value.trim();
    if (v) p.set(k, v);
  }
  const since = localToIso($("s-since").value), until = localToIso($("s-until").value);
  if (since) p.set("since", since);
  if (until) p.set("until", until);
  return p;
}

async function searchMessages(more) {
  const id = $("s-id").value.trim();
  if (id && !more) { location.hash = "#message/" + encodeURIComponent(id); return; }
  const p = searchQuery();
  if (more && listCursor) p.set("cursor", listCursor);
  const r = await api("GET", "v1/messages?" + p.toString());
  $("search-error").hidden = r.ok;
  if (!r.ok) { $("search-error").textContent = errorText(r); return; }
  const body = $("results").tBodies[0];
  const rows = r.data.messages.map((m) => {
    const tr = el("tr", { class: "row", "data-id": m.id },
      el("td", { text: new Date(m.created_at).toLocaleString() }), el("td", { text: m.title }),
      el("td", {}, el("span", { class: "status " + m.status, text: m.status })),
      el("td", { text: m.tenant }), el("td", { class: "mono", text: m.id }));
    tr.addEventListener("click", () => { location.hash = "#message/" + encodeURIComponent(m.id); });
    return tr;
  });
  if (more) body.append(...rows);
  else body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5", class: "muted", text: t("noMessages") }))]));
  listCursor = r.data.next_cursor;
  $("more").hidden = !listCursor;
  stamp();
}

function showResult(ok, text) {
  const e = $("action-result");
  e.hidden = false;
  e.className = ok ? "ok" : "bad";
  e.textContent = (ok ? t("done") : t("refused")) + ": " + text;
}

// What an action answered, in a line: each delivery's new status (recall), or the answer.
function summary(data) {
  if (data && data.acknowledged_by) {
    return t("acknowledgedBy") + " " + data.acknowledged_by + " · " + new Date(data.acknowledged_at).toLocaleString() +
      (data.already_acknowledged ? " (" + t("alreadyAcknowledged") + ")" : "") +
      " · " + t("cancelledSteps") + " " + (data.cancelled_steps || []).length;
  }
  if (data && Array.isArray(data.deliveries)) {
    return data.deliveries.map((d) => d.channel + " → " + d.status).join(", ");
  }
  if (data && data.id && data.status) return data.id + " → " + data.status;
  return JSON.stringify(data);
}

async function act(path, confirmText, after, body) {
  if (confirmText && !window.confirm(confirmText)) return;
  const r = await api("POST", path, body);
  showResult(r.ok, r.ok ? summary(r.data) : errorText(r));
  after();
}

async function loadMessage(id) {
  const r = await api("GET", "v1/messages/" + encodeURIComponent(id));
  if (!r.ok) {
    $("message-head").replaceChildren(el("p", { class: "error", text: errorText(r) }));
    $("deliveries").replaceChildren();
    return;
  }
  const m = r.data;
  const recall = el("button", { type: "button", id: "recall", class: "danger", text: t("recall") });
  recall.addEventListener("click", () => act("v1/messages/" + encodeURIComponent(m.id) + "/recall", t("confirmRecall"), () => loadMessage(id)));
  const ack = el("button", { type: "button", id: "ack", text: t("acknowledge") });
  ack.addEventListener("click", () => {
    const by = window.prompt(t("askAckName"), me);
    if (by === null) return;
    act("v1/messages/" + encodeURIComponent(m.id) + "/ack", null, () => loadMessage(id), { by: by.trim() || me });
  });
  const link = (hash, text) => el("a", { href: hash, class: "mono", text });
  $("message-head").replaceChildren(
    el("h1", {}, m.title + " ", el("span", { class: "status " + m.status, id: "message-status", text: m.status })),
    el("div", { class: "facts" },
      el("span", { class: "mono", text: m.id }), el("span", { text: t("tenant") + " " + m.tenant }),
      el("span", { text: new Date(m.created_at).toLocaleString() }),
      m.alert ? el("span", {}, t("alert") + " ", link("#alert/" + encodeURIComponent(m.alert.key), m.alert.key), " · " + m.alert.status) : null,
      m.suppressed_into ? el("span", { id: "suppressed-into" }, t("suppressedInto") + " ",
        link("#message/" + encodeURIComponent(m.suppressed_into), m.suppressed_into)) : null,
      m.acknowledged_by ? el("span", { id: "acknowledged" }, t("acknowledgedBy") + " ", el("b", { id: "acknowledged-by", text: m.acknowledged_by }),
        " · " + new Date(m.acknowledged_at).toLocaleString()) : null,
      m.template_error ? el("span", { class: "error", text: m.template_error }) : null),
    el("p", {}, recall, " ", ack));
  $("deliveries").replaceChildren(el("h2", { text: t("deliveries") }), ...m.deliveries.map((d) => drawDelivery(d, id)));
  stamp();
}

function drawDelivery(d, messageId) {
  const retry = el("button", { type: "button", class: "retry", "data-delivery": d.id, text: t("retry") });
  retry.addEventListener("click", () => act("v1/deliveries/" + encodeURIComponent(d.id) + "/retry", null, () => loadMessage(messageId)));
  const maxDur = Math.max(1, ...d.attempts.map((a) => a.duration_ms));
  const attempts = d.attempts.length === 0 ? el("p", { class: "muted", text: t("noAttempts") }) :
    el("ol", { class: "timeline" }, d.attempts.map((a) => {
      const bar = el("span", { class: "dur" });
      bar.style.width = Math.max(2, (120 * a.duration_ms) / maxDur) + "px";
      const bad = a.outcome !== "sent" && a.outcome !== "ok";
      return el("li", { class: a.outcome === "rate_limited" ? "warn" : bad ? "bad" : "" },
        el("b", { text: new Date(a.at).toLocaleTimeString() }), " ", el("span", { class: "mono", text: a.endpoint }), " · ",
        a.outcome, " · HTTP " + (a.http_status ?? "–"), " · ", el("span", { class: "mono", text: (a.upstream_code ?? "–") + " " + (a.upstream_message ?? "") }),
        " · " + a.duration_ms + " " + t("ms"), bar,
        a.possible_duplicate ? el("span", { class: "badge", text: t("possibleDuplicate") }) : null);
    }));
  const parts = el("table", { class: "list" },
    el("thead", {}, el("tr", {}, ["#", "op", "interface", t("status"), t("attempts"), t("lastError")].map((h) => el("th", { text: h })))),
    el("tbody", {}, d.parts.map((p) => el("tr", {},
      el("td", { text: p.seq }), el("td", { text: p.op }), el("td", { class: "mono", text: p.interface }),
      el("td", {}, el("span", { class: "status " + p.status, text: p.status })), el("td", { text: p.attempts }),
      el("td", { class: "mono", text: p.last_error || "" })))));
  const failed = d.failed_recipients.length ? el("div", {}, el("h3", { text: t("failedRecipients") }),
    el("ul", {}, d.failed_recipients.map((f) => el("li", { class: "mono", text: JSON.stringify(f) })))) : null;
  const step = d.escalation ? el("span", { class: "escalation", "data-state": d.escalation.state },
    t("escalationStep") + " " + d.escalation.step + " · ", el("span", { class: "status " + d.escalation.state, text: d.escalation.state }),
    " · " + t("due") + " " + new Date(d.escalation.due_at).toLocaleString() + (d.escalation.reason ? " · " + d.escalation.reason : "")) : null;
  const fallback = d.fallback_of ? el("span", { class: "fallback" }, t("fallbackOf") + " ", el("span", { class: "mono", text: d.fallback_of })) : null;
  return el("div", { class: "card delivery", "data-delivery": d.id },
    el("h3", {}, d.channel + " · " + (d.type || d.kind) + " ", el("span", { class: "status " + d.status, text: d.status }),
      d.truncated ? el("span", { class: "badge", text: t("truncated") }) : null),
    el("div", { class: "facts" }, el("span", { class: "mono", text: d.id }), step, fallback,
      d.upstream_ids.length ? el("span", { class: "mono", text: t("upstreamIds") + " " + d.upstream_ids.join(", ") }) : null,
      d.last_error ? el("span", { class: "error", text: t("lastError") + ": " + d.last_error }) : null),
    el("p", {}, retry), failed,
    el("h3", { text: t("parts") }), parts,
    el("h3", { text: t("attempts") }), attempts);
}

// --- Alerts --------------------------------------------------------------------------------

const when = (v) => (v ? new Date(v).toLocaleString() : "");

async function listAlerts(more) {
  const p = new URLSearchParams();
  const status = $("a-status").value;
  if (status) p.set("status", status);
  if (more && alertCursor) p.set("cursor", alertCursor);
  const r = await api("GET", "v1/alerts?" + p.toString());
  $("alerts-error").hidden = r.ok;
  if (!r.ok) { $("alerts-error").textContent = errorText(r); return; }
  const body = $("alert-list").tBodies[0];
  const rows = r.data.alerts.map((a) => {
    const tr = el("tr", { class: "row", "data-key": a.key },
      el("td", { class: "mono", text: a.key }),
      el("td", {}, el("span", { class: "status " + a.status, text: a.status })),
      el("td", { text: when(a.first_seen) }), el("td", { text: when(a.last_seen) }),
      el("td", { text: a.sent }), el("td", { class: "n-suppressed", text: a.suppressed }),
      el("td", { text: a.pending_escalation_steps }), el("td", { text: a.acknowledged_by || "" }));
    tr.addEventListener("click", () => { location.hash = "#alert/" + encodeURIComponent(a.key); });
    return tr;
  });
  if (more) body.append(...rows);
  else body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "8", class: "muted", text: t("noAlerts") }))]));
  alertCursor = r.data.next_cursor;
  $("alerts-more").hidden = !alertCursor;
  stamp();
}

async function loadAlert(key) {
  const r = await api("GET", "v1/alerts/" + encodeURIComponent(key));
  const body = $("alert-messages").tBodies[0];
  if (!r.ok) {
    $("alert-head").replaceChildren(el("p", { class: "error", text: errorText(r) }));
    body.replaceChildren();
    return;
  }
  const a = r.data;
  $("alert-head").replaceChildren(
    el("h1", {}, el("span", { class: "mono", text: a.key }), " ", el("span", { class: "status " + a.status, id: "alert-status", text: a.status })),
    el("div", { class: "facts" },
      el("span", { text: t("firstSeen") + " " + when(a.first_seen) }), el("span", { text: t("lastSeen") + " " + when(a.last_seen) }),
      el("span", {}, t("sentCount") + " ", el("b", { text: a.sent })),
      el("span", {}, t("suppressed") + " ", el("b", { id: "alert-suppressed", text: a.suppressed })),
      el("span", {}, t("pendingSteps") + " ", el("b", { text: a.pending_escalation_steps })),
      a.acknowledged_by ? el("span", {}, t("acknowledgedBy") + " ", el("b", { text: a.acknowledged_by }), " · " + when(a.acknowledged_at)) : null));
  body.replaceChildren(...(a.messages || []).map((m) => {
    const tr = el("tr", { class: "row", "data-id": m.id },
      el("td", { class: "mono", text: m.id }), el("td", { text: m.alert_status }),
      el("td", {}, el("span", { class: "status " + m.status, text: m.status })),
      el("td", { class: "mono", text: m.suppressed_into || "" }));
    tr.addEventListener("click", () => { location.hash = "#message/" + encodeURIComponent(m.id); });
    return tr;
  }));
  stamp();
}

// --- People and groups ---------------------------------------------------------------------

const PERSON_FIELDS = ["name", "welink", "wecom", "workid"];

function directoryResult(ok, text) {
  const e = $("directory-result");
  e.hidden = false;
  e.className = ok ? "ok" : "bad";
  e.textContent = (ok ? "" : t("refused") + ": ") + text;
}

// Clears a form's errors, or shows the API's: a 422 beside the field it names (`members[2]`
// beside members), anything else under the form.
function formErrors(form, r) {
  for (const e of form.querySelectorAll(".field-error")) { e.hidden = true; e.textContent = ""; }
  const general = form.querySelector(".form-error");
  general.hidden = true;
  if (!r || r.ok) return;
  const err = r.data && r.data.error;
  const field = err && err.field ? err.field.split(/[.[]/)[0] : "";
  const slot = field && form.querySelector(`.field-error[data-field="${field}"]`);
  const text = err ? (err.field ? err.field + ": " : "") + (err.code ? err.code + " — " : "") + (err.message || "") : errorText(r);
  const target = slot || general;
  target.textContent = slot ? text : r.status + " " + text;
  target.hidden = false;
}

function editButtons(what, id, onEdit) {
  const edit = el("button", { type: "button", class: "link edit", text: t("edit") });
  edit.addEventListener("click", onEdit);
  const del = el("button", { type: "button", class: "link delete", text: t("delete") });
  del.addEventListener("click", async () => {
    if (!window.confirm(t("confirmDelete").replace("{0}", id))) return;
    const r = await api("DELETE", "v1/" + what + "/" + encodeURIComponent(id));
    directoryResult(r.ok, r.ok ? t("deleted") + " " + id : errorText(r));
    loadDirectory();
  });
  return el("td", { class: "actions" }, edit, del);
}

async function loadDirectory() {
  const [people, groups] = await Promise.all([api("GET", "v1/people"), api("GET", "v1/groups")]);
  if (!people.ok || !groups.ok) { directoryResult(false, errorText(people.ok ? groups : people)); return; }
  const prows = people.data.people.map((p) => el("tr", { "data-person": p.id },
    el("td", { class: "mono", text: p.id }), ...PERSON_FIELDS.map((f) => el("td", { class: f === "name" ? "" : "mono", text: p[f] || "" })),
    editButtons("people", p.id, () => {
      $("p-id").value = p.id;
      for (const f of PERSON_FIELDS) $("p-" + f).value = p[f] || "";
      $("p-id").focus();
    })));
  $("people-list").tBodies[0].replaceChildren(...(prows.length ? prows : [el("tr", {}, el("td", { colspan: "6", class: "muted", text: t("noPeople") }))]));
  const grows = groups.data.groups.map((g) => el("tr", { "data-group": g.name },
    el("td", { class: "mono", text: g.name }), el("td", { class: "mono", text: g.members.join(", ") }),
    editButtons("groups", g.name, () => {
      $("g-name").value = g.name;
      $("g-members").value = g.members.join(", ");
      $("g-name").focus();
    })));
  $("group-list").tBodies[0].replaceChildren(...(grows.length ? grows : [el("tr", {}, el("td", { colspan: "3", class: "muted", text: t("noGroups") }))]));
  stamp();
}

async function savePerson(ev) {
  ev.preventDefault();
  const form = $("person-form");
  const id = $("p-id").value.trim();
  const body = {};
  // An empty box leaves the field out (the API refuses blank ids).
  for (const f of PERSON_FIELDS) { const v = $("p-" + f).value.trim(); if (v) body[f] = v; }
  const r = await api("PUT", "v1/people/" + encodeURIComponent(id), body);
  formErrors(form, r);
  if (!r.ok) return;
  directoryResult(true, t("saved") + " " + id);
  form.reset();
  loadDirectory();
}

async function saveGroup(ev) {
  ev.preventDefault();
  const form = $("group-form");
  const name = $("g-name").value.trim();
  const members = $("g-members").value.split(/[,\s]+/).map((m) => m.trim()).filter(Boolean);
  const r = await api("PUT", "v1/groups/" + encodeURIComponent(name), { members });
  formErrors(form, r);
  if (!r.ok) return;
  directoryResult(true, t("saved") + " " + name);
  form.reset();
  loadDirectory();
}

// --- start ---------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  applyLabels();
  $("lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("console-lang", lang);
    applyLabels();
    route();
  });
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); listCursor = null; searchMessages(false); });
  $("more").addEventListener("click", () => searchMessages(true));
  $("a-status").addEventListener("change", () => { alertCursor = null; listAlerts(false); });
  $("alert-filter").addEventListener("submit", (ev) => { ev.preventDefault(); listAlerts(false); });
  $("alerts-more").addEventListener("click", () => listAlerts(true));
  $("person-form").addEventListener("submit", savePerson);
  $("group-form").addEventListener("submit", saveGroup);
  window.addEventListener("hashchange", () => { $("action-result").hidden = true; $("directory-result").hidden = true; route(); });
  const r = await api("GET", "session");
  if (r.ok) signedIn(r.data); else showSignIn();
});
