/* Live quotes for market data pages.
 *
 * OMS.quotes.watch(symbols, onQuote) subscribes to `quotes:<SYMBOL>` on the page's one
 * shared stream (OMS.stream, static/js/stream.js: reconnects with backoff and re-subscribes)
 * and calls onQuote(quote) at most once per animation frame per symbol with the newest quote
 * (the server throttles to ~10/s per symbol; this coalesces again so a burst never floods the
 * page). While the stream is down it polls GET /api/v1/market-data every few seconds, so
 * prices keep moving either way.
 */
(function () {
  "use strict";
  const POLL_MS = 3000;
  const watched = new Set();
  const handlers = [];
  const pending = new Map();
  let frameQueued = false;
  let pollTimer = null;
  let streamHooked = false;

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
  function onStreamMessage(msg) {
    if (msg && msg.event === "quote") accept(msg.data);
  }
  function hookStream() {
    const stream = window.OMS && window.OMS.stream;
    if (!stream) { startPolling(); return; }
    if (streamHooked) return;
    streamHooked = true;
    stream.on("open", function () { stopPolling(); poll(); }); // catch up after a gap
    stream.on("close", startPolling);
    if (stream.state() !== "open") startPolling();
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
    const fresh = symbols.filter(s => s && !watched.has(s));
    fresh.forEach(s => watched.add(s));
    if (onQuote && handlers.indexOf(onQuote) < 0) handlers.push(onQuote);
    hookStream();
    if (window.OMS.stream && fresh.length) {
      window.OMS.stream.subscribe(fresh.map(s => "quotes:" + s), onStreamMessage);
    }
  }
  function unwatch(symbol) {
    watched.delete(symbol);
    if (window.OMS.stream) window.OMS.stream.unsubscribe(["quotes:" + symbol], onStreamMessage);
  }

  /* Formatting helpers shared by the market data pages (the rules: static/js/format.js). */
  function fmtTime(iso) {
    return window.OMS.fmt.time(iso);
  }
  function setField(root, field, text, direction) {
    root.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
      if (el.textContent === text) return;
      el.textContent = text;
      if (direction) window.OMS.flash(el, direction);
    });
  }
  function signClass(el, value) {
    window.OMS.fmt.setSign(el, value);
  }

  window.OMS = Object.assign(window.OMS || {}, {
    quotes: { watch, unwatch, fmtTime, setField, signClass },
  });
})();
