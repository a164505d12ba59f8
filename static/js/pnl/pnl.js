/* PnL page: totals, equity curve and daily bars (lightweight-charts from static/vendor),
 * per-symbol, per-tag and per-day tables, all from GET /api/v1/pnl. Filters live in the
 * URL so a view can be bookmarked; the CSV export links follow them. */
(function () {
  "use strict";
  const P = window.OMS.pnl;
  const el = P.el;
  const form = document.getElementById("pnl-filters");
  if (!form) return;
  const LC = window.LightweightCharts;
  const css = getComputedStyle(document.documentElement);
  const color = (name, fallback) => (css.getPropertyValue(name) || fallback).trim();
  const up = color("--up", "#22c55e"), down = color("--down", "#ef4444"), accent = color("--accent", "#3b82f6");
  const charts = {};

  function makeChart(id) {
    const box = document.getElementById(id);
    if (!box || !LC) return null;
    return LC.createChart(box, {
      autoSize: true,
      layout: { background: { color: "transparent" }, textColor: color("--muted", "#8a9bb8"), fontFamily: color("--sans", "sans-serif") },
      grid: { vertLines: { color: "rgba(36,49,79,.55)" }, horzLines: { color: "rgba(36,49,79,.55)" } },
      rightPriceScale: { borderColor: color("--border", "#24314f") },
      timeScale: { borderColor: color("--border", "#24314f") },
      localization: { priceFormatter: v => P.money(Number(v).toFixed(2)) },
    });
  }

  function setupCharts() {
    const equity = makeChart("equity-chart");
    const daily = makeChart("daily-chart");
    if (equity) charts.equity = equity.addSeries(LC.AreaSeries, { lineColor: accent, topColor: "rgba(59,130,246,.35)", bottomColor: "rgba(59,130,246,.02)", lineWidth: 2 });
    if (daily) charts.daily = daily.addSeries(LC.HistogramSeries, { priceLineVisible: false });
    charts.equityChart = equity;
    charts.dailyChart = daily;
  }

  function params() {
    const data = new FormData(form);
    const q = new URLSearchParams();
    ["account", "from", "to"].forEach(name => { const v = data.get(name); if (v) q.set(name, v); });
    return q;
  }

  function moneyCell(value, signed) {
    const td = el("td", { class: "num", text: P.money(value) });
    if (signed) P.signClass(td, value);
    return td;
  }

  function fillTable(id, rows, build, emptyText, columns) {
    const body = document.querySelector("#" + id + " tbody");
    body.replaceChildren();
    if (!rows.length) {
      body.appendChild(el("tr", {}, [el("td", { colspan: String(columns), class: "empty", text: emptyText })]));
      return;
    }
    rows.forEach(r => body.appendChild(build(r)));
  }

  function drawCharts(daily) {
    let running = 0;
    const equity = daily.map(d => { running += parseFloat(d.net_pnl); return { time: d.date, value: Math.round(running * 100) / 100 }; });
    const bars = daily.map(d => { const v = parseFloat(d.net_pnl); return { time: d.date, value: Math.round(v * 100) / 100, color: v >= 0 ? up : down }; });
    ["equity-chart", "daily-chart"].forEach(id => {
      const box = document.getElementById(id);
      const note = box.querySelector(".empty");
      if (!daily.length && !note) box.appendChild(el("div", { class: "empty", text: "No PnL in this range yet." }));
      if (daily.length && note) note.remove();
    });
    if (charts.equity) { charts.equity.setData(equity); charts.equityChart.timeScale().fitContent(); }
    if (charts.daily) { charts.daily.setData(bars); charts.dailyChart.timeScale().fitContent(); }
  }

  function render(report) {
    P.setMoney(document.getElementById("s-realized"), report.realized_pnl);
    P.setMoney(document.getElementById("s-unrealized"), report.unrealized_pnl);
    P.setMoney(document.getElementById("s-fees"), report.fees);
    document.getElementById("s-fees").classList.remove("up", "down");
    P.setMoney(document.getElementById("s-net"), report.net_pnl);
    fillTable("by-symbol", report.by_symbol, r => el("tr", {}, [
      el("td", { text: r.symbol }), el("td", { class: "num", text: window.OMS.fmt.qty(r.qty) }),
      moneyCell(r.realized_pnl, true), moneyCell(r.unrealized_pnl, true), moneyCell(r.fees, false), moneyCell(r.net_pnl, true),
    ]), "No trading in this range.", 6);
    fillTable("by-tag", report.by_tag, r => el("tr", {}, [
      el("td", { text: r.tag || "(untagged)" }),
      moneyCell(r.realized_pnl, true), moneyCell(r.unrealized_pnl, true), moneyCell(r.fees, false), moneyCell(r.net_pnl, true),
    ]), "No tagged trading.", 5);
    fillTable("by-day", report.daily.slice().reverse(), r => el("tr", {}, [
      el("td", { class: "mono", text: r.date }),
      moneyCell(r.realized_pnl, true), moneyCell(r.unrealized_pnl, true), moneyCell(r.fees, false), moneyCell(r.net_pnl, true),
    ]), "No days with PnL in this range.", 5);
    drawCharts(report.daily);
  }

  async function load() {
    const q = params();
    document.querySelectorAll("#exports a[data-export]").forEach(a => { a.href = a.dataset.export + (q.toString() ? "?" + q : ""); });
    const resp = await window.OMS.api("GET", "/api/v1/pnl" + (q.toString() ? "?" + q : ""));
    if (!resp.ok) { window.OMS.toast(P.errorText(resp), "error"); return; }
    render(resp.data);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const q = params();
    history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
    load();
  });
  form.querySelector("select").addEventListener("change", () => form.requestSubmit());
  setupCharts();
  load();
  if (window.OMS.stream) {
    // A fill changes the figures: re-read (coalesced) when a position of ours moves.
    let timer = null;
    window.OMS.stream.subscribe(["positions"], () => { clearTimeout(timer); timer = setTimeout(load, 500); });
    window.OMS.stream.on("resync", load); // fills while disconnected: re-read the figures
  }
})();
