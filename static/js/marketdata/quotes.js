/* Live quotes for market data pages.
 *
 * OMS.quotes.watch(symbols, onQuote) subscribes to `quotes:<SYMBOL>` on the /ws/stream/
 * WebSocket (reconnecting with backoff) and calls onQuote(quote) at most once per animation
 * frame per symbol with the newest quote (the server throttles to ~10/s per symbol; this
 * coalesces again so a burst never floods the page). While the socket is down it polls
 * GET /api/v1/market-data every few seconds, so prices keep moving either way.
 */
(function () {
  "use strict";
  const POLL_MS = 3000;
  const watched = new Set();
  const handlers = [];
  const pending = new Map();
  let frameQueued = false;
  let socket = null;
  let socketOpen = false;
  let backoff = 500;
  let pollTimer = null;

  function deliver() {
    frameQueued = false;
    const batch = Array.from(pending.values());
    pending.clear();
    for (const quote of batch) for (const fn of handlers) fn(quote);
  }
  function accept(quote) {
    if (!quote || !watched.has(quote.symbol)) return;
    const prev = pending.get(quote.symbol);
    if (prev && prev.ts && quote.ts && quote.ts < prev.ts) return; // never go back in time
    pending.set(quote.symbol, quote);
    if (!frameQueued) { frameQueued = true; window.requestAnimationFrame(deliver); }
  }
  function setStatus(state) {
    const dot = document.getElementById("live-status");
    if (dot && !window.OMS_STREAM_OWNS_STATUS) {
      dot.dataset.state = state;
      dot.title = "Live quotes: " + (state === "open" ? "streaming" : state === "closed" ? "polling" : state);
    }
  }
  function subscribeAll() {
    if (socketOpen && watched.size) {
      socket.send(JSON.stringify({ action: "subscribe", channels: Array.from(watched, s => "quotes:" + s) }));
    }
  }
  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    try { socket = new WebSocket(proto + location.host + "/ws/stream/"); }
    catch (e) { scheduleReconnect(); return; }
    socket.onopen = function () { socketOpen = true; backoff = 500; setStatus("open"); stopPolling(); subscribeAll(); };
    socket.onmessage = function (ev) {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && msg.event === "quote" && typeof msg.channel === "string" && msg.channel.indexOf("quotes:") === 0) accept(msg.data);
    };
    socket.onclose = function () { socketOpen = false; setStatus("closed"); startPolling(); scheduleReconnect(); };
    socket.onerror = function () { /* onclose follows */ };
  }
  function scheduleReconnect() {
    const delay = backoff * (0.5 + Math.random() / 2);
    backoff = Math.min(backoff * 2, 30000);
    setTimeout(connect, delay);
  }
  async function poll() {
    if (!watched.size || document.hidden) return;
    const url = "/api/v1/market-data?symbols=" + encodeURIComponent(Array.from(watched).join(","));
    try {
      const resp = await window.OMS.api("GET", url);
      if (resp.ok && resp.data) resp.data.results.forEach(q => { if (q.ts) accept(q); });
    } catch (e) { /* offline: try again next time */ }
  }
  function startPolling() { if (!pollTimer) { pollTimer = setInterval(poll, POLL_MS); poll(); } }
  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }

  function watch(symbols, onQuote) {
    symbols.forEach(s => s && watched.add(s));
    if (onQuote && handlers.indexOf(onQuote) < 0) handlers.push(onQuote);
    if (!socket) connect(); else subscribeAll();
  }
  function unwatch(symbol) {
    watched.delete(symbol);
    if (socketOpen) socket.send(JSON.stringify({ action: "unsubscribe", channels: ["quotes:" + symbol] }));
  }

  /* Formatting helpers shared by the market data pages. */
  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? "—" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function setField(root, field, text, direction) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
      if (el.textContent === text) return;
      el.textContent = text;
      if (direction) window.OMS.flash(el, direction);
    });
  }
  function signClass(el, value) {
    el.classList.remove("up", "down");
    const n = parseFloat(value);
    if (n > 0) el.classList.add("up"); else if (n < 0) el.classList.add("down");
  }

  window.OMS = Object.assign(window.OMS || {}, {
    quotes: { watch, unwatch, fmtTime, setField, signClass },
  });
})();
