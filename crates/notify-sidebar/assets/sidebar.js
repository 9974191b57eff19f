// The Juzi sidebar page (contract §5). Learns the open chat from juzi-helper
// (wx.getCurChatInfo) or, in the native WeCom client, from WECOM-JSSDK after ww.register with
// server-made signatures; lists the chat's waiting messages; sends each with
// sendChatMessage and reports the result to the gateway. Plain ES2017, no build step.
(function () {
  'use strict';

  var CSRF = (document.querySelector('meta[name="sidebar-csrf"]') || {}).content || '';
  var CHANNEL = new URLSearchParams(location.search).get('channel') || '';
  var SEND_TIMEOUT_MS = 30000;
  var POLL_MS = 20000;

  var state = {
    session: null,
    env: null,       // {kind: 'juzi'|'native', send: fn(payload) -> Promise<{ok, reason, cancelled}>}
    chat: null,      // {chat_id} or {contact_id}
    items: new Map() // id -> {data, el, status}
  };

  function $(id) { return document.getElementById(id); }

  function loginUrl() {
    return '/sidebar/login' + (CHANNEL ? '?channel=' + encodeURIComponent(CHANNEL) : '');
  }

  function api(path, options) {
    options = options || {};
    var headers = { 'X-Sidebar-CSRF': CSRF };
    if (options.body) headers['Content-Type'] = 'application/json';
    return fetch(path, {
      method: options.method || 'GET',
      headers: headers,
      body: options.body,
      credentials: 'same-origin'
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.status === 401) {
          location.href = loginUrl();
        }
        return { status: res.status, body: body };
      });
    });
  }

  function notice(text, link) {
    var n = $('notice');
    n.textContent = text;
    if (link) {
      var a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.text;
      n.appendChild(document.createTextNode(' '));
      n.appendChild(a);
    }
    n.hidden = false;
  }

  // ---- environments -------------------------------------------------------------------

  /** window.juziWx || window.wx, when it offers getCurChatInfo (juzi-helper is loaded). */
  function juziWx() {
    var w = window.juziWx || window.wx;
    return w && typeof w.getCurChatInfo === 'function' && typeof w.invoke === 'function' ? w : null;
  }

  function withTimeout(promise, ms, what) {
    return new Promise(function (resolve, reject) {
      var t = setTimeout(function () { reject(new Error(what + ' did not answer')); }, ms);
      promise.then(function (v) { clearTimeout(t); resolve(v); },
                   function (e) { clearTimeout(t); reject(e); });
    });
  }

  function juziChat(w) {
    return withTimeout(new Promise(function (resolve, reject) {
      w.getCurChatInfo({
        success: function (res) {
          // The fields of the document's table, directly or under `data`.
          var info = res && (res.wxChatId || res.wxUserId || res.botId) ? res : (res && res.data) || res || {};
          resolve(info);
        },
        fail: function (res) {
          reject(new Error((res && res.err_msg) || 'getCurChatInfo failed'));
        }
      });
    }), 5000, 'getCurChatInfo');
  }

  function juziSend(w, payload) {
    return withTimeout(new Promise(function (resolve) {
      w.invoke('sendChatMessage', payload, function (res) {
        var msg = res && res.err_msg;
        if (msg === 'sendChatMessage:ok') resolve({ ok: true });
        else resolve({ ok: false, reason: msg || 'sendChatMessage gave no err_msg' });
      });
    }), SEND_TIMEOUT_MS, 'sendChatMessage');
  }

  /** Native WeCom: ww.register with the gateway's signatures, then the current chat. */
  function nativeSetup(session) {
    var ww = window.ww;
    if (!ww || typeof ww.register !== 'function' || !session.native) return null;
    var cache = {};
    function signatures(url) {
      url = (url || location.href).split('#')[0];
      if (!cache[url]) {
        cache[url] = api('/sidebar/api/jsapi-signature?url=' + encodeURIComponent(url)).then(function (r) {
          if (r.status !== 200) throw new Error((r.body && r.body.error && r.body.error.message) || 'signature refused');
          return r.body;
        });
      }
      return cache[url];
    }
    ww.register({
      corpId: session.native.corp_id,
      agentId: session.native.agent_id,
      jsApiList: ['getCurExternalChat', 'getCurExternalContact', 'sendChatMessage'],
      getConfigSignature: function (url) { return signatures(url).then(function (s) { return s.config; }); },
      getAgentConfigSignature: function (url) { return signatures(url).then(function (s) { return s.agentConfig; }); }
    });
    return ww;
  }

  function nativeChat(ww) {
    function attempt(fn, key, as) {
      if (typeof ww[fn] !== 'function') return Promise.resolve(null);
      return Promise.resolve(ww[fn]()).then(function (r) {
        if (r && r[key]) { var c = {}; c[as] = r[key]; return c; }
        return null;
      }, function () { return null; });
    }
    return attempt('getCurExternalChat', 'chatId', 'chat_id').then(function (c) {
      return c || attempt('getCurExternalContact', 'userId', 'contact_id');
    });
  }

  /** Native sendChatMessage takes a mediaid where Juzi takes a url: only text and news go. */
  function nativeSend(ww, payload) {
    if (payload.msgtype !== 'text' && payload.msgtype !== 'news') {
      return Promise.resolve({ ok: false, skipped: true,
        reason: payload.msgtype + ' messages can be sent from the Juzi sidebar only' });
    }
    return withTimeout(Promise.resolve(ww.sendChatMessage(payload)).then(function (r) {
      var msg = (r && (r.errMsg || r.err_msg)) || '';
      if (msg === 'sendChatMessage:ok') return { ok: true };
      if (/cancel/.test(msg)) return { ok: false, cancelled: true };
      return { ok: false, reason: msg || 'sendChatMessage failed' };
    }, function (r) {
      var msg = (r && (r.errMsg || r.err_msg)) || String(r);
      if (/cancel/.test(msg)) return { ok: false, cancelled: true };
      return { ok: false, reason: msg };
    }), SEND_TIMEOUT_MS, 'sendChatMessage');
  }

  // ---- the list -----------------------------------------------------------------------

  function setStatus(item, status, text) {
    item.status = status;
    item.el.dataset.status = status;
    var s = item.el.querySelector('.state');
    s.textContent = text || status;
    var b = item.el.querySelector('.send');
    b.disabled = status !== 'waiting';
    b.textContent = status === 'sending' ? 'Sending…' : status === 'waiting' ? 'Send' : 'Done';
  }

  function render(d) {
    var li = document.createElement('li');
    li.className = 'item';
    li.dataset.id = d.id;
    var head = document.createElement('div');
    head.className = 'meta';
    var type = document.createElement('span');
    type.className = 'type';
    type.textContent = d.type;
    var exp = document.createElement('span');
    exp.className = 'expires';
    exp.textContent = 'until ' + new Date(d.expires_at).toLocaleString();
    head.appendChild(type);
    head.appendChild(exp);
    var title = document.createElement('div');
    title.className = 'title';
    title.textContent = d.title || '(no title)';
    var preview = document.createElement('div');
    preview.className = 'preview';
    preview.textContent = d.preview;
    var actions = document.createElement('div');
    actions.className = 'actions';
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'send';
    var st = document.createElement('span');
    st.className = 'state';
    actions.appendChild(button);
    actions.appendChild(st);
    li.appendChild(head);
    li.appendChild(title);
    li.appendChild(preview);
    li.appendChild(actions);
    var item = { data: d, el: li, status: 'waiting' };
    button.addEventListener('click', function () { send(item); });
    setStatus(item, 'waiting', 'waiting');
    return item;
  }

  function updateEmpty() {
    var any = false;
    state.items.forEach(function () { any = true; });
    $('empty').hidden = any;
  }

  /** Sends every payload of one delivery in order; the first failure stops it. */
  function send(item) {
    if (item.status !== 'waiting' || !state.env) return Promise.resolve();
    setStatus(item, 'sending', 'sending…');
    var payloads = item.data.payloads || [];
    var i = 0;
    function next() {
      if (i >= payloads.length) return Promise.resolve({ ok: true });
      return state.env.send(payloads[i++]).then(function (r) { return r.ok ? next() : r; });
    }
    return next().then(function (r) {
      if (r.cancelled || r.skipped) {
        setStatus(item, 'waiting', r.skipped ? r.reason : 'cancelled: still waiting');
        return;
      }
      return report(item, r.ok, r.reason);
    }, function (e) {
      // No answer: the message may or may not be in the chat, so nothing is reported.
      setStatus(item, 'unknown', 'no answer (' + e.message + '): check the chat');
    });
  }

  function report(item, ok, reason) {
    var body = JSON.stringify(ok ? { ok: true } : { ok: false, reason: reason });
    return api('/sidebar/api/deliveries/' + encodeURIComponent(item.data.id) + '/result',
               { method: 'POST', body: body }).then(function (r) {
      if (r.status === 200) {
        setStatus(item, r.body.status, r.body.status === 'failed' ? 'failed: ' + reason : r.body.status);
      } else if (r.status === 409) {
        setStatus(item, r.body.status, r.body.status);
      } else {
        setStatus(item, 'unknown', 'report not saved (' + r.status + ')');
      }
    });
  }

  function refresh() {
    if (!state.chat) return Promise.resolve();
    var q = state.chat.chat_id ? 'chat_id=' + encodeURIComponent(state.chat.chat_id)
                               : 'contact_id=' + encodeURIComponent(state.chat.contact_id);
    return api('/sidebar/api/pending?' + q).then(function (r) {
      if (r.status !== 200) {
        notice('Could not load the waiting messages (' + r.status + ').');
        return;
      }
      var seen = {};
      r.body.deliveries.forEach(function (d) {
        seen[d.id] = true;
        if (!state.items.has(d.id)) {
          var item = render(d);
          state.items.set(d.id, item);
          $('list').appendChild(item.el);
        }
      });
      // Gone from the server while still waiting here: recalled or expired.
      state.items.forEach(function (item, id) {
        if (!seen[id] && item.status === 'waiting') {
          item.el.remove();
          state.items.delete(id);
        }
      });
      updateEmpty();
      if (r.body.auto_send && state.env && state.env.kind === 'juzi') {
        var chain = Promise.resolve();
        state.items.forEach(function (item) {
          if (item.status === 'waiting') chain = chain.then(function () { return send(item); });
        });
        return chain;
      }
    });
  }

  // ---- start --------------------------------------------------------------------------

  function showChat(text) { $('chat').textContent = text; }

  function start() {
    api('/sidebar/api/session').then(function (r) {
      if (r.status !== 200) throw new Error('session: ' + r.status);
      var s = state.session = r.body;
      $('agent').textContent = (s.name || s.user_id) + ' · bot ' + s.bot_id;
      var w = juziWx();
      if (w) {
        return juziChat(w).then(function (info) {
          state.env = { kind: 'juzi', send: function (p) { return juziSend(w, p); } };
          if (info.botId && info.botId !== s.bot_id) {
            notice('This chat belongs to hosted account ' + info.botId + ', but you signed in as ' +
                   s.bot_id + '.', { href: loginUrl(), text: 'Sign in again' });
          }
          if (info.wxChatId && info.type !== 0) state.chat = { chat_id: info.wxChatId };
          else if (info.wxUserId) state.chat = { contact_id: info.wxUserId };
          var label = state.chat ? (state.chat.chat_id || state.chat.contact_id) : '';
          showChat(state.chat ? 'Chat: ' + (info.name ? info.name + ' · ' : '') + label
                              : 'This chat is not a WeCom customer chat.');
        });
      }
      var ww = nativeSetup(s);
      if (ww) {
        state.env = { kind: 'native', send: function (p) { return nativeSend(ww, p); } };
        return nativeChat(ww).then(function (c) {
          state.chat = c;
          showChat(c ? 'Chat: ' + (c.chat_id || c.contact_id) : 'Open this page from a customer chat.');
        });
      }
      showChat('Open this page from the sidebar of a Juzi or WeCom chat.');
    }).then(refresh).catch(function (e) {
      showChat('');
      notice('The sidebar could not start: ' + e.message);
    });
  }

  $('refresh').addEventListener('click', function () { refresh(); });
  setInterval(function () { if (!document.hidden) refresh(); }, POLL_MS);
  start();
})();
