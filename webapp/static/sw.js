// The approval app's service worker: it keeps the bundle it was installed
// with (checking every file against the hashes pinned here at build time),
// serves the app from that copy, tells the page whether the origin now
// serves other code, and shows a notification for each Web Push (whose
// payload is a request id alone) that leads to the request.
"use strict";

const VERSION = __ASSENT_VERSION__;
const PINS = __ASSENT_PINS__; // file -> "sha256-<base64>"
const CACHE = "assent-" + VERSION;
// The check of what the origin serves skips the WebAssembly (megabytes on
// every start): app.js, which the check covers, pins it by its integrity,
// so a changed device.wasm cannot load without a changed app.js.
const VERIFY_SKIP = new Set(["device.wasm"]);

async function digest(buf) {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  let s = "";
  for (const b of h) s += String.fromCharCode(b);
  return "sha256-" + btoa(s);
}

async function fetchChecked(name) {
  const resp = await fetch(name, { cache: "no-store" });
  if (!resp.ok) throw new Error(name + ": " + resp.status);
  const body = await resp.clone().arrayBuffer();
  if ((await digest(body)) !== PINS[name]) throw new Error(name + " does not match the pinned hash");
  return resp;
}

self.addEventListener("install", (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    for (const name of Object.keys(PINS)) await cache.put(name, await fetchChecked(name));
    // The first install takes over at once; a later version waits until the
    // user accepts it in the page.
    if (!self.registration.active) await self.skipWaiting();
  })());
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

function pinnedName(url) {
  const u = new URL(url);
  if (u.origin !== self.location.origin) return null;
  const scope = new URL(self.registration.scope).pathname;
  let p = u.pathname.startsWith(scope) ? u.pathname.slice(scope.length) : null;
  if (p === "") p = "index.html";
  return p !== null && Object.prototype.hasOwnProperty.call(PINS, p) ? p : null;
}

self.addEventListener("fetch", (ev) => {
  if (ev.request.method !== "GET") return;
  const name = pinnedName(ev.request.url);
  if (!name) return;
  ev.respondWith((async () => {
    const hit = await caches.match(name, { cacheName: CACHE });
    return hit || fetchChecked(name);
  })());
});

self.addEventListener("message", (ev) => {
  const m = ev.data || {};
  if (m.type === "accept") { self.skipWaiting(); return; }
  if (m.type === "verify" && ev.ports[0]) {
    ev.waitUntil((async () => {
      const changed = [];
      for (const name of Object.keys(PINS)) {
        if (VERIFY_SKIP.has(name)) continue;
        try {
          const resp = await fetch(name, { cache: "no-store" });
          if (!resp.ok || (await digest(await resp.arrayBuffer())) !== PINS[name]) changed.push(name);
        } catch (e) { /* offline: nothing served, nothing changed */ }
      }
      ev.ports[0].postMessage({ version: VERSION, changed });
    })());
  }
});

const REQUEST_ID = /^req_[a-z2-7]{26}$/;

self.addEventListener("push", (ev) => {
  let id = null;
  try {
    const p = ev.data ? ev.data.json() : null;
    if (p && Object.keys(p).length === 1 && REQUEST_ID.test(p.request_id)) id = p.request_id;
  } catch (e) { /* not the server's payload */ }
  ev.waitUntil((async () => {
    await self.registration.showNotification("Assent: a request waits for you", {
      body: id ? "Open the app to see who asks, and why." : "Open the app to see your pending requests.",
      tag: id || "assent",
      icon: "icon-192.png",
      data: { request_id: id },
    });
    for (const c of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
      c.postMessage({ type: "push", request_id: id });
    }
  })());
});

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  const id = ev.notification.data && ev.notification.data.request_id;
  const target = "./#/" + (id ? "request/" + id : "requests");
  ev.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    if (wins.length) {
      await wins[0].focus();
      wins[0].postMessage({ type: "open-request", request_id: id });
      return;
    }
    await self.clients.openWindow(target);
  })());
});
