// The staff app: a kitchen display for the pantry's tablets. It listens
// to the edge's broker over MQTT 5 on WebSocket (vendor/mqtt, MQTT.js),
// acts through the staff API, and never trusts the screen over the edge:
// on every (re)connect and whenever the page is shown again it reconciles
// with a snapshot of the open queue, so nothing is missed or shown twice.
"use strict";
(() => {
  const body = document.body;
  if (!body.hasAttribute("data-staff-app")) return;
  const cfg = {
    token: body.dataset.token,
    tablet: body.dataset.tablet,
    site: body.dataset.site,
    station: body.dataset.station || "all",
    wsPort: body.dataset.wsPort,
  };
  const queueEl = document.querySelector("[data-queue]");
  const emptyEl = document.querySelector("[data-empty]");
  const banners = document.querySelector(".banners");
  const alldayEl = document.querySelector("[data-allday]");
  const recallBtn = document.querySelector('[data-action="recall"]');
  const soundBtn = document.querySelector("[data-sound-unlock]");
  const soundWarning = document.querySelector("[data-sound-warning]");
  const cancelDialog = document.querySelector("[data-cancel-dialog]");
  const stockPanel = document.getElementById("stock");
  const stockBody = document.querySelector("[data-stock]");

  // Ages at which tickets turn amber and red, per station, in seconds, as
  // the server set them on the page ("" for other stations).
  let escalations = {};
  try { escalations = JSON.parse(body.dataset.escalations || "{}"); } catch (e) { /* defaults below */ }
  const fallback = escalations[""] || [300, 600];
  const advanceLabels = { placed: "Accept", accepted: "Start", preparing: "Ready", ready: "Delivered" };
  const openStatuses = new Set(["placed", "accepted", "preparing", "ready"]);
  const recallWindowMs = 60 * 1000;

  // orders holds the open orders by id; gone remembers the version of
  // orders that closed, so an older copy (a snapshot that raced the
  // event) cannot bring one back. seq numbers every change applied, so
  // a snapshot removes only orders it is newer than.
  const orders = new Map();
  const gone = new Map();
  const lastSeq = new Map();
  let seq = 0;
  let connected = false;
  let lastBump = null; // {id, at}
  const pending = new Map(); // action_id -> {id, body}
  // dirty holds the orders whose tickets must be drawn again; a snapshot
  // redraws the whole queue.
  const dirty = new Set();
  let redrawAll = false;

  // ---- versions: Go writes RFC 3339 with up to nanoseconds ----
  function version(ts) {
    const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts || "");
    if (!m) return [0, 0];
    return [Date.parse(m[1] + m[3]), Number((m[2] || "").padEnd(9, "0"))];
  }
  function newer(a, b) {
    const va = version(a), vb = version(b);
    return va[0] !== vb[0] ? va[0] > vb[0] : va[1] > vb[1];
  }

  // apply takes one copy of an order, from any source, if it is not older
  // than what is known. It reports whether anything changed.
  function apply(o) {
    const known = orders.get(o.id);
    if (known && newer(known.updated_at, o.updated_at)) return false;
    const closedAt = gone.get(o.id);
    if (closedAt && !newer(o.updated_at, closedAt)) return false;
    lastSeq.set(o.id, ++seq);
    dirty.add(o.id);
    if (openStatuses.has(o.status)) {
      gone.delete(o.id);
      orders.set(o.id, o);
    } else {
      orders.delete(o.id);
      gone.set(o.id, o.updated_at);
    }
    return true;
  }

  function closeOrder(id) {
    const known = orders.get(id);
    if (!known) return false;
    orders.delete(id);
    gone.set(id, known.updated_at);
    lastSeq.set(id, ++seq);
    dirty.add(id);
    return true;
  }

  // ---- the staff API ----
  async function api(method, path, payload) {
    const res = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + cfg.token, "Content-Type": "application/json" },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      cache: "no-store",
    });
    if (res.status === 401) {
      location.assign("/staff"); // the login ended: sign in again
      throw new Error("signed out");
    }
    const data = res.status === 204 ? {} : await res.json();
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // snapshot reconciles with the edge's open queue: orders it lacks are
  // gone unless an event newer than the request brought them.
  let snapshotting = null;
  function snapshot() {
    if (snapshotting) return snapshotting;
    const startSeq = seq;
    snapshotting = api("GET", "/api/v1/staff/orders?status=open")
      .then((data) => {
        const seen = new Set();
        for (const o of data.orders || []) {
          seen.add(o.id);
          apply(o);
        }
        for (const id of [...orders.keys()]) {
          if (!seen.has(id) && (lastSeq.get(id) || 0) <= startSeq) closeOrder(id);
        }
        redrawAll = true;
        render();
      })
      .catch((e) => console.warn("snapshot", e))
      .finally(() => { snapshotting = null; });
    return snapshotting;
  }

  // ---- MQTT ----
  const prefix = "pantry/" + cfg.site + "/";
  let client = null;
  function connect() {
    if (!cfg.wsPort || !window.mqtt) {
      showBanner("edge", "Live updates are off on this node: the queue refreshes every few seconds.");
      setInterval(snapshot, 5000);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    client = window.mqtt.connect(scheme + location.hostname + ":" + cfg.wsPort, {
      protocolVersion: 5,
      username: cfg.tablet,
      password: cfg.token,
      clientId: "tablet-" + cfg.tablet + "-" + cfg.station + "-" + Math.random().toString(36).slice(2, 10),
      clean: true,
      keepalive: 15,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      resubscribe: false,
      // MQTT.js would run its keepalive timer in a Worker made from a blob,
      // which the page's Content-Security-Policy refuses.
      timerVariant: "native",
    });
    client.on("connect", () => {
      connected = true;
      hideBanner("edge");
      client.subscribe([prefix + "queue/+", prefix + "orders/+", prefix + "stock/+", prefix + "alerts"], { qos: 1 }, () => {
        snapshot().then(flushPending);
      });
    });
    const down = () => {
      if (!connected && banners.querySelector('[data-banner="edge"]')) return;
      connected = false;
      showBanner("edge", "Connection to the pantry server lost: reconnecting… Taps are kept and sent when it is back.");
    };
    client.on("close", down);
    client.on("offline", down);
    client.on("error", (e) => {
      console.warn("mqtt", e && e.message);
      // Refused login (0x86, 0x87): the tablet was revoked or signed out
      // elsewhere. The API tells which; a 401 there goes to sign-in.
      if (e && (e.code === 134 || e.code === 135)) api("GET", "/api/v1/staff/sync").catch(() => {});
    });
    client.on("message", onMessage);
  }

  function onMessage(topic, payload) {
    if (!topic.startsWith(prefix)) return;
    const [kind, id] = topic.slice(prefix.length).split("/");
    const text = new TextDecoder().decode(payload);
    if (kind === "queue") {
      if (text === "" ? closeOrder(id) : apply(JSON.parse(text))) render();
    } else if (kind === "orders") {
      const ev = JSON.parse(text);
      if (apply(ev.order)) {
        render();
        if (ev.event === "order.created" && mine(ev.order)) ring(2);
      }
    } else if (kind === "stock") {
      if (text !== "") stockLevel(JSON.parse(text));
    } else if (kind === "alerts") {
      const a = JSON.parse(text);
      if (a.event === "inventory.low") toast((a.name || "An item") + " is low: " + a.level + " left");
    }
  }

  // ---- rendering ----
  function lineIsMine(l) {
    return cfg.station === "all" || !l.station || l.station === cfg.station;
  }
  function mine(o) {
    return (o.lines || []).some(lineIsMine);
  }
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "type" || k === "hidden") e.setAttribute(k, v === true ? "" : v);
      else e[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function title(s) {
    return s ? s[0].toUpperCase() + s.slice(1) : "";
  }
  function ageSeconds(o) {
    return (Date.now() - version(o.created_at)[0]) / 1000;
  }
  // escalation is the station's, or on an "all" tablet the earliest of the
  // order's lines' stations (edge/web Escalations.ForOrder).
  // A scheduled order (deliver_by) escalates by its due time instead:
  // amber the station's lead before it, red ("late") once it has passed.
  function escalation(o) {
    const of = (s) => escalations[s] || fallback;
    if (cfg.station !== "all") return of(cfg.station);
    const lines = o.lines || [];
    if (!lines.length) return fallback;
    const all = lines.map((l) => of(l.station || ""));
    return [Math.min(...all.map((e) => e[0])), Math.min(...all.map((e) => e[1])), Math.max(...all.map((e) => e[2] || e[0]))];
  }
  function dueLeft(o) {
    return (version(o.deliver_by)[0] - Date.now()) / 1000;
  }
  function ageLevel(o) {
    const [amber, red, lead] = escalation(o);
    if (o.deliver_by) {
      const left = dueLeft(o);
      return left <= 0 ? "red" : left <= (lead || amber) ? "amber" : "ok";
    }
    const s = ageSeconds(o);
    return s >= red ? "red" : s >= amber ? "amber" : "ok";
  }
  function due(o) {
    if (!o.deliver_by) return null;
    const lvl = ageLevel(o);
    return lvl === "red" ? "late" : lvl === "amber" ? "soon" : "later";
  }
  function ageText(o) {
    if (o.deliver_by) {
      const left = dueLeft(o), m = Math.floor(Math.abs(left) / 60);
      if (left > 0 && m >= 60) return "in " + Math.floor(m / 60) + " h " + (m % 60) + " min";
      return left > 0 && m >= 1 ? "in " + m + " min" : left > -60 ? "now" : m + " min late";
    }
    const m = Math.floor(ageSeconds(o) / 60);
    return m < 1 ? "just now" : m + " min";
  }
  function dueAt(o) {
    const d = new Date(version(o.deliver_by)[0]);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }
  // fireAt orders the queue: when work on the order should start.
  function fireAt(o) {
    const placed = version(o.created_at)[0];
    if (!o.deliver_by) return placed;
    return Math.max(placed, version(o.deliver_by)[0] - (escalation(o)[2] || 0) * 1000);
  }
  function labels(list, cls, icon, what) {
    return (list || []).map((x) => el("span", { class: cls, "aria-label": what + ": " + x }, icon + " " + x));
  }
  function lineEl(l) {
    return el("li", { class: lineIsMine(l) ? "" : "other-station" },
      el("span", { class: "qty" }, l.quantity + "×"), " ",
      el("span", { class: "name" }, l.name),
      ...labels(l.allergens, "allergen", "⚠", "allergen"),
      ...labels(l.tags, "tag", "●", "dietary"),
      l.note ? el("span", { class: "note" }, l.note) : null);
  }
  function ticketEl(o) {
    const isPending = [...pending.values()].some((p) => p.id === o.id);
    const payment = o.payment === "cost_center" ? "Cost center " + (o.cost_center || "") : "Complimentary";
    return el("article", { class: "ticket", "data-order-id": o.id, "data-status": o.status, "data-age": ageLevel(o), "data-due": due(o), "data-pending": isPending },
      el("header", {},
        el("h3", {}, o.space_name || "Room"),
        el("span", { class: "status" }, title(o.status)),
        o.deliver_by ? el("span", { class: "due" }, "for " + dueAt(o)) : null,
        el("span", { class: "age", "data-age-text": true }, ageText(o))),
      el("ul", { class: "lines" }, ...(o.lines || []).map(lineEl)),
      o.note ? el("p", { class: "order-note" }, o.note) : null,
      el("p", { class: "meta" }, (o.deliver_to === "pickup" ? "Pickup" : "To the room") + " · " + payment),
      el("div", { class: "actions" },
        advanceLabels[o.status] ? el("button", { type: "button", "data-action": "advance", "data-from": o.status, disabled: isPending }, isPending ? "Sending…" : advanceLabels[o.status]) : null,
        o.status === "placed" || o.status === "accepted" ? el("button", { type: "button", "data-action": "cancel", "data-from": o.status, class: "danger", disabled: isPending }, "Cancel") : null));
  }

  function before(a, b) {
    const fa = fireAt(a), fb = fireAt(b);
    if (fa !== fb) return fa < fb;
    if (a.created_at !== b.created_at) return newer(b.created_at, a.created_at);
    return a.id < b.id;
  }
  function sorted() {
    return [...orders.values()].filter(mine).sort((a, b) => (before(a, b) ? -1 : 1));
  }

  // render updates the queue in place: only the tickets that changed are
  // drawn again, tickets keep their position and new ones go where their
  // time puts them (at the end, nearly always), so nothing jumps under a
  // finger and a long queue costs no more per event than a short one.
  function render() {
    if (redrawAll) {
      redrawAll = false;
      for (const t of [...queueEl.children]) if (!orders.has(t.dataset.orderId)) t.remove();
      for (const o of sorted()) dirty.add(o.id);
    }
    for (const id of dirty) draw(id);
    dirty.clear();
    const list = sorted();
    emptyEl.hidden = list.length > 0;
    renderAllDay(list);
    recallBtn.disabled = !(lastBump && Date.now() - lastBump.at < recallWindowMs);
  }

  function draw(id) {
    const o = orders.get(id);
    const cur = queueEl.querySelector('[data-order-id="' + CSS.escape(id) + '"]');
    if (!o || !mine(o)) {
      if (cur) cur.remove();
      return;
    }
    const fresh = ticketEl(o);
    if (cur) {
      if (cur.outerHTML !== fresh.outerHTML) cur.replaceWith(fresh);
      return;
    }
    // After the last ticket that comes before o.
    let prev = queueEl.lastElementChild;
    while (prev && orders.has(prev.dataset.orderId) && before(o, orders.get(prev.dataset.orderId))) prev = prev.previousElementSibling;
    if (prev) prev.after(fresh);
    else queueEl.prepend(fresh);
  }

  function renderAllDay(list) {
    const counts = new Map();
    for (const o of list) for (const l of o.lines || []) if (lineIsMine(l)) counts.set(l.name, (counts.get(l.name) || 0) + l.quantity);
    alldayEl.replaceChildren(...[...counts].sort((a, b) => b[1] - a[1]).map(([n, q]) => el("li", {}, n + " ×" + q)));
  }

  // Ages count up, and a ticket turning red rings once.
  setInterval(() => {
    for (const t of queueEl.children) {
      const o = orders.get(t.dataset.orderId);
      if (!o) continue;
      const lvl = ageLevel(o);
      if (lvl === "red" && t.dataset.age !== "red") ring(1);
      t.dataset.age = lvl;
      if (o.deliver_by) t.dataset.due = due(o);
      t.querySelector("[data-age-text]").textContent = ageText(o);
    }
    recallBtn.disabled = !(lastBump && Date.now() - lastBump.at < recallWindowMs);
  }, 5000);

  // ---- banners and toasts ----
  function showBanner(kind, text) {
    let b = banners.querySelector('[data-banner="' + kind + '"]');
    if (!b) {
      b = el("p", { class: "banner banner-" + kind, "data-banner": kind, role: "alert" });
      banners.append(b);
    }
    b.textContent = text;
  }
  function hideBanner(kind) {
    const b = banners.querySelector('[data-banner="' + kind + '"]');
    if (b) b.remove();
  }
  function toast(text) {
    const t = el("p", { class: "toast", role: "status" }, text);
    document.body.append(t);
    setTimeout(() => t.remove(), 6000);
  }

  // The building's link to the cloud: staff must know, without fearing
  // for orders, which the edge keeps whatever the link does.
  async function checkCloud() {
    try {
      const r = await api("GET", "/api/v1/staff/sync");
      const waiting = (r.outbox && r.outbox.unpushed) || 0;
      const ageMin = Math.floor(((r.outbox && r.outbox.oldest_unpushed_age_seconds) || 0) / 60);
      if (r.enrolled && r.consecutive_failures > 0 && ageMin >= 2) {
        showBanner("cloud", "Cloud unreachable for " + ageMin + " min, " + waiting + " events waiting. Orders are safe here and go up when the link is back.");
      } else hideBanner("cloud");
    } catch (e) { /* the edge banner says it if the edge is unreachable */ }
  }
  setInterval(checkCloud, 20000);
  checkCloud();

  // ---- actions ----
  function newID() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // act sends an action once; a tap while the edge is unreachable is kept
  // as pending (shown on the ticket) and sent, with the same id, when the
  // connection is back: the edge answers a repeated id with its first
  // answer, so nothing happens twice.
  async function act(id, body) {
    const actionID = newID();
    const p = { id, body: Object.assign({ action_id: actionID }, body) };
    pending.set(actionID, p);
    dirty.add(id);
    render();
    await send(actionID, p);
  }

  async function send(actionID, p) {
    dirty.add(p.id);
    try {
      const o = await api("POST", "/api/v1/staff/orders/" + encodeURIComponent(p.id) + "/actions", p.body);
      pending.delete(actionID);
      if (p.body.action === "advance") lastBump = { id: p.id, at: Date.now() };
      if (p.body.action === "recall") lastBump = null;
      if (o && o.id) apply(o);
    } catch (e) {
      if (e.status) {
        pending.delete(actionID);
        toast(e.message);
        snapshot();
      } else if (connected) {
        setTimeout(() => send(actionID, p), 2000);
        return;
      }
    }
    dirty.add(p.id);
    render();
  }

  function flushPending() {
    for (const [actionID, p] of pending) send(actionID, p);
  }

  let cancelling = null;
  queueEl.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    const t = btn.closest("[data-order-id]");
    const id = t.dataset.orderId;
    if (btn.dataset.action === "advance") act(id, { action: "advance", from: btn.dataset.from });
    if (btn.dataset.action === "cancel") {
      cancelling = { id, from: btn.dataset.from };
      cancelDialog.showModal();
    }
  });
  cancelDialog.addEventListener("close", () => {
    const form = cancelDialog.querySelector("form");
    if (cancelDialog.returnValue === "confirm" && cancelling) {
      let reason = form.reason.value;
      if (reason === "other") reason = form.other.value.trim() || "Other";
      act(cancelling.id, { action: "cancel", from: cancelling.from, reason });
    }
    cancelling = null;
    form.reset();
  });
  recallBtn.addEventListener("click", () => {
    if (!lastBump) return;
    const o = orders.get(lastBump.id);
    act(lastBump.id, { action: "recall", from: o ? o.status : "delivered" });
  });

  // ---- sound ----
  // A new order rings twice and a ticket turning red once. With "repeat"
  // on (kept per tablet), the tablet rings again every repeatSec while any
  // of its tickets waits to be accepted, so a busy pantry cannot miss one.
  const repeatBtn = document.querySelector("[data-sound-repeat]");
  const repeatMs = (Number(body.dataset.repeatSec) || 30) * 1000;
  let repeat = localStorage.getItem("pantry.repeat") === "on";
  let lastRing = 0;
  function showRepeat() {
    repeatBtn.setAttribute("aria-pressed", repeat ? "true" : "false");
  }
  repeatBtn.addEventListener("click", () => {
    repeat = !repeat;
    localStorage.setItem("pantry.repeat", repeat ? "on" : "off");
    showRepeat();
  });
  showRepeat();
  setInterval(() => {
    if (!repeat || Date.now() - lastRing < repeatMs - 250) return;
    if ([...orders.values()].some((o) => o.status === "placed" && mine(o))) ring(2);
  }, Math.min(repeatMs, 5000));
  let audio = null;
  function soundOn() {
    return audio && audio.state === "running";
  }
  function showSoundState() {
    soundWarning.hidden = soundOn();
    soundBtn.setAttribute("aria-pressed", soundOn() ? "true" : "false");
    soundBtn.textContent = soundOn() ? "Sound on" : "Start shift (sound on)";
  }
  soundBtn.addEventListener("click", async () => {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    await audio.resume();
    ring(1);
    showSoundState();
  });
  function ring(times) {
    if (!soundOn()) { showSoundState(); return; }
    lastRing = Date.now();
    for (let i = 0; i < times; i++) {
      const osc = audio.createOscillator(), gain = audio.createGain();
      const start = audio.currentTime + i * 0.35;
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.3, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.3);
    }
  }
  showSoundState();

  // ---- stock ----
  // The panel lists every item's level (live from the retained stock
  // topics), low items first, with the sold-out switch and a dialog to
  // record a restock, waste or count with its reason.
  const stock = new Map();
  const stockDialog = document.querySelector("[data-stock-dialog]");
  const stockForm = document.querySelector("[data-stock-form]");
  const stockError = document.querySelector("[data-stock-error]");
  const qtyLabel = document.querySelector("[data-stock-qty-label]");
  let stockItem = null;
  function stockLevel(m) {
    const s = stock.get(m.item_id) || { item_id: m.item_id, name: m.item_id };
    Object.assign(s, { level: m.level, low: m.low, sold_out: !!m.sold_out });
    stock.set(m.item_id, s);
    renderStock();
  }
  async function loadStock() {
    try {
      const r = await api("GET", "/api/v1/staff/stock");
      for (const it of r.items || []) stock.set(it.item_id, Object.assign(stock.get(it.item_id) || {}, it, { sold_out: !!it.sold_out }));
      renderStock();
    } catch (e) { console.warn("stock", e); }
  }
  function renderStock() {
    if (stockPanel.hidden) return;
    const rows = [...stock.values()].sort((a, b) => (a.low === b.low ? (a.name || "").localeCompare(b.name || "") : a.low ? -1 : 1));
    stockBody.replaceChildren(...rows.map((s) => {
      const name = s.name || s.item_id;
      return el("tr", { "data-item-id": s.item_id, "data-sold-out": s.sold_out, class: s.low ? "low" : "" },
        el("th", { scope: "row" }, name),
        el("td", { "data-level": true }, String(s.level), s.low ? el("span", { class: "low-flag" }, " ⚠ low") : null),
        el("td", {}, s.sold_out ? el("span", { class: "sold-out" }, "Sold out ") : null,
          el("button", { type: "button", "data-stock-action": s.sold_out ? "back" : "soldout", "aria-label": (s.sold_out ? "Back on the menu: " : "Sold out: ") + name },
            s.sold_out ? "Back" : "Sold out")),
        el("td", {}, el("button", { type: "button", "data-stock-action": "move", "aria-label": "Restock, waste or count " + name }, "Adjust…")));
    }));
  }
  stockBody.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-stock-action]");
    if (!btn) return;
    const item = btn.closest("[data-item-id]").dataset.itemId;
    const a = btn.dataset.stockAction;
    if (a === "move") {
      stockItem = item;
      stockForm.reset();
      stockError.hidden = true;
      stockDialog.querySelector("h2").textContent = "Stock: " + ((stock.get(item) || {}).name || item);
      showQtyLabel();
      stockDialog.showModal();
      return;
    }
    btn.disabled = true;
    try {
      const r = await api("POST", "/api/v1/staff/items/" + encodeURIComponent(item) + "/availability", { available: a === "back", action_id: newID() });
      const s = stock.get(item);
      if (s && r) s.sold_out = a !== "back";
      renderStock();
    } catch (e) {
      btn.disabled = false;
      toast(e.message);
    }
  });
  function showQtyLabel() {
    qtyLabel.textContent = stockForm.reason.value === "count" ? "Level counted on the shelf" : "How many";
  }
  stockForm.addEventListener("change", showQtyLabel);
  stockForm.addEventListener("submit", async (ev) => {
    if (!ev.submitter || ev.submitter.value !== "save") return;
    ev.preventDefault();
    const reason = stockForm.reason.value;
    const qty = Number(stockForm.qty.value);
    const body = { item_id: stockItem, reason };
    if (reason === "count") body.level = qty;
    else body.delta = reason === "waste" ? -qty : qty;
    try {
      stockLevel(await api("POST", "/api/v1/staff/stock/movements", body));
      stockDialog.close();
    } catch (e) {
      stockError.textContent = e.message;
      stockError.hidden = false;
    }
  });
  document.querySelector("[data-toggle-stock]").addEventListener("click", (ev) => {
    const open = stockPanel.hidden;
    stockPanel.hidden = !open;
    ev.currentTarget.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) loadStock();
  });

  // ---- catch-up whenever the page comes back ----
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    if (client && !client.connected) client.reconnect();
    else snapshot();
  });
  window.addEventListener("pageshow", (ev) => {
    if (ev.persisted) snapshot();
  });

  // The server rendered the queue; take it over from a fresh snapshot.
  snapshot();
  connect();
})();
