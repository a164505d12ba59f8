/* Watchlist page: add/remove symbols (REST), live last/bid/ask/change% with flashes. */
(function () {
  "use strict";
  const table = document.getElementById("watch-table");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  const empty = document.getElementById("watch-empty");
  const Q = window.OMS.quotes;
  const F = window.OMS.fmt;
  const lastSeen = new Map();

  function rowFor(symbol) { return tbody.querySelector('tr[data-symbol="' + CSS.escape(symbol) + '"]'); }

  function render(quote) {
    const row = rowFor(quote.symbol);
    if (!row) return;
    const prev = lastSeen.get(quote.symbol) || {};
    function dir(field) {
      const a = parseFloat(prev[field]), b = parseFloat(quote[field]);
      return isNaN(a) || isNaN(b) || a === b ? 0 : (b > a ? 1 : -1);
    }
    Q.setField(row, "last", F.price(quote.last, quote.symbol), dir("last"));
    Q.setField(row, "bid", F.price(quote.bid, quote.symbol), dir("bid"));
    Q.setField(row, "ask", F.price(quote.ask, quote.symbol), dir("ask"));
    Q.setField(row, "volume", F.qty(quote.volume), 0);
    Q.setField(row, "change", F.price(quote.change, quote.symbol), 0);
    Q.setField(row, "change_pct", F.percent(quote.change_pct), 0);
    row.querySelectorAll('[data-field="change"], [data-field="change_pct"]').forEach(el => Q.signClass(el, quote.change));
    Q.setField(row, "ts", Q.fmtTime(quote.ts), 0);
    lastSeen.set(quote.symbol, quote);
  }

  function initialRows() {
    tbody.querySelectorAll("tr[data-symbol]").forEach(function (row) {
      const ts = row.querySelector('[data-field="ts"]');
      if (ts && ts.dataset.ts) ts.textContent = Q.fmtTime(ts.dataset.ts);
      // The server drew the figures (and their colours); the exact values are in data-value.
      lastSeen.set(row.dataset.symbol, {
        last: row.querySelector('[data-field="last"]').dataset.value,
        bid: row.querySelector('[data-field="bid"]').dataset.value,
        ask: row.querySelector('[data-field="ask"]').dataset.value,
      });
    });
  }

  function buildRow(item) {
    const tr = document.createElement("tr");
    tr.dataset.symbol = item.symbol;
    const cells = [
      ["", null], ["md-hide-sm muted", null], ["num", "last"], ["num md-hide-sm", "change"], ["num", "change_pct"],
      ["num", "bid"], ["num", "ask"], ["num md-hide-sm", "volume"], ["num md-hide-sm muted", "ts"], ["num actions", null],
    ];
    cells.forEach(function ([cls, field]) {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      if (field) { td.dataset.field = field; td.textContent = "—"; }
      tr.appendChild(td);
    });
    const link = document.createElement("a");
    link.href = "/instruments/" + encodeURIComponent(item.symbol) + "/";
    const strong = document.createElement("strong");
    strong.textContent = item.symbol;
    link.appendChild(strong);
    const ex = document.createElement("small");
    ex.className = "muted md-hide-sm";
    ex.textContent = " " + item.exchange;
    tr.cells[0].append(link, ex);
    tr.cells[1].textContent = item.name;
    const btn = document.createElement("button");
    btn.type = "button"; btn.className = "btn btn-sm btn-danger"; btn.dataset.remove = item.symbol;
    btn.title = "Remove " + item.symbol; btn.textContent = "✕";
    tr.cells[9].appendChild(btn);
    return tr;
  }

  async function add(symbol) {
    symbol = (symbol || "").trim().toUpperCase();
    if (!symbol) return;
    if (rowFor(symbol)) { window.OMS.toast(symbol + " is already on your watchlist"); return; }
    const resp = await window.OMS.api("POST", "/api/v1/watchlist", { symbol });
    if (!resp.ok) {
      window.OMS.toast((resp.data && resp.data.error && resp.data.error.message) || "Could not add " + symbol, "error");
      return;
    }
    tbody.appendChild(buildRow(resp.data));
    empty.hidden = true;
    Q.watch([symbol], render);
    const quotes = await window.OMS.api("GET", "/api/v1/market-data?symbols=" + encodeURIComponent(symbol));
    if (quotes.ok) quotes.data.results.forEach(render);
  }

  async function remove(symbol) {
    const resp = await window.OMS.api("DELETE", "/api/v1/watchlist/" + encodeURIComponent(symbol));
    if (!resp.ok && resp.status !== 404) { window.OMS.toast("Could not remove " + symbol, "error"); return; }
    const row = rowFor(symbol);
    if (row) row.remove();
    Q.unwatch(symbol);
    empty.hidden = tbody.rows.length > 0;
  }

  document.getElementById("watch-add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const input = document.getElementById("watch-symbol");
    const value = input.value.split(" ")[0];
    add(value).then(() => { input.value = ""; });
  });
  document.addEventListener("click", function (ev) {
    const rm = ev.target.closest("[data-remove]");
    if (rm) { remove(rm.dataset.remove); return; }
    const ad = ev.target.closest("[data-add]");
    if (ad) add(ad.dataset.add);
  });

  let searchTimer = null;
  document.getElementById("watch-symbol").addEventListener("input", function (ev) {
    clearTimeout(searchTimer);
    const q = ev.target.value.trim();
    if (q.length < 1) return;
    searchTimer = setTimeout(async function () {
      const resp = await window.OMS.api("GET", "/api/v1/instruments?limit=20&q=" + encodeURIComponent(q));
      if (!resp.ok) return;
      const list = document.getElementById("watch-suggest");
      list.replaceChildren(...resp.data.results.map(function (i) {
        const opt = document.createElement("option");
        opt.value = i.symbol;
        opt.label = i.name + " · " + i.exchange;
        return opt;
      }));
    }, 200);
  });

  initialRows();
  const symbols = (table.dataset.symbols || "").split(",").filter(Boolean);
  Q.watch(symbols, render);
})();
