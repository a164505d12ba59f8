/* The blotter's rows name the strategy that placed an order: rows (drawn and redrawn by
 * orders/blotter.js) are looked up in batches at /strategies/order-links/?ids=…, and the
 * symbol cell of a strategy's order gets a link to its strategy and signal (plain text when
 * the viewer does not own the strategy). Answers are kept, so a redrawn row asks nothing. */
(function () {
  "use strict";
  const body = document.getElementById("blotter-body");
  if (!body) return;
  const URL_BASE = "/strategies/order-links/?ids=";
  const BATCH = 100;
  const known = new Map(); // order id → link or null (no strategy)
  const pending = new Set();
  let timer = null;

  function decorate(tr) {
    const link = known.get(tr.dataset.id);
    if (!link || tr.querySelector(".strategy-link")) return;
    const cell = tr.children[2];
    if (!cell) return;
    const tag = document.createElement(link.own ? "a" : "span");
    tag.className = "strategy-link";
    tag.style.display = "block";
    tag.style.fontSize = ".72rem";
    tag.textContent = "⚙ " + link.strategy_name;
    tag.title = "Placed by strategy " + link.strategy_name + " (signal " + link.signal.slice(0, 8) + ")";
    if (link.own) tag.href = "/strategies/" + link.strategy + "/#signal-" + link.signal;
    cell.appendChild(tag);
  }

  async function lookUp() {
    const ids = Array.from(pending).slice(0, BATCH);
    ids.forEach(function (id) { pending.delete(id); });
    if (!ids.length) return;
    const resp = await OMS.api("GET", URL_BASE + ids.join(","));
    if (!resp.ok || !resp.data) return;
    ids.forEach(function (id) { known.set(id, resp.data.links[id] || null); });
    body.querySelectorAll("tr[data-id]").forEach(decorate);
    if (pending.size) lookUp();
  }

  function scan() {
    body.querySelectorAll("tr[data-id]").forEach(function (tr) {
      if (known.has(tr.dataset.id)) decorate(tr);
      else pending.add(tr.dataset.id);
    });
    if (pending.size) {
      clearTimeout(timer);
      timer = setTimeout(lookUp, 150);
    }
  }

  new MutationObserver(scan).observe(body, { childList: true });
  scan();
})();
