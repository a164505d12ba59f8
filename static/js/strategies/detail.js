/* A strategy's page: the signal log with each account's outcome, live. Outcomes are pushed
 * on the stream's `signals` channel (one push per account); on a push for this strategy, or
 * after a reconnect, the log is re-read from GET /api/v1/strategies/{id}/signals. A signal
 * refused as a whole (paused, outside the window) has no account outcome and so no push:
 * a slow re-read while the page is visible shows those too. Copy buttons: [data-copy]. */
(function () {
  "use strict";
  const table = document.getElementById("signal-log");
  if (!table) return;
  const O = OMS.orders;
  const F = OMS.fmt;
  const el = O.el;
  const body = document.getElementById("signal-log-body");
  const strategyId = table.dataset.strategy;
  const signalsUrl = table.dataset.signalsUrl;
  const names = JSON.parse(document.getElementById("strategy-account-names").textContent);
  const LOG_SIZE = 50;
  const REREAD_DEBOUNCE_MS = 250;
  const QUIET_REREAD_MS = 15000;
  let shown = new Set();
  let rereadTimer = null;
  let firstRender = true;

  function signalText(signal) {
    const b = signal.body || {};
    const symbol = b.symbol || "?";
    if (b.position !== undefined && b.position !== null) {
      return "position " + F.qty(b.position) + " " + symbol;
    }
    const parts = [String(b.action || "?").toUpperCase(), symbol];
    if (b.qty !== undefined && b.qty !== null) parts.push(F.qty(b.qty));
    if (b.price !== undefined && b.price !== null) parts.push("@ " + F.price(b.price, symbol));
    if (b.stop !== undefined && b.stop !== null) parts.push("stop " + F.price(b.stop, symbol));
    return parts.join(" ");
  }

  function outcomeItem(outcome) {
    const name = names[outcome.account] || String(outcome.account).slice(0, 8);
    const children = [el("span", { class: "acct", text: name })];
    if (outcome.qty !== null && outcome.qty !== undefined) children.push(el("span", { class: "mono", text: F.qty(outcome.qty) + " " }));
    (outcome.order_ids || []).forEach(function (id, index) {
      if (index) children.push(" ");
      children.push(el("a", { href: "/orders/" + id + "/", class: "mono", text: "order " + id.slice(0, 8) }));
    });
    if (outcome.reason) children.push(el("span", { class: "why", text: (outcome.order_ids.length ? " — " : "") + outcome.reason }));
    return el("li", { "data-account": outcome.account }, children);
  }

  function renderRow(signal) {
    const sender = signal.body && signal.body.id ? el("span", { class: "reason", text: "id " + signal.body.id }) : null;
    const status = [el("span", { class: "badge badge-signal-" + signal.status, text: signal.status })];
    if (signal.reason) status.push(el("span", { class: "reason", text: signal.reason }));
    const outcomes = signal.outcomes.length
      ? el("ul", { class: "outcomes" }, signal.outcomes.map(outcomeItem))
      : el("span", { class: "muted", text: signal.status === "accepted" ? "placing…" : "—" });
    return el("tr", { id: "signal-" + signal.id, "data-id": signal.id, "data-status": signal.status }, [
      el("td", { class: "mono", title: signal.received_at, text: F.time(signal.received_at) }),
      el("td", { class: "signal" }, [el("span", { class: "mono", text: signalText(signal) }), sender]),
      el("td", { "data-col": "status" }, status),
      el("td", { class: "wide" }, [outcomes]),
    ]);
  }

  function render(signals) {
    if (!signals.length) {
      body.replaceChildren(el("tr", { class: "placeholder" }, [
        el("td", { colspan: "4", class: "empty", text: "No signals yet. Post one to the webhook: it shows here as it arrives." }),
      ]));
      return;
    }
    const before = shown;
    shown = new Set(signals.map(function (s) { return s.id + ":" + s.status + ":" + s.outcomes.length; }));
    body.replaceChildren.apply(body, signals.map(function (signal) {
      const tr = renderRow(signal);
      if (!firstRender && !before.has(signal.id + ":" + signal.status + ":" + signal.outcomes.length)) tr.classList.add("fresh");
      return tr;
    }));
    if (firstRender && window.location.hash.indexOf("#signal-") === 0) {
      const target = document.getElementById(window.location.hash.slice(1));
      if (target) target.scrollIntoView({ block: "center" });
    }
    firstRender = false;
  }

  async function reread() {
    const resp = await OMS.api("GET", signalsUrl + "?limit=" + LOG_SIZE);
    if (resp.ok && resp.data) render(resp.data.results || []);
  }

  function rereadSoon() {
    clearTimeout(rereadTimer);
    rereadTimer = setTimeout(reread, REREAD_DEBOUNCE_MS);
  }

  render(JSON.parse(document.getElementById("strategy-signals").textContent));
  if (OMS.stream) {
    OMS.stream.subscribe(["signals"], function (msg) {
      if (msg.data && msg.data.strategy === strategyId) rereadSoon();
    });
    OMS.stream.on("resync", rereadSoon);
  }
  setInterval(function () {
    if (document.visibilityState === "visible") reread();
  }, QUIET_REREAD_MS);

  /* Copy buttons: <button data-copy="#id"> copies that element's text. */
  document.addEventListener("click", function (ev) {
    const button = ev.target.closest && ev.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = source.textContent;
    const done = function () { OMS.toast("Copied to the clipboard.", "ok"); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    OMS.toast("Selected: press Ctrl+C (⌘C) to copy.");
  }
})();
