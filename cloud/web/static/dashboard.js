// The dashboard's one script: it enhances server-rendered pages and is
// never needed to use them. On the live orders page it follows the
// organization's orders over Server-Sent Events (/orders/events): a
// changed order's row changes in place, a new one is fetched as the
// server renders it and added on top, and after a gap (the stream fell
// behind or reconnected) the list is read again.
"use strict";
(() => {
  const tbody = document.querySelector("[data-orders]");
  if (!tbody || !window.EventSource) return;
  const params = new URLSearchParams(location.search);
  if (params.get("cursor")) return; // an older page stays as it is
  const site = params.get("site") || "", status = params.get("status") || "";
  const open = new Set(["placed", "accepted", "preparing", "ready"]);
  const liveNote = document.querySelector("[data-live]");
  const empty = document.querySelector("[data-empty]");
  const matches = (ev) => (!site || ev.site_id === site) && (!status || ev.status === status || (status === "open" && open.has(ev.status)));

  async function fetchRow(id) {
    const res = await fetch("/orders/" + encodeURIComponent(id) + "/row", { cache: "no-store" });
    if (!res.ok) return null;
    const t = document.createElement("template");
    t.innerHTML = (await res.text()).trim();
    return t.content.firstElementChild;
  }

  async function onOrder(ev) {
    const cur = tbody.querySelector('[data-order-id="' + CSS.escape(ev.id) + '"]');
    if (!matches(ev)) {
      if (cur) cur.remove();
      return;
    }
    const row = await fetchRow(ev.id);
    if (!row) return;
    row.classList.add("fresh");
    const again = tbody.querySelector('[data-order-id="' + CSS.escape(ev.id) + '"]');
    if (again) again.replaceWith(row);
    else tbody.prepend(row);
    tbody.closest("table").hidden = false;
    if (empty) empty.hidden = true;
  }

  async function reload() {
    const res = await fetch(location.href, { cache: "no-store" });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.querySelector("[data-orders]");
    if (!fresh) return;
    // A row that reads the same stays the very element it was, wherever
    // the list moves it: a row being clicked must not be swapped under
    // the pointer for its twin, nor for a new order arriving above it.
    const have = new Map([...tbody.children].map((r) => [r.dataset.orderId, r]));
    const rows = [...fresh.children].map((r) => {
      const old = have.get(r.dataset.orderId);
      return old && old.outerHTML.replace(/ class="fresh"/, "") === r.outerHTML ? old : r;
    });
    if (rows.length === tbody.children.length && rows.every((r, i) => r === tbody.children[i])) return;
    tbody.replaceChildren(...rows);
    tbody.closest("table").hidden = tbody.children.length === 0;
    if (empty) empty.hidden = tbody.children.length > 0;
  }

  // Changes made while no stream was open (between the page being made
  // and the stream opening, or while it reconnected) are not in the
  // stream: read the list again each time it opens.
  const es = new EventSource("/orders/events");
  es.addEventListener("open", () => {
    liveNote.hidden = false;
    reload().catch((err) => console.warn("reload", err));
  });
  es.addEventListener("error", () => { liveNote.hidden = true; });
  es.addEventListener("order", (e) => { onOrder(JSON.parse(e.data)).catch((err) => console.warn("order", err)); });
  es.addEventListener("resync", () => { reload().catch((err) => console.warn("reload", err)); });
  es.addEventListener("signed-out", () => { es.close(); location.assign("/login"); });
})();

// A page made to be printed (the restock list) has a Print button
// (data-print), hidden until this script can make it work.
(() => {
  for (const button of document.querySelectorAll("[data-print]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
})();

// A secret shown once (an enrollment command, a tablet's password) has a
// "Copy" button, hidden unless the page can copy: data-copy names the id
// of the element whose text it copies.
(() => {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(source.textContent.trim())
        .then(() => { button.textContent = "Copied"; })
        .catch((err) => console.warn("copy", err));
    });
  }
})();
