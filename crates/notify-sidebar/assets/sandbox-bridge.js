// The sandbox's stand-in for juzi-helper, served only when the gateway runs its sandbox. When
// this page is framed by the simulator's Juzi chats page (the origin in
// <meta name="sandbox-parent">), wx.getCurChatInfo and wx.invoke are asked of that page with
// postMessage, and only its answers are taken. Opened on its own, the page is left as it is.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="sandbox-parent"]');
  var PARENT = meta && meta.content;
  if (!PARENT || window.parent === window) return;
  var BRIDGE = 'notify-sandbox';
  var seq = 0;
  var waiting = {};

  window.addEventListener('message', function (e) {
    if (e.source !== window.parent || e.origin !== PARENT) return;
    var d = e.data;
    if (!d || d.bridge !== BRIDGE || !waiting[d.id]) return;
    var done = waiting[d.id];
    delete waiting[d.id];
    done(d);
  });

  function ask(method, params, done) {
    var id = ++seq;
    waiting[id] = done;
    window.parent.postMessage({ bridge: BRIDGE, id: id, method: method, params: params }, PARENT);
  }

  var bridge = {
    isJuziWx: true,
    sandbox: true,
    getCurChatInfo: function (opts) {
      ask('getCurChatInfo', null, function (d) {
        if (d.result) { if (opts.success) opts.success(d.result); }
        else if (opts.fail) opts.fail({ err_msg: d.err_msg || 'getCurChatInfo:fail' });
      });
    },
    invoke: function (name, params, callback) {
      ask(name, params, function (d) { if (callback) callback({ err_msg: d.err_msg }); });
    }
  };
  window.juziWx = bridge;
  window.wx = bridge;
})();
