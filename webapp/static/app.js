// The approval app's page. It draws what the WebAssembly device
// (globalThis.assentDevice, webapp/wasm) returns and passes the user's input
// to it; every check, proof, signature and the ledger are the device's.
// Text from the server is only ever set as textContent, never as HTML.
"use strict";

const WASM_URL = "device.wasm";
const WASM_INTEGRITY = "__ASSENT_SRI_WASM__";
const API_URL = __ASSENT_API__;
const POLL_MS = 3000;

const $ = (id) => document.getElementById(id);
const dev = () => globalThis.assentDevice;
let codeChanged = null; // a plain warning when the served code is not the pinned one
let pollTimer = null;
let current = null; // the request on screen
let lastState = null; // the device's state at the last route

function status(text) { $("status").textContent = text; }

function warn(id, text, level) {
  let p = $(id);
  if (!text) { if (p) p.remove(); return; }
  if (!p) { p = document.createElement("p"); p.id = id; $("warnings").append(p); }
  p.className = level || "";
  p.textContent = text;
}

function show(screen) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "screen-" + screen;
  document.body.dataset.screen = screen;
  const h = document.querySelector("#screen-" + screen + " h2");
  if (h) { h.tabIndex = -1; h.focus(); }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function field(dl, name, value, cls) {
  dl.append(el("dt", name), el("dd", value, cls));
}

function size(n) {
  if (n < 1024) return n + " bytes";
  if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB (" + n + " bytes)";
  return (n / 1048576).toFixed(1) + " MiB (" + n + " bytes)";
}

function when(iso) {
  const d = new Date(iso);
  const s = Math.round((d - Date.now()) / 1000);
  return d.toISOString().replace(".000Z", "Z") + (s > 0 ? " (in " + Math.floor(s / 60) + " min " + (s % 60) + " s)" : " (expired)");
}

// --- start: the device, the service worker and the storage ---

async function loadDevice() {
  const t0 = performance.now();
  const go = new Go();
  const resp = await fetch(WASM_URL, { integrity: WASM_INTEGRITY, cache: "no-store" });
  if (!resp.ok) throw new Error("the device code did not load (" + resp.status + ")");
  const { instance } = await WebAssembly.instantiateStreaming(resp, go.importObject);
  const ready = new Promise((resolve) => { globalThis.assentDeviceReady = resolve; });
  go.run(instance);
  await ready;
  document.body.dataset.loadMs = String(Math.round(performance.now() - t0));
}

async function serviceWorker() {
  if (!("serviceWorker" in navigator)) {
    warn("w-sw", "This browser has no service worker: the app cannot check that its code stays the same, nor be woken by a push.", "warning");
    return;
  }
  const reg = await navigator.serviceWorker.register("sw.js", { scope: "./" });
  navigator.serviceWorker.addEventListener("message", (ev) => {
    const m = ev.data || {};
    if ((m.type === "push" || m.type === "open-request") && /^req_[a-z2-7]{26}$/.test(m.request_id || "")) {
      document.body.dataset.pushed = m.request_id;
      location.hash = "#/request/" + m.request_id;
    }
  });
  const changed = await checkCode(reg);
  reg.addEventListener("updatefound", () => checkCode(reg));
  return changed;
}

// checkCode asks the active service worker, which pins the hashes of the
// bundle it installed, whether what the origin serves now is the same; a
// waiting worker means a new version the user has not accepted.
async function checkCode(reg) {
  const sw = navigator.serviceWorker.controller;
  let text = null;
  if (reg.waiting || reg.installing) {
    if (sw) text = "The app's code on this server changed (a new version). Unlocking is refused until you accept it: check the release notes of the operator of this site first.";
  }
  if (sw && !text) {
    const answer = await new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = (ev) => resolve(ev.data);
      sw.postMessage({ type: "verify" }, [ch.port2]);
      setTimeout(() => resolve({ error: "the service worker did not answer" }), 10000);
    });
    document.body.dataset.version = answer.version || "";
    if (answer.changed && answer.changed.length) {
      text = "The code this site serves is not the code this app was installed with (" + answer.changed.join(", ") + " changed without a new version). Unlocking is refused: someone may be trying to take your keys. Do not enter your passphrase.";
    }
  }
  codeChanged = text;
  warn("w-code", text, "alarm");
  const accept = $("accept-update");
  if (text && reg.waiting && !accept) {
    const b = el("button", "Accept the new version");
    b.id = "accept-update"; b.type = "button";
    b.addEventListener("click", () => { reg.waiting.postMessage({ type: "accept" }); setTimeout(() => location.reload(), 500); });
    $("warnings").append(b);
  }
  for (const id of ["unlock-submit", "enroll-submit", "passkey-unlock"]) $(id).disabled = !!text;
  return text;
}

async function storage() {
  if (navigator.storage && navigator.storage.persist) {
    const persisted = await navigator.storage.persisted() || await navigator.storage.persist();
    document.body.dataset.persisted = String(persisted);
    if (!persisted) warn("w-persist", "This browser may clear the app's storage when space runs low; install the app (Add to Home Screen) so that it keeps your device share.", "warning");
  }
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  const standalone = matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  if (ios && !standalone) {
    warn("w-ios", "On iPhone and iPad, install this app: tap Share, then Add to Home Screen. Safari deletes a site's storage after 7 days without a visit, which would lose your device share, and only an installed app receives push notifications.", "warning");
  }
}

// --- screens ---

async function route() {
  stopPolling();
  const st = await dev().state();
  lastState = st;
  document.body.dataset.state = st.unlocked ? "ready" : st.enrolled ? "locked" : "enroll";
  $("nav").hidden = !st.unlocked;
  if (st.error) status(st.error);
  if (document.body.dataset.join === "waiting") return show("join");
  if (!st.enrolled) return show("enroll");
  if (!st.unlocked) {
    show("unlock");
    $("passkey-unlock").hidden = !st.passkey.set_up;
    $("unlock-pass").focus();
    return;
  }
  document.body.dataset.unlockedBy = st.unlocked_by;
  const h = location.hash;
  let m;
  if ((m = /^#\/request\/(req_[a-z2-7]{26})$/.exec(h))) return showRequest(m[1]);
  if (h === "#/ledger") return showLedger();
  if (h === "#/devices") return showDevices(st);
  if (h === "#/audit") return showAudit();
  if (h === "#/pair") return showPair();
  return showRequests();
}

function stopPolling() { if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; } }

async function showRequests() {
  show("requests");
  const list = $("request-list");
  list.replaceChildren();
  delete document.body.dataset.pending;
  const draw = async () => {
    let reqs;
    try { reqs = await dev().pending(); } catch (e) { status("Could not list the requests: " + e.message); return; }
    list.replaceChildren();
    for (const r of reqs) {
      const li = el("li");
      li.dataset.requestId = r.request_id;
      const a = el("a", (r.kind === "create" ? "Seal: " : r.kind === "access" ? "Open: " : r.kind === "add_device" ? "Add a device: " : "") + (r.record.title || r.request_id));
      a.href = r.kind === "add_device" ? "#/pair" : "#/request/" + r.request_id;
      li.append(a, el("div", "by " + r.requester + " — " + r.purpose, "note"));
      if (r.refused) li.append(el("div", "Refused by this device: " + r.refused, "alarm"));
      list.append(li);
    }
    $("no-requests").hidden = reqs.length > 0;
    document.body.dataset.pending = String(reqs.length);
  };
  await draw();
  const tick = async () => { if (document.body.dataset.screen !== "requests") return; await draw(); pollTimer = setTimeout(tick, POLL_MS); };
  pollTimer = setTimeout(tick, POLL_MS);
}

async function showRequest(id) {
  show("request");
  current = null;
  document.body.dataset.request = "loading";
  const dl = $("request-fields");
  dl.replaceChildren();
  $("request-result").textContent = "";
  $("request-refused").hidden = true;
  $("request-match").hidden = true;
  delete document.body.dataset.decidedBy;
  $("request-ledger").textContent = "";
  $("request-ask").textContent = "Loading request " + id + "…";
  $("approve").disabled = $("deny").disabled = true;
  let p;
  try { p = await dev().show(id); } catch (e) { $("request-ask").textContent = "Could not load the request: " + e.message; return; }
  if (p.refused) {
    $("request-ask").textContent = "This device will not answer request " + id + ".";
    $("request-refused").textContent = p.refused;
    $("request-refused").hidden = false;
    document.body.dataset.request = "refused";
    return;
  }
  current = p;
  $("request-ask").textContent = p.kind === "create" ? "Seal a new record for you?" : "Let " + p.requester_name + " open a record?";
  field(dl, "Requester", p.requester_name + " (" + p.requester_id + ")");
  field(dl, "Purpose", p.purpose);
  const r = p.kind === "access" && p.unknown_to_ledger ? p.server_record : p.record;
  field(dl, "Record", r.title);
  field(dl, "Content type", r.content_type);
  field(dl, "Size", size(r.size));
  field(dl, "SHA-256", r.sha256, "mono");
  field(dl, "Record id", p.record_id, "mono");
  field(dl, "Expires", when(p.expires_at));
  field(dl, "Request id", p.request_id, "mono");
  const note = $("request-ledger");
  if (p.kind === "create") {
    note.textContent = "New to your ledger: approving seals exactly this content (its SHA-256 is signed).";
  } else if (p.unknown_to_ledger && p.known_from_chain && !p.mismatch) {
    note.textContent = "Not in this device's ledger, but your audit chain shows its creation approved by a device you verified (the digest shown is the server's, and matches the chain).";
    note.className = "warning";
  } else if (p.unknown_to_ledger) {
    note.textContent = "NOT IN YOUR LEDGER: this device never approved creating this record, so nothing but the server vouches for what it is.";
    note.className = "alarm";
  } else if (p.mismatch) {
    note.textContent = "WARNING: the server describes this record differently from your ledger (shown: your ledger's).";
    note.className = "alarm";
  } else {
    note.textContent = "As your ledger knows it: you approved sealing this record.";
    note.className = "note";
  }
  $("approve").disabled = $("deny").disabled = false;
  $("match-code").value = "";
  $("request-match").hidden = !p.require_match;
  document.body.dataset.request = "shown";
}

async function decide(decision) {
  if (!current) return;
  const id = current.request_id;
  const typed = $("match-code").value.trim();
  if (decision === "approve" && current.require_match && !/^[0-9]{2}$/.test(typed)) {
    $("request-result").textContent = "Type the two digits the requester shows first.";
    $("match-code").focus();
    return;
  }
  $("approve").disabled = $("deny").disabled = true;
  $("request-result").textContent = decision === "approve" ? "Approving…" : "Denying…";
  try {
    let prf = "";
    if (decision === "approve" && lastState && lastState.unlocked_by === "passkey") {
      $("request-result").textContent = "Confirm with your passkey…";
      prf = await passkeyPRF(lastState.passkey.credential_id, lastState.passkey.salt);
    }
    const res = await dev().decide(id, decision, typed, prf);
    if (res.decided_by === "match_failed") {
      $("request-result").textContent = "Denied: the code you typed is not the one the requester shows. The request is refused, and the audit chain records why.";
    } else {
      $("request-result").textContent = (res.decision === "approve" ? "Approved" : "Denied") + ": the server recorded " + res.state + ".";
    }
    document.body.dataset.decidedBy = res.decided_by;
    document.body.dataset.request = res.state;
    document.body.dataset.deviceMs = String(res.device_ms);
  } catch (e) {
    $("request-result").textContent = "Not answered: " + e.message;
    document.body.dataset.request = "error";
  }
  current = null;
}

async function showLedger() {
  show("ledger");
  const list = $("ledger-list");
  list.replaceChildren();
  let entries;
  try { entries = await dev().ledger(); } catch (e) { status("Could not read the ledger: " + e.message); return; }
  for (const e of entries) {
    const li = el("li");
    li.dataset.requestId = e.request_id;
    li.append(el("strong", e.decision.toUpperCase() + " " + e.kind + (e.record ? ": " + e.record.title : "")));
    li.append(el("div", e.at + " — " + e.requester + " — " + e.purpose, "note"));
    li.append(el("div", "decided by: " + e.decided_by + " — server: " + e.server));
    if (e.record) li.append(el("div", "sha-256 " + e.record.sha256, "mono"));
    list.append(li);
  }
  if (!entries.length) list.append(el("li", "No answers yet."));
  document.body.dataset.ledger = String(entries.length);
}

async function showDevices(st) {
  show("devices");
  $("fingerprint").textContent = st.fingerprint + " (" + st.device_id + ")";
  const list = $("device-list");
  list.replaceChildren(el("li", "Checking the audit chain…"));
  let a;
  try { a = await dev().audit(); } catch (e) { list.replaceChildren(el("li", "Could not verify the audit chain: " + e.message, "alarm")); return; }
  list.replaceChildren();
  for (const d of a.devices) {
    const li = el("li");
    li.append(el("strong", d.device_id + (d.this ? " (this device)" : "")));
    li.append(el("div", "platform: " + d.platform + " — state: " + d.state + " — enrolled " + d.enrolled_at, "note"));
    if (d.key_id) li.append(el("div", "key " + d.key_id, "mono"));
    list.append(li);
  }
  soleHolder(a);
  const pk = st.passkey;
  $("passkey-status").textContent = pk.set_up
    ? "A passkey unlocks this device" + (pk.backed_up ? " (synced by its provider to your other devices: whoever holds that account can unlock it)." : pk.backup_eligible ? " (it may be synced later by its provider)." : " (kept on this device only).") + " Each approval asks for it again; the passphrase still works."
    : "Unlocked by passphrase only.";
  $("passkey-setup").hidden = pk.set_up || !(await passkeyAvailable());
}

// --- passkey (WebAuthn PRF) ---

const enc = new TextEncoder();
function b64u(buf) { let s = ""; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b); return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); }
function unb64u(s) { s = s.replace(/-/g, "+").replace(/_/g, "/"); while (s.length % 4) s += "="; return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)); }
async function prfInput(salt) { return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(salt))); }
function rnd(n) { return crypto.getRandomValues(new Uint8Array(n)); }

async function passkeyAvailable() {
  if (!globalThis.PublicKeyCredential) return false;
  try {
    if (PublicKeyCredential.getClientCapabilities) {
      const c = await PublicKeyCredential.getClientCapabilities();
      if (c["extension:prf"] === false) return false;
    }
  } catch (e) { /* unknown: offer it, the setup says if it fails */ }
  return true;
}

// passkeyPRF asks the authenticator (user verification required) for the
// PRF output that opens the passkey keystore; the challenge is local, the
// key is the proof.
async function passkeyPRF(credId, salt) {
  const cred = await navigator.credentials.get({ publicKey: {
    challenge: rnd(32), allowCredentials: [{ type: "public-key", id: unb64u(credId) }],
    userVerification: "required", timeout: 60000,
    extensions: { prf: { eval: { first: await prfInput(salt) } } },
  } });
  const r = cred.getClientExtensionResults();
  if (!r.prf || !r.prf.results || !r.prf.results.first) throw new Error("this passkey gives no PRF output");
  return b64u(r.prf.results.first);
}

async function passkeySetup() {
  const st = lastState;
  const cred = await navigator.credentials.create({ publicKey: {
    rp: { name: "Assent approvals" },
    user: { id: rnd(16), name: "assent-" + st.device_id, displayName: "Assent device " + st.device_id },
    challenge: rnd(32),
    pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
    authenticatorSelection: { authenticatorAttachment: "platform", residentKey: "required", userVerification: "required" },
    timeout: 60000,
    extensions: { prf: { eval: { first: await prfInput(st.passkey.salt) } } },
  } });
  const ext = cred.getClientExtensionResults();
  if (!ext.prf || ext.prf.enabled === false) throw new Error("this browser's passkeys offer no PRF extension; keep using the passphrase");
  const flags = new Uint8Array(cred.response.getAuthenticatorData())[32];
  const credId = b64u(cred.rawId);
  const prf = ext.prf.results && ext.prf.results.first ? b64u(ext.prf.results.first) : await passkeyPRF(credId, st.passkey.salt);
  await dev().passkeySetup(prf, credId, (flags & 0x08) !== 0, (flags & 0x10) !== 0);
}

function soleHolder(a) {
  warn("w-sole", a.sole_holder ? "This app is the only device holding your device share, and no recovery kit was made here: if this browser's storage is lost, every record sealed for you is lost. Add a second device or make a recovery kit." : "", "warning");
}

async function showAudit() {
  show("audit");
  const list = $("finding-list");
  list.replaceChildren();
  $("audit-summary").textContent = "Verifying the audit chain…";
  let a;
  try { a = await dev().audit(); } catch (e) { $("audit-summary").textContent = "The audit chain does not verify: " + e.message; return; }
  $("audit-summary").textContent = a.entries + " entries verified; head: " + a.head + ".";
  for (const f of a.findings) list.append(el("li", f.text, f.level));
  soleHolder(a);
}

// --- adding a device (transfer) ---

let pairing = null; // the pairing string whose request is on screen

function showPair() {
  show("pair");
  pairing = null;
  $("pair-request").hidden = true;
  $("pair-result").textContent = "";
  $("pair-scan").hidden = !("BarcodeDetector" in globalThis);
  delete document.body.dataset.pair;
}

async function findPair(text) {
  $("pair-request").hidden = true;
  $("pair-result").textContent = "Looking for the request…";
  try {
    const r = await dev().showAddDevice(text.trim());
    pairing = text.trim();
    const dl = $("pair-fields");
    dl.replaceChildren();
    field(dl, "New device", r.device_id, "mono");
    field(dl, "Its name", r.name);
    field(dl, "Request", r.request_id, "mono");
    field(dl, "Expires", when(r.expires_at));
    $("pair-request").hidden = false;
    $("pair-result").textContent = "";
    $("pair-pass").hidden = $("pair-pass").previousElementSibling.hidden = lastState && lastState.unlocked_by === "passkey";
    document.body.dataset.pair = "shown";
  } catch (e) {
    $("pair-result").textContent = "No request found: " + e.message;
    document.body.dataset.pair = "error";
  }
}

async function answerPair(decision) {
  if (!pairing) return;
  $("pair-approve").disabled = $("pair-deny").disabled = true;
  $("pair-result").textContent = decision === "approve" ? "Sealing your device share to the new device…" : "Refusing…";
  try {
    let prf = "";
    if (lastState && lastState.unlocked_by === "passkey") prf = await passkeyPRF(lastState.passkey.credential_id, lastState.passkey.salt);
    const r = await dev().answerAddDevice(pairing, decision, $("pair-pass").value, prf);
    $("pair-pass").value = "";
    $("pair-result").textContent = decision === "approve"
      ? "Added: the server says " + r.state + ". The new device receives your device share, sealed to it."
      : "Refused: the server says " + r.state + ". That device can never answer for you.";
    document.body.dataset.pair = r.state;
    $("pair-request").hidden = true;
    pairing = null;
  } catch (e) {
    $("pair-pass").value = "";
    $("pair-result").textContent = "Not answered: " + e.message;
    document.body.dataset.pair = "error";
  } finally { $("pair-approve").disabled = $("pair-deny").disabled = false; }
}

async function scanPair(file) {
  try {
    const codes = await new BarcodeDetector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
    if (!codes.length) throw new Error("no QR code in the picture");
    $("pair-string").value = codes[0].rawValue;
    await findPair(codes[0].rawValue);
  } catch (e) { $("pair-result").textContent = "Could not read the QR code: " + e.message; }
}

// --- joining an account by transfer (this phone as the new device) ---

const SVG_NS = "http://www.w3.org/2000/svg";

// drawQR draws the QR code's modules (rows of "1" dark, "0" light, from
// the device) as an SVG built with DOM calls: one rect per run of dark
// modules, on a light square with a quiet zone of 4 modules.
function drawQR(box, rows, text) {
  const n = rows.length, q = 4, size = n + 2 * q;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + size + " " + size);
  svg.setAttribute("width", String(size * 6));
  svg.setAttribute("height", String(size * 6));
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code of the pairing string " + text);
  const bg = document.createElementNS(SVG_NS, "rect");
  bg.setAttribute("width", String(size)); bg.setAttribute("height", String(size)); bg.setAttribute("fill", "#fff");
  svg.append(bg);
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length;) {
      if (row[x] !== "1") { x++; continue; }
      let w = 1;
      while (row[x + w] === "1") w++;
      const r = document.createElementNS(SVG_NS, "rect");
      r.setAttribute("class", "m");
      r.setAttribute("x", String(x + q)); r.setAttribute("y", String(y + q));
      r.setAttribute("width", String(w)); r.setAttribute("height", "1");
      r.setAttribute("fill", "#000");
      svg.append(r);
      x += w;
    }
  });
  box.replaceChildren(svg);
}

let joinTimer = null;

async function join(serverURL, code, passphrase, name, started) {
  status("Enrolling for a transfer…");
  const v = await dev().joinStart(serverURL, code, passphrase, name);
  started();
  status("");
  show("join");
  $("join-pairing").textContent = v.pairing;
  drawQR($("join-qr"), v.qr, v.pairing);
  $("join-progress").hidden = false;
  $("join-cancel").hidden = false;
  $("join-restart").hidden = true;
  document.body.dataset.join = "waiting";
  document.body.dataset.joinDevice = v.device_id;
  const t0 = Date.now();
  const tick = () => {
    const s = Math.round((Date.now() - t0) / 1000);
    $("join-status").textContent = "Waiting for your other device to approve device " + v.device_id + "… (" + Math.floor(s / 60) + " min " + (s % 60) + " s; this phone asks the server every 2 s)";
  };
  tick();
  joinTimer = setInterval(tick, 5000);
  try {
    await dev().joinWait();
    clearInterval(joinTimer);
    $("join-status").textContent = "Added: your device share arrived, sealed to this phone; the ledger and audit head of your other device were imported.";
    document.body.dataset.join = "joined";
    status("Added to your account by transfer.");
    if (globalThis.Notification && Notification.permission === "default") Notification.requestPermission().catch(() => {});
    subscribePush();
    location.hash = "#/requests";
    await route();
  } catch (e) {
    clearInterval(joinTimer);
    $("join-progress").hidden = true;
    $("join-cancel").hidden = true;
    $("join-restart").hidden = false;
    $("join-status").textContent = "Not added: " + e.message;
    document.body.dataset.join = "failed";
    $("join-restart").focus();
  }
}

async function copyPairing() {
  const text = $("join-pairing").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("join-status").textContent = "Pairing string copied.";
  } catch (e) {
    const r = document.createRange();
    r.selectNodeContents($("join-pairing"));
    getSelection().removeAllRanges(); getSelection().addRange(r);
    $("join-status").textContent = "Copying is not allowed here: the pairing string is selected, copy it by hand.";
  }
}

// --- push ---

async function subscribePush() {
  try {
    const reg = await navigator.serviceWorker.ready;
    if (!reg.pushManager) return;
    const cfg = await dev().pushConfig();
    const key = Uint8Array.from(atob(cfg.vapid_public_key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    let sub = await reg.pushManager.getSubscription();
    if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await dev().pushSubscribe(JSON.stringify(sub.toJSON()));
    document.body.dataset.push = "subscribed";
  } catch (e) {
    document.body.dataset.push = "unavailable";
    status("Push notifications are off (" + e.message + "); the app checks for requests while open.");
  }
}

// --- wiring ---

function wire() {
  $("enroll-server").value = API_URL;
  $("enroll-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (codeChanged) return;
    const f = ev.target;
    if (f.passphrase.value !== f.passphrase2.value) { status("The two passphrases differ."); f.passphrase2.focus(); return; }
    $("enroll-submit").disabled = true;
    if (f.join.checked) {
      try {
        const server = f.server.value.trim();
        await join(server, f.code.value.trim(), f.passphrase.value, f.name.value.trim(), () => { f.reset(); f.server.value = server; });
      } catch (e) {
        status("Enrollment failed: " + e.message);
      } finally { $("enroll-submit").disabled = !!codeChanged; }
      return;
    }
    status("Enrolling… (deriving the key from your passphrase takes a few seconds)");
    try {
      await dev().enroll(f.server.value.trim(), f.code.value.trim(), f.passphrase.value, f.name.value.trim());
      f.reset();
      status("Enrolled.");
      if (globalThis.Notification && Notification.permission === "default") Notification.requestPermission().catch(() => {});
      subscribePush();
      location.hash = "#/requests";
      await route();
    } catch (e) {
      status("Enrollment failed: " + e.message);
    } finally { $("enroll-submit").disabled = !!codeChanged; }
  });
  $("unlock-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (codeChanged) { status(codeChanged); return; }
    const f = ev.target;
    $("unlock-submit").disabled = true;
    status("Unlocking…");
    try {
      await dev().unlock(f.passphrase.value);
      f.reset();
      status("Unlocked.");
      subscribePush();
      await route();
    } catch (e) {
      f.passphrase.value = "";
      status("Not unlocked: " + e.message);
    } finally { $("unlock-submit").disabled = !!codeChanged; }
  });
  $("join-copy").addEventListener("click", () => copyPairing());
  $("join-cancel").addEventListener("click", async () => {
    $("join-status").textContent = "Cancelling…";
    try { await dev().joinCancel(); } catch (e) { $("join-status").textContent = "Not cancelled: " + e.message; }
  });
  $("join-restart").addEventListener("click", async () => { delete document.body.dataset.join; status(""); await route(); $("enroll-code").focus(); });
  $("pair-form").addEventListener("submit", (ev) => { ev.preventDefault(); findPair($("pair-string").value); });
  $("pair-approve").addEventListener("click", () => answerPair("approve"));
  $("pair-deny").addEventListener("click", () => answerPair("deny"));
  $("pair-image").addEventListener("change", (ev) => { if (ev.target.files[0]) scanPair(ev.target.files[0]); });
  $("approve").addEventListener("click", () => decide("approve"));
  $("deny").addEventListener("click", () => decide("deny"));
  $("refresh").addEventListener("click", () => route());
  $("passkey-setup").addEventListener("click", async () => {
    status("Creating a passkey…");
    try { await passkeySetup(); status("Passkey set up: it unlocks this device from now on."); document.body.dataset.passkey = "set-up"; await route(); }
    catch (e) { status("No passkey: " + e.message); document.body.dataset.passkey = "failed"; }
  });
  $("passkey-unlock").addEventListener("click", async () => {
    if (codeChanged) { status(codeChanged); return; }
    status("Unlocking with your passkey…");
    try {
      const st = lastState;
      await dev().unlockPasskey(await passkeyPRF(st.passkey.credential_id, st.passkey.salt));
      status("Unlocked.");
      subscribePush();
      await route();
    } catch (e) { status("Not unlocked: " + e.message); }
  });
  $("lock").addEventListener("click", async () => { await dev().lock(); await route(); });
  addEventListener("hashchange", () => route());
}

async function main() {
  const t0 = performance.now();
  wire();
  storage().catch(() => {});
  try {
    await Promise.all([loadDevice(), serviceWorker().catch((e) => warn("w-sw", "Service worker: " + e.message, "warning"))]);
  } catch (e) {
    $("h-loading").textContent = "The device did not start";
    status(e.message);
    document.body.dataset.state = "failed";
    return;
  }
  document.body.dataset.readyMs = String(Math.round(performance.now() - t0));
  await route();
}

main();
