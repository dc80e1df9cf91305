// Floorgate console: live updates (server-sent events), the username
// suggestion, confirmations and local times. Every page works without it.
(function () {
  'use strict';

  function localTimes(root) {
    root.querySelectorAll('time[datetime]').forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (!isNaN(d)) {
        t.title = t.textContent;
        t.textContent = d.toLocaleString();
      }
    });
  }

  // Live parts: a [data-live] box opens its event stream; each event
  // replaces the [data-part] of the same name with the server's HTML.
  function live(box) {
    if (!window.EventSource) return;
    var es = new EventSource(box.getAttribute('data-live'));
    var state = box.querySelector('[data-livetext]');
    var say = function (text) { if (state) state.textContent = text; };
    es.onopen = function () { box.classList.add('is-live'); box.classList.remove('is-stale'); say('Live'); };
    es.onerror = function () { box.classList.remove('is-live'); say('Reconnecting…'); };
    box.querySelectorAll('[data-part]').forEach(function (part) {
      es.addEventListener(part.getAttribute('data-part'), function (ev) {
        part.innerHTML = ev.data;
        localTimes(part);
        box.classList.remove('is-stale');
        box.setAttribute('data-updated', String(Date.now()));
      });
    });
    es.addEventListener('stale', function () { box.classList.add('is-stale'); say('A store does not answer; showing the last figures'); });
    es.addEventListener('signedout', function () {
      es.close();
      window.location.href = '/signin?m=ended&next=' + encodeURIComponent(window.location.pathname + window.location.search);
    });
  }

  // Confirmations: forms with data-confirm ask first.
  document.addEventListener('submit', function (ev) {
    var f = ev.target;
    var msg = f.getAttribute && f.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });

  // Pickers that apply at once.
  document.addEventListener('change', function (ev) {
    var t = ev.target;
    if (t.hasAttribute && t.hasAttribute('data-autosubmit') && t.form) t.form.submit();
  });

  // The new-user form: a username suggested from the names, checked as
  // it is typed.
  function usernameForm(form) {
    var first = form.querySelector('#first_name');
    var last = form.querySelector('#last_name');
    var user = form.querySelector('#username');
    var status = form.querySelector('#username-status');
    if (!first || !last || !user || !status) return;
    var edited = user.value !== '';
    var timer = null;
    var seq = 0;
    function ask(params) {
      var n = ++seq;
      fetch('/users/username?' + new URLSearchParams(params).toString(), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (n !== seq) return;
          if (params.first_name !== undefined && j.username && !edited) user.value = j.username;
          status.textContent = j.message || '';
          status.className = 'hint ' + (j.available ? 'good' : 'bad');
          user.setAttribute('aria-invalid', j.available ? 'false' : 'true');
        })
        .catch(function () {});
    }
    function later(fn) { clearTimeout(timer); timer = setTimeout(fn, 250); }
    function suggest() {
      if (edited || first.value.trim() === '') return;
      later(function () { ask({ first_name: first.value, last_name: last.value }); });
    }
    first.addEventListener('input', suggest);
    last.addEventListener('input', suggest);
    user.addEventListener('input', function () {
      edited = user.value !== '';
      if (!edited) { suggest(); return; }
      later(function () { ask({ username: user.value }); });
    });
  }

  // Invitation and reset links carry their code in the fragment, which
  // the browser never sends: copy it into the form (posted in the body)
  // and take it out of the address bar and the history.
  function linkCode(form) {
    var code = form.querySelector('#code');
    var h = window.location.hash.slice(1);
    if (code && /^fg[ir]_[A-Za-z0-9_-]+$/.test(h)) {
      code.value = h;
      if (window.history.replaceState) window.history.replaceState(null, '', window.location.pathname);
      var pw = form.querySelector('#password');
      if (pw) pw.focus();
    }
  }

  function start() {
    localTimes(document);
    document.querySelectorAll('[data-live]').forEach(live);
    document.querySelectorAll('form[data-username-form]').forEach(usernameForm);
    document.querySelectorAll('form[data-linkcode]').forEach(linkCode);
    document.querySelectorAll('input[data-select]').forEach(function (i) {
      i.addEventListener('focus', function () { i.select(); });
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
