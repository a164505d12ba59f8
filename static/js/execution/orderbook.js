/* Live depth of one internal-exchange book: subscribes `book:<SYMBOL>` on the stream,
   re-reads the REST depth when the stream has been quiet for a while (reconnects, no stream). */
(function () {
  "use strict";
  const root = document.getElementById("orderbook");
  if (!root) return;
  const symbol = root.dataset.symbol;
  const depth = Number(root.dataset.depth || 10);
  const bidsBody = document.getElementById("bids-body");
  const asksBody = document.getElementById("asks-body");
  const bestBid = document.getElementById("best-bid");
  const bestAsk = document.getElementById("best-ask");
  const spread = document.getElementById("spread");
  const lastEl = document.getElementById("last-price");
  const tsEl = document.getElementById("book-ts");
  const picker = document.getElementById("symbol-select");
  const F = window.OMS.fmt;
  const QUIET_MS = 10000;
  let lastEvent = 0;
  let pending = null;

  if (picker) {
    picker.addEventListener("change", function () {
      window.location.href = "/orderbook/" + encodeURIComponent(picker.value) + "/";
    });
  }

  function decimals(text) {
    const i = String(text).indexOf(".");
    return i < 0 ? 0 : String(text).length - i - 1;
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    return td;
  }
  function renderSide(body, levels, maxQty, isBid) {
    const rows = document.createDocumentFragment();
    levels.slice(0, depth).forEach(function (lvl) {
      const tr = document.createElement("tr");
      tr.className = "level";
      const price = cell(F.price(lvl.price, symbol), "num price");
      const qty = cell(F.qty(lvl.qty), "num");
      const orders = cell(String(lvl.orders), "num");
      const cells = isBid ? [orders, qty, price] : [price, qty, orders];
      cells.forEach(function (td) { tr.appendChild(td); });
      const pct = maxQty > 0 ? Math.max(2, Math.round((Number(lvl.qty) / maxQty) * 100)) : 0;
      tr.style.setProperty("--w", pct + "%");
      rows.appendChild(tr);
    });
    if (!levels.length) {
      const tr = document.createElement("tr");
      tr.className = "empty-row";
      const td = cell(isBid ? "No bids" : "No asks", "empty");
      td.colSpan = 3;
      tr.appendChild(td);
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }
  function setTop(el, value) {
    const old = el.dataset.value;
    el.dataset.value = value == null ? "" : value;
    el.textContent = value == null ? "—" : F.price(value, symbol);
    if (old && value != null && Number(old) !== Number(value) && window.OMS.flash) {
      window.OMS.flash(el, Number(value) >= Number(old) ? 1 : -1);
    }
  }
  function render(book) {
    const bids = book.bids || [];
    const asks = book.asks || [];
    const all = bids.slice(0, depth).concat(asks.slice(0, depth));
    const maxQty = all.reduce(function (m, l) { return Math.max(m, Number(l.qty)); }, 0);
    renderSide(bidsBody, bids, maxQty, true);
    renderSide(asksBody, asks, maxQty, false);
    const bb = bids.length ? bids[0].price : null;
    const ba = asks.length ? asks[0].price : null;
    setTop(bestBid, bb);
    setTop(bestAsk, ba);
    if (bb != null && ba != null) {
      const places = Math.max(decimals(bb), decimals(ba));
      spread.textContent = F.price((Number(ba) - Number(bb)).toFixed(places), symbol);
    } else {
      spread.textContent = "—";
    }
    if (book.ts) tsEl.textContent = F.time(book.ts);
  }
  function schedule(book) {
    // Coalesce bursts to one paint per animation frame.
    const first = pending === null;
    pending = book;
    if (first) {
      window.requestAnimationFrame(function () { const b = pending; pending = null; render(b); });
    }
  }
  async function refresh() {
    if (!window.OMS || !window.OMS.api) return;
    const resp = await window.OMS.api("GET", "/api/v1/orderbook/" + encodeURIComponent(symbol) + "?depth=" + depth);
    if (resp.ok && resp.data) schedule(resp.data);
  }

  // The server's rows carry their exact figures in data-*; redraw them the same way.
  function levelsOf(body) {
    return Array.from(body.querySelectorAll("tr.level")).map(function (tr) {
      return { orders: Number(tr.dataset.orders), qty: tr.dataset.qty, price: tr.dataset.price };
    });
  }
  render({ bids: levelsOf(bidsBody), asks: levelsOf(asksBody), ts: tsEl.dataset.ts || null });

  if (window.OMS && window.OMS.stream) {
    window.OMS.stream.subscribe(["book:" + symbol, "quotes:" + symbol], function (msg) {
      lastEvent = Date.now();
      if (msg.event === "book" && msg.data) schedule(msg.data);
      else if (msg.event === "quote" && msg.data && msg.data.last != null) setTop(lastEl, msg.data.last);
    });
  }
  window.setInterval(function () {
    if (document.visibilityState === "visible" && Date.now() - lastEvent > QUIET_MS) refresh();
  }, QUIET_MS);
})();
