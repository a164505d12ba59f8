/* Positions page: one card per account, unrealized PnL ticking with every quote.
 *
 * Server figures (GET /api/v1/positions, `position.updated` pushes on the `positions`
 * channel) are the truth; between them each quote on `quotes:<SYM>` moves the display:
 *   unrealized = server unrealized + (mark − server mark) × qty × multiplier
 * which equals Σ (mark − entry) × signed qty × multiplier over the open lots (FIFO), the
 * server's own formula. While the stream is down quotes are polled every few seconds.
 */
(function () {
  "use strict";
  const P = window.OMS.pnl;
  const F = window.OMS.fmt;
  const el = P.el;
  const dataNode = document.getElementById("positions-data");
  const root = document.getElementById("position-groups");
  if (!dataNode || !root) return;
  const initial = JSON.parse(dataNode.textContent);
  const selected = initial.selected || "";
  const accounts = new Map(initial.accounts.map(a => [a.id, a]));
  const positions = new Map(); // "account|SYM" → server position (+ multiplier)
  const multipliers = new Map(); // SYM → number
  const marks = new Map(); // SYM → latest quote price (number)
  const quoteChannels = new Set();
  const REFRESH_MS = 30000;
  const POLL_MS = 3000;
  let streamOpen = false;

  const key = p => p.account + "|" + p.symbol;
  const num = v => (v === null || v === undefined || v === "" ? NaN : parseFloat(v));

  function remember(p) {
    if (p.multiplier) multipliers.set(p.symbol, num(p.multiplier));
    else if (!multipliers.has(p.symbol)) {
      const mv = num(p.market_value), mp = num(p.market_price), q = num(p.qty);
      multipliers.set(p.symbol, isFinite(mv) && mp && q ? Math.abs(mv / (mp * q)) : 1);
    }
    positions.set(key(p), p);
  }

  /* What to show for a position right now (numbers, for display only). */
  function live(p) {
    const q = num(p.qty);
    const mult = multipliers.get(p.symbol) || 1;
    const mark = marks.has(p.symbol) ? marks.get(p.symbol) : num(p.market_price);
    let unrealized = num(p.unrealized_pnl);
    let marketValue = num(p.market_value);
    if (q && isFinite(mark)) {
      const serverMark = num(p.market_price);
      unrealized = isFinite(unrealized) && isFinite(serverMark)
        ? unrealized + (mark - serverMark) * q * mult
        : (mark - num(p.avg_entry_price)) * q * mult;
      marketValue = q * mark * mult;
    }
    const realized = num(p.realized_pnl), fees = num(p.fees);
    const net = realized + (isFinite(unrealized) ? unrealized : 0) - fees;
    return { q, mark, unrealized, marketValue, realized, fees, net };
  }

  function sideBadge(q) {
    if (q > 0) return el("span", { class: "badge badge-buy", text: "long" });
    if (q < 0) return el("span", { class: "badge badge-sell", text: "short" });
    return el("span", { class: "badge", text: "flat" });
  }

  async function closePositions(account, symbol, description, button) {
    if (!window.confirm(description + "\n\nMarket orders go out immediately. Continue?")) return;
    const body = symbol ? { account: account.id, symbol } : { account: account.id };
    if (button) button.disabled = true; // one click, one close
    let resp;
    try {
      resp = await window.OMS.api("POST", "/api/v1/positions/close", body);
    } finally {
      if (button) button.disabled = false;
    }
    if (!resp.ok) { window.OMS.toast(P.errorText(resp), "error"); return; }
    const placed = resp.data.orders || [];
    if (!placed.length) window.OMS.toast("Nothing to close.", "warning");
    placed.forEach(o => window.OMS.toast("Market " + o.side + " " + o.qty + " " + o.symbol + ": " + window.OMS.words.state(o.status), "success"));
    (resp.data.errors || []).forEach(e => window.OMS.toast(e.symbol + ": " + e.error.message, "error"));
    refresh();
  }

  function row(p, account) {
    const v = live(p);
    const lotsUrl = "/positions/" + p.account + "/" + encodeURIComponent(p.symbol) + "/lots/";
    const actions = el("td", { class: "actions" }, [el("a", { class: "btn btn-sm", href: lotsUrl, text: "Lots" })]);
    if (account.can_trade && v.q) {
      const side = v.q > 0 ? "sell" : "buy";
      actions.appendChild(el("button", {
        type: "button", class: "btn btn-sm btn-danger", "data-close": p.symbol, text: "Close",
        onclick: ev => closePositions(account, p.symbol, "Close " + p.symbol + " on " + account.name + ": " + side + " " + String(p.qty).replace("-", "") + " at market?", ev.currentTarget),
      }));
    }
    const cell = (field, text) => el("td", { class: "num", "data-field": field, text });
    const tr = el("tr", { "data-key": key(p), "data-symbol": p.symbol, class: v.q ? "" : "flat" }, [
      el("td", { class: "sym" }, [el("a", { href: lotsUrl, text: p.symbol })]),
      el("td", {}, [sideBadge(v.q)]),
      cell("qty", F.qty(p.qty)),
      cell("avg", F.avg(p.avg_entry_price, p.symbol)),
      cell("mark", isFinite(v.mark) ? F.price(marks.has(p.symbol) ? marks.get(p.symbol) : p.market_price, p.symbol) : "—"),
      cell("market_value", ""),
      cell("unrealized", ""),
      cell("realized", ""),
      cell("fees", ""),
      cell("net", ""),
      actions,
    ]);
    paintRow(tr, v, false);
    return tr;
  }

  function paintRow(tr, v, flash) {
    const f = name => tr.querySelector('[data-field="' + name + '"]');
    P.setMoney(f("market_value"), v.marketValue, false);
    f("market_value").classList.remove("up", "down");
    P.setMoney(f("unrealized"), v.unrealized, flash);
    P.setMoney(f("realized"), v.realized, false);
    P.setMoney(f("fees"), v.fees, false);
    f("fees").classList.remove("up", "down");
    P.setMoney(f("net"), v.net, flash);
  }

  function groupFigures(list) {
    return list.reduce((acc, p) => {
      const v = live(p);
      acc.unrealized += isFinite(v.unrealized) ? v.unrealized : 0;
      acc.realized += v.realized; acc.fees += v.fees; acc.net += v.net;
      return acc;
    }, { unrealized: 0, realized: 0, fees: 0, net: 0 });
  }

  function paintFigures(container, figures, flash) {
    ["unrealized", "realized", "fees", "net"].forEach(name => {
      const node = container.querySelector('[data-total="' + name + '"]');
      P.setMoney(node, figures[name], flash && (name === "unrealized" || name === "net"));
      if (name === "fees") node.classList.remove("up", "down");
    });
  }

  function byAccount() {
    const groups = new Map();
    Array.from(positions.values())
      .filter(p => !selected || p.account === selected)
      .sort((a, b) => a.symbol.localeCompare(b.symbol))
      .forEach(p => {
        if (!groups.has(p.account)) groups.set(p.account, []);
        groups.get(p.account).push(p);
      });
    return groups;
  }

  function render() {
    root.replaceChildren();
    const groups = byAccount();
    if (!groups.size) {
      root.appendChild(el("div", { class: "card empty", text: "No open positions, and nothing traded today." }));
    }
    const order = Array.from(groups.keys()).sort((a, b) => (accounts.get(a) || { name: a }).name.localeCompare((accounts.get(b) || { name: b }).name));
    order.forEach(accountId => {
      const account = accounts.get(accountId) || { id: accountId, name: accountId, can_trade: false };
      const list = groups.get(accountId);
      const open = list.filter(p => num(p.qty));
      const figure = (name, label) => el("span", {}, [el("small", { text: label }), el("b", { "data-total": name, text: "—" })]);
      const head = el("div", { class: "acct-head" }, [
        el("h2", { text: account.name }),
        el("div", { class: "figures" }, [figure("unrealized", "Unrealized"), figure("realized", "Realized"), figure("fees", "Fees"), figure("net", "Net")]),
      ]);
      if (account.can_trade && open.length) {
        head.appendChild(el("button", {
          type: "button", class: "btn btn-danger", "data-close-all": account.id, text: "Close all",
          onclick: ev => closePositions(account, null, "Close ALL " + open.length + " position(s) on " + account.name + " (" + open.map(p => p.symbol + " " + p.qty).join(", ") + ")?", ev.currentTarget),
        }));
      }
      const table = el("table", { class: "positions cards", "data-account": account.id }, [
        el("thead", {}, [el("tr", {}, ["Symbol", "Side", "Qty", "Avg entry", "LTP", "Mkt value", "Unrealized", "Realized", "Fees", "Net", ""].map((h, i) => el("th", { class: i >= 2 && i <= 9 ? "num" : "", text: h })))]),
        el("tbody", {}, list.map(p => row(p, account))),
      ]);
      const card = el("section", { class: "card acct-card", "data-account": account.id }, [head, el("div", { class: "table-wrap" }, [table])]);
      paintFigures(card, groupFigures(list), false);
      root.appendChild(card);
    });
    paintTotals(false);
    watchQuotes();
  }

  function paintTotals(flash) {
    const visible = Array.from(positions.values()).filter(p => !selected || p.account === selected);
    const t = groupFigures(visible);
    P.setMoney(document.getElementById("tot-unrealized"), t.unrealized, flash);
    P.setMoney(document.getElementById("tot-realized"), t.realized, false);
    P.setMoney(document.getElementById("tot-fees"), t.fees, false);
    document.getElementById("tot-fees").classList.remove("up", "down");
    P.setMoney(document.getElementById("tot-net"), t.net, flash);
  }

  function onQuote(quote) {
    if (!quote || !quote.symbol || quote.last === null || quote.last === undefined) return;
    const mark = num(quote.last);
    if (!isFinite(mark) || marks.get(quote.symbol) === mark) return;
    marks.set(quote.symbol, mark);
    root.querySelectorAll('tr[data-symbol="' + CSS.escape(quote.symbol) + '"]').forEach(tr => {
      const p = positions.get(tr.dataset.key);
      if (!p) return;
      const v = live(p);
      const markCell = tr.querySelector('[data-field="mark"]');
      const markText = F.price(quote.last, quote.symbol);
      if (markCell.textContent !== markText) {
        markCell.textContent = markText;
        window.OMS.flash(markCell, mark - num(markCell.dataset.value || quote.last));
      }
      markCell.dataset.value = String(mark);
      paintRow(tr, v, true);
    });
    root.querySelectorAll("section.acct-card").forEach(card => {
      const list = Array.from(positions.values()).filter(p => p.account === card.dataset.account);
      paintFigures(card, groupFigures(list), true);
    });
    paintTotals(true);
  }

  function watchQuotes() {
    const wanted = new Set(Array.from(positions.values()).filter(p => num(p.qty)).map(p => "quotes:" + p.symbol));
    const fresh = Array.from(wanted).filter(c => !quoteChannels.has(c));
    if (fresh.length && window.OMS.stream) {
      fresh.forEach(c => quoteChannels.add(c));
      window.OMS.stream.subscribe(fresh, msg => { if (msg.event === "quote") onQuote(msg.data); });
    }
  }

  function accept(p) {
    if (selected && p.account !== selected) return;
    const known = positions.get(key(p));
    if (known && known.multiplier && !p.multiplier) p.multiplier = known.multiplier;
    // A server figure replaces the client's estimate; quotes move it on from there.
    if (p.market_price !== null && p.market_price !== undefined) marks.delete(p.symbol);
    remember(p);
  }

  async function refresh() {
    const url = "/api/v1/positions?limit=1000" + (selected ? "&account=" + encodeURIComponent(selected) : "");
    const resp = await window.OMS.api("GET", url);
    if (!resp.ok || !resp.data) return;
    const fresh = new Map();
    resp.data.results.forEach(p => fresh.set(key(p), p));
    Array.from(positions.keys()).forEach(k => { if (!fresh.has(k)) positions.delete(k); });
    fresh.forEach(p => accept(p));
    render();
  }

  async function pollQuotes() {
    if (streamOpen || document.hidden) return;
    const symbols = Array.from(new Set(Array.from(positions.values()).filter(p => num(p.qty)).map(p => p.symbol)));
    if (!symbols.length) return;
    const resp = await window.OMS.api("GET", "/api/v1/market-data?symbols=" + encodeURIComponent(symbols.join(",")));
    if (resp.ok && resp.data) resp.data.results.forEach(onQuote);
  }

  initial.positions.forEach(accept);
  render();

  if (window.OMS.stream) {
    streamOpen = window.OMS.stream.state() === "open";
    window.OMS.stream.on("state", s => { streamOpen = s.state === "open"; });
    window.OMS.stream.on("open", refresh); // catch up on anything missed while disconnected
    window.OMS.stream.subscribe(["positions"], msg => {
      if (msg.event !== "position.updated" || !msg.data) return;
      accept(msg.data);
      render();
    });
  }
  setInterval(refresh, REFRESH_MS);
  setInterval(pollQuotes, POLL_MS);
})();
