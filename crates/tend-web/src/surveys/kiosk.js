// Tend kiosk page: big score buttons, a thank-you screen that resets, and a local queue of
// answers (localStorage) that is synced to the server in batches whenever it can be:
// on load, on the `online` event, after each answer, and with backoff after a failure.
'use strict';
(function () {
  const BATCH = 500;
  const RESET_MS = 4000;
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 60000;
  const CACHE = 'tend-kiosk-v1';

  const body = document.body;
  const token = body.dataset.token;
  const KEY = 'tend-kiosk-queue:' + token;
  const ask = document.getElementById('ask');
  const thanks = document.getElementById('thanks');
  const statusEl = document.getElementById('status');
  const buttons = Array.from(document.querySelectorAll('.score'));

  let syncing = false;
  let stopped = null; // a reason when the server says this kiosk is gone
  let backoff = 0;
  let retryTimer = null;
  let resetTimer = null;
  let lastError = '';

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function save(q) { localStorage.setItem(KEY, JSON.stringify(q)); }

  function uuid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function show() {
    const n = load().length;
    body.dataset.pending = String(n);
    const foot = statusEl.parentElement;
    foot.classList.toggle('offline', n > 0 && !stopped);
    foot.classList.toggle('stopped', !!stopped);
    if (stopped) statusEl.textContent = stopped + (n ? ' ' + n + ' answer(s) kept on this device.' : '');
    else if (n === 0) statusEl.textContent = 'All answers sent.';
    else statusEl.textContent = n + ' answer(s) waiting to be sent' + (navigator.onLine && !lastError ? '…' : ' (offline; kept on this device).');
  }

  function answer(score) {
    const q = load();
    q.push({ client_id: uuid(), score: score, answered_at: new Date().toISOString() });
    save(q);
    ask.hidden = true;
    thanks.hidden = false;
    thanks.focus();
    show();
    clearTimeout(resetTimer);
    resetTimer = setTimeout(reset, RESET_MS);
    sync();
  }

  function reset() {
    clearTimeout(resetTimer);
    thanks.hidden = true;
    ask.hidden = false;
    if (buttons.length) buttons[Math.floor(buttons.length / 2)].focus();
  }

  function retryLater() {
    backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(sync, backoff + Math.random() * backoff * 0.2);
  }

  async function sync() {
    if (syncing || stopped) return;
    syncing = true;
    try {
      for (;;) {
        const batch = load().slice(0, BATCH);
        if (batch.length === 0) break;
        let resp;
        try {
          resp = await fetch('/kiosk/' + encodeURIComponent(token) + '/answers', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ answers: batch }),
            cache: 'no-store',
            credentials: 'omit',
          });
        } catch (e) {
          lastError = 'network';
          retryLater();
          return;
        }
        if (resp.status === 404 || resp.status === 410) {
          stopped = resp.status === 410 ? 'This kiosk was switched off.' : 'This kiosk link is not valid.';
          return;
        }
        if (!resp.ok) {
          lastError = 'http ' + resp.status;
          retryLater();
          return;
        }
        const out = await resp.json();
        // Stored, already stored or rejected (it never will be stored): off the queue.
        const done = new Set((out.results || []).map((r) => r.client_id));
        batch.forEach((a) => done.add(a.client_id));
        save(load().filter((a) => !done.has(a.client_id)));
        body.dataset.synced = String(Number(body.dataset.synced || 0) + (out.stored || 0));
        if (out.rejected) console.warn('kiosk: answers rejected', out.results.filter((r) => r.status === 'rejected'));
        lastError = '';
        backoff = 0;
        show();
      }
    } finally {
      syncing = false;
      show();
    }
  }

  buttons.forEach((b, i) => {
    b.addEventListener('click', () => answer(Number(b.dataset.score)));
    b.addEventListener('keydown', (e) => {
      let j = null;
      if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = Math.min(i + 1, buttons.length - 1);
      if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = Math.max(i - 1, 0);
      if (e.key === 'Home') j = 0;
      if (e.key === 'End') j = buttons.length - 1;
      if (j !== null) { e.preventDefault(); buttons[j].focus(); }
    });
  });
  thanks.addEventListener('click', reset);
  thanks.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ' || e.key === 'Escape') reset(); });
  window.addEventListener('online', () => { backoff = 0; lastError = ''; sync(); });
  window.addEventListener('offline', show);

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/kiosk/sw.js', { scope: '/kiosk/' })
      .then(() => navigator.serviceWorker.ready)
      // The first visit was not served by the worker: put this page in its cache too.
      .then(() => caches.open(CACHE))
      .then((c) => fetch(location.pathname, { cache: 'no-store' }).then((r) => (r.ok ? c.put(location.pathname, r) : null)))
      .catch(() => {}) // offline: the page came from the cache already
      .then(() => { body.dataset.sw = navigator.serviceWorker.controller ? 'ready' : 'installed'; });
  } else {
    body.dataset.sw = 'unsupported';
  }

  reset();
  show();
  sync();
})();
