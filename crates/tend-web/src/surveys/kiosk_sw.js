// Tend kiosk service worker (scope /kiosk/): keeps the kiosk page and its assets in a cache
// and serves them when the network fails. Answers (POST) are not touched: the page queues
// them itself and syncs when it can.
'use strict';
const CACHE = 'tend-kiosk-v1';
const ASSETS = ['/kiosk/assets/kiosk.js', '/kiosk/assets/kiosk.css'];
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function fromNetwork(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('network timeout')), NETWORK_TIMEOUT_MS);
    fetch(request).then((r) => { clearTimeout(timer); resolve(r); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith('/kiosk/') || url.pathname === '/kiosk/sw.js') return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fromNetwork(request);
      if (response.ok) {
        await cache.put(url.pathname, response.clone());
      } else if (response.status === 404 || response.status === 410) {
        await cache.delete(url.pathname); // a revoked kiosk stops working once seen online
      }
      return response;
    } catch (e) {
      const cached = await cache.match(url.pathname);
      return cached || new Response('<h1>Offline</h1><p>This page was not saved for offline use yet.</p>',
        { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8' } });
    }
  })());
});
