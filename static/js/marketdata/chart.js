/* Instrument page: candlestick + volume chart (lightweight-charts, served from
 * static/vendor/) that updates live as bars form, plus the quote panel.
 *
 * Each pushed quote carries the server's current 1-minute bar (`data.bar`); higher
 * intervals are rebuilt client-side from the 1m bars of the current period, the same way
 * the server derives them on read. When a new minute starts, the finished minute is
 * re-read from the API (a throttled push may have skipped its last ticks), so the chart
 * always matches the server's bars.
 */
(function () {
  "use strict";
  const el = document.getElementById("chart");
  if (!el || !window.LightweightCharts) return;
  const LC = window.LightweightCharts;
  const Q = window.OMS.quotes;
  const F = window.OMS.fmt;
  const symbol = el.dataset.symbol;
  const barsUrl = el.dataset.barsUrl;
  const exchangeOffset = parseInt(el.dataset.utcOffset || "0", 10);
  const viewerOffset = -new Date().getTimezoneOffset() * 60; // chart shows the viewer's clock
  const STEPS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };
  let interval = "1m";
  let current = null;             // the forming bar of `interval` (UTC seconds)
  let minutes = new Map();        // 1m bars (UTC seconds → bar) of the current period
  let lastMinute = null;
  let loading = null;

  const css = getComputedStyle(document.documentElement);
  const color = (name, fallback) => (css.getPropertyValue(name) || fallback).trim();
  const up = color("--up", "#22c55e"), down = color("--down", "#ef4444");
  const chart = LC.createChart(el, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: color("--muted", "#8a9bb8"), fontFamily: color("--sans", "sans-serif") },
    grid: { vertLines: { color: "rgba(36,49,79,.55)" }, horzLines: { color: "rgba(36,49,79,.55)" } },
    rightPriceScale: { borderColor: color("--border", "#24314f") },
    timeScale: { borderColor: color("--border", "#24314f"), timeVisible: true, secondsVisible: false, barSpacing: 9, rightOffset: 4 },
    crosshair: { mode: LC.CrosshairMode ? LC.CrosshairMode.Normal : 0 },
    // Axis and crosshair labels at the instrument's tick precision, grouped like every cell.
    localization: { priceFormatter: v => F.price(Number(v).toFixed(8), symbol) },
  });
  const candles = chart.addSeries(LC.CandlestickSeries, {
    upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down,
  });
  const volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "", lastValueVisible: false, priceLineVisible: false });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });

  const sec = iso => Math.floor(Date.parse(iso) / 1000);
  const num = v => parseFloat(v);
  function periodStart(t) {
    const step = STEPS[interval];
    if (interval === "1d") return Math.floor((t + exchangeOffset) / step) * step - exchangeOffset;
    return Math.floor(t / step) * step;
  }
  function toBar(b) {
    return { time: sec(b.ts), open: num(b.open), high: num(b.high), low: num(b.low), close: num(b.close), volume: num(b.volume) };
  }
  function candle(b) { return { time: b.time + viewerOffset, open: b.open, high: b.high, low: b.low, close: b.close }; }
  function vol(b) { return { time: b.time + viewerOffset, value: b.volume, color: b.close >= b.open ? "rgba(34,197,94,.45)" : "rgba(239,68,68,.45)" }; }
  function aggregate(start) {
    const list = Array.from(minutes.values()).filter(m => periodStart(m.time) === start).sort((a, b) => a.time - b.time);
    if (!list.length) return null;
    return {
      time: start, open: list[0].open, close: list[list.length - 1].close,
      high: Math.max(...list.map(m => m.high)), low: Math.min(...list.map(m => m.low)),
      volume: list.reduce((s, m) => s + m.volume, 0),
    };
  }
  function draw(bar) {
    candles.update(candle(bar));
    volume.update(vol(bar));
  }

  async function fetchBars(params) {
    const resp = await window.OMS.api("GET", barsUrl + "?" + new URLSearchParams(params));
    return resp.ok ? resp.data.results.map(toBar) : [];
  }

  async function load(newInterval) {
    interval = newInterval;
    minutes = new Map();
    current = null;
    const bars = await fetchBars({ interval, limit: 500 });
    candles.setData(bars.map(candle));
    volume.setData(bars.map(vol));
    document.getElementById("chart-empty").hidden = bars.length > 0;
    if (bars.length) {
      current = bars[bars.length - 1];
      // The 1m bars of the forming period, to keep aggregating it live.
      const since = new Date(current.time * 1000).toISOString();
      (await fetchBars({ interval: "1m", from: since, limit: 1000 })).forEach(m => minutes.set(m.time, m));
    }
    chart.timeScale().scrollToRealTime();
  }

  async function refreshMinute(minuteSec) {
    const iso = new Date(minuteSec * 1000).toISOString();
    const fresh = await fetchBars({ interval: "1m", from: iso, to: iso });
    fresh.forEach(m => minutes.set(m.time, m));
    const all = await fetchBars({ interval, limit: 500 });   // rare: once a minute
    candles.setData(all.map(candle));
    volume.setData(all.map(vol));
  }

  function onBar(raw) {
    if (!raw) return;
    const minute = toBar(raw);
    if (lastMinute !== null && minute.time > lastMinute) refreshMinute(lastMinute);
    lastMinute = Math.max(lastMinute || 0, minute.time);
    minutes.set(minute.time, minute);
    const start = periodStart(minute.time);
    if (current && start < current.time) return; // an old bar: the refresh covers it
    for (const t of minutes.keys()) if (periodStart(t) < start) minutes.delete(t);
    current = aggregate(start);
    if (current) { draw(current); document.getElementById("chart-empty").hidden = true; }
  }

  // --- quote panel ---
  const panel = document.getElementById("quote-panel");
  const head = document.querySelector(".md-price");
  let prevLast = null;
  function onQuote(q) {
    if (q.symbol !== symbol) return;
    const direction = prevLast === null ? 0 : Math.sign(num(q.last) - prevLast);
    prevLast = num(q.last);
    ["last", "bid", "ask", "open", "high", "low", "prev_close"].forEach(f => Q.setField(panel, f, F.price(q[f], symbol), f === "last" ? direction : 0));
    Q.setField(panel, "volume", F.qty(q.volume), 0);
    Q.setField(panel, "change_pct", F.percent(q.change_pct), 0);
    Q.signClass(panel.querySelector('[data-field="change_pct"]'), q.change);
    Q.setField(panel, "ts", Q.fmtTime(q.ts), 0);
    Q.setField(head, "last", F.price(q.last, symbol), direction);
    Q.setField(head, "change_line", q.change == null ? "" : F.price(q.change, symbol) + " (" + F.percent(q.change_pct) + ")", 0);
    Q.signClass(head.querySelector('[data-field="change_line"]'), q.change);
    if (q.bar) onBar(q.bar);
  }

  document.querySelectorAll(".md-intervals [data-interval]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      document.querySelectorAll(".md-intervals [data-interval]").forEach(b => b.classList.toggle("active", b === btn));
      loading = load(btn.dataset.interval);
    });
  });

  const tsEl = panel.querySelector('[data-field="ts"]');
  if (tsEl && tsEl.dataset.ts) tsEl.textContent = Q.fmtTime(tsEl.dataset.ts);
  const lastValue = head.querySelector('[data-field="last"]').dataset.value;
  prevLast = lastValue ? num(lastValue) : null;  // the server drew the figures and colours
  loading = load("1m").then(() => Q.watch([symbol], onQuote));

  // Watchlist toggle
  const toggle = document.getElementById("watch-toggle");
  if (toggle) toggle.addEventListener("click", async function () {
    const on = toggle.dataset.on === "1";
    const resp = on
      ? await window.OMS.api("DELETE", "/api/v1/watchlist/" + encodeURIComponent(symbol))
      : await window.OMS.api("POST", "/api/v1/watchlist", { symbol });
    if (!resp.ok && resp.status !== 404) { window.OMS.toast("Could not update the watchlist", "error"); return; }
    toggle.dataset.on = on ? "0" : "1";
    toggle.textContent = on ? "Add to watchlist" : "On watchlist ✓";
    toggle.classList.toggle("btn-primary", on);
  });
})();
