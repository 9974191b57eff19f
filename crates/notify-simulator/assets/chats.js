// The sandbox's simulated Juzi chats. Lists the chats the gateway has waiting Juzi messages for
// (GET /_sim/juzi/chats), and plays one chat window: the gateway's real sidebar page in an
// iframe, whose sandbox bridge asks this page for wx.getCurChatInfo and
// wx.invoke('sendChatMessage') through postMessage. A send is answered as Juzi would
// (POST /_sim/juzi/chats/send) and then shows in the chat. Only messages from the sidebar
// frame, from the gateway's origin, are answered. Every text is set with textContent.
(function () {
  'use strict';

  var BRIDGE = 'notify-sandbox';
  var POLL_MS = 2000;
  var state = { data: null, open: null };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function same(a, b) { return a && b && a.channel === b.channel && a.chat_key === b.chat_key; }
  function current() {
    if (!state.data || !state.open) return null;
    return state.data.chats.filter(function (c) { return same(c, state.open); })[0] || state.open;
  }
  function label(c) {
    return (c.kind === 'contact' ? 'Contact ' : 'Group chat ') + c.id + (c.bot_id ? ' @' + c.bot_id : '');
  }

  function load() {
    return fetch('/_sim/juzi/chats', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (d) { state.data = d; render(); },
            function (e) { $('status').textContent = 'Could not load the chats: ' + e.message; });
  }

  function render() {
    var d = state.data;
    var status;
    if (!d.linked) {
      status = 'No gateway is linked to this simulator (it runs alone), so the waiting Juzi messages ' +
        'are not known here. Start the gateway in sandbox mode and open the simulator address it prints.';
    } else if (d.error) {
      status = 'The gateway could not list its waiting chats: ' + d.error;
    } else if (!d.chats.length) {
      status = 'No Juzi message is waiting. Send one to a juzi channel (a chat_id or contact_id target) and it shows here.';
    } else {
      status = 'Chats with Juzi messages waiting for an agent. The sidebar signs in as hosted account ' +
        d.agent.bot_id + ' (the simulator\u2019s Juzi user); a message pinned to another bot is not offered to it.';
    }
    $('status').textContent = status;
    var list = $('chats');
    list.textContent = '';
    d.chats.forEach(function (c) {
      var li = el('li');
      li.dataset.channel = c.channel;
      li.dataset.chatKey = c.chat_key;
      li.setAttribute('aria-current', same(c, state.open) ? 'true' : 'false');
      var b = el('button', null, label(c));
      b.type = 'button';
      b.appendChild(el('span', 'count', 'channel ' + c.channel + ' \u00b7 ' + c.waiting + ' waiting \u00b7 ' +
        c.messages.length + ' in the chat'));
      b.addEventListener('click', function () { openChat(c); });
      li.appendChild(b);
      list.appendChild(li);
    });
    var c = current();
    if (c) renderMessages(c);
  }

  function openChat(c) {
    if (!state.data.sidebar_url) return;
    state.open = { channel: c.channel, chat_key: c.chat_key, kind: c.kind, id: c.id, bot_id: c.bot_id, messages: [] };
    $('window').hidden = false;
    $('window').dataset.chatKey = c.chat_key;
    $('chat-title').textContent = label(c);
    $('chat-sub').textContent = 'simulated WeCom customer chat \u00b7 channel ' + c.channel;
    var url = new URL(state.data.sidebar_url);
    url.searchParams.set('channel', c.channel);
    // A new load, so that the sidebar asks getCurChatInfo for this chat.
    $('sidebar').src = url.toString();
    render();
  }

  function payloadView(p) {
    var t = p && p.msgtype;
    var part = (p && p[t]) || {};
    if (t === 'text') return el('div', 'bubble', part.content);
    var card = el('div', 'card');
    card.dataset.msgtype = String(t);
    if (t === 'news') {
      card.appendChild(el('div', 'title', part.title || part.link));
      if (part.desc) card.appendChild(el('div', 'desc', part.desc));
      if (part.imgUrl) card.appendChild(el('div', 'url', 'image ' + part.imgUrl));
      card.appendChild(el('div', 'url', part.link));
    } else if (t === 'image' || t === 'video' || t === 'file') {
      card.appendChild(el('div', 'title', t + (part.title ? ': ' + part.title : '')));
      card.appendChild(el('div', 'url', part.url));
    } else if (t === 'miniprogram') {
      card.appendChild(el('div', 'title', 'Mini program: ' + (part.title || '')));
      if (part.desc) card.appendChild(el('div', 'desc', part.desc));
      card.appendChild(el('div', 'url', part.appid + ' ' + (part.page || '')));
    } else {
      card.appendChild(el('pre', null, JSON.stringify(p)));
    }
    return card;
  }

  function renderMessages(c) {
    var box = $('messages');
    // Redrawn only when something changed, so an open "params" stays open between polls.
    var drawn = c.chat_key + '\n' + c.channel + '\n' + (c.messages || []).map(function (m) { return m.seq; }).join(',');
    if (box.dataset.drawn === drawn) return;
    box.dataset.drawn = drawn;
    box.textContent = '';
    if (!c.messages || !c.messages.length) {
      box.appendChild(el('p', 'muted', 'Nothing in this chat yet: send a waiting message from the sidebar on the right.'));
      return;
    }
    c.messages.forEach(function (m) {
      var row = el('div', 'msg');
      row.dataset.seq = m.seq;
      row.appendChild(el('div', 'who', 'hosted account \u00b7 ' + new Date(m.at_ms).toLocaleTimeString()));
      row.appendChild(payloadView(m.payload));
      var details = el('details');
      details.appendChild(el('summary', null, 'sendChatMessage params'));
      details.appendChild(el('pre', null, JSON.stringify(m.payload, null, 2)));
      row.appendChild(details);
      box.appendChild(row);
    });
    box.scrollTop = box.scrollHeight;
  }

  /** What Juzi's getCurChatInfo answers in this chat (001's table). */
  function chatInfo(c) {
    var contact = c.kind === 'contact';
    var info = {
      Id: 'sandbox-' + c.chat_key, name: 'Sandbox ' + (contact ? 'contact ' : 'group ') + c.id,
      type: contact ? 0 : 1, external: true, botId: c.bot_id || state.data.agent.bot_id,
      botName: 'Sandbox bot', botStatus: 2, botType: 2, jzGroupId: 'sandbox', jzUserId: 'sandbox'
    };
    if (contact) info.wxUserId = c.id; else info.wxChatId = c.id;
    return info;
  }

  window.addEventListener('message', function (e) {
    var frame = $('sidebar');
    if (!state.data || !state.data.gateway_origin || !state.open) return;
    if (e.origin !== state.data.gateway_origin || e.source !== frame.contentWindow) return;
    var d = e.data;
    if (!d || d.bridge !== BRIDGE) return;
    var chat = state.open;
    function reply(fields) {
      var msg = { bridge: BRIDGE, id: d.id };
      Object.keys(fields).forEach(function (k) { msg[k] = fields[k]; });
      frame.contentWindow.postMessage(msg, state.data.gateway_origin);
    }
    if (d.method === 'getCurChatInfo') {
      reply({ result: chatInfo(chat) });
    } else if (d.method === 'sendChatMessage') {
      fetch('/_sim/juzi/chats/send', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel: chat.channel, chat_key: chat.chat_key, payload: d.params })
      }).then(function (r) { return r.json(); }).then(function (r) {
        reply({ err_msg: r.err_msg || ('sendChatMessage:fail ' + (r.error || 'no answer')) });
        return load();
      }, function (err) { reply({ err_msg: 'sendChatMessage:fail ' + err.message }); });
    } else {
      reply({ err_msg: String(d.method) + ':fail not simulated in the sandbox' });
    }
  });

  load();
  setInterval(function () { if (!document.hidden) load(); }, POLL_MS);
})();
