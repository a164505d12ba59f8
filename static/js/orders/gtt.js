/* The GTT page: the list (live from the `gtt` channel), the single / OCO form (create, or
 * edit an active GTT), and a price ladder of the trigger prices against the live last
 * price (`quotes:<SYMBOL>` via OMS.stream). */
(function () {
  "use strict";
  const table = document.getElementById("gtt-table");
  if (!table) return;
  const O = OMS.orders;
  const el = O.el;
  const $ = function (id) { return document.getElementById(id); };
  const body = $("gtt-body");
  const form = $("gtt-form");
  const errors = $("gtt-errors");
  const warnings = $("gtt-warnings");
  const accounts = JSON.parse($("gtt-accounts").textContent);
  const accountNames = new Map(accounts.map(function (a) { return [a.id, a.name]; }));
  const canTrade = new Set(accounts.filter(function (a) { return a.can_trade; }).map(function (a) { return a.id; }));
  const ladder = OMS.ladder($("ladder"));
  const rows = new Map(); // gtt id → {gtt, tr}
  const lastBySymbol = new Map();
  const watched = new Set();
  let status = "open";
  let editing = null; // the GTT being edited
  let ladderSource = null; // a GTT shown on the ladder, or null: the form

  /* --- quotes ------------------------------------------------------------------------------- */
  function onQuote(msg) {
    if (msg.event !== "quote" || !msg.data) return;
    const symbol = msg.channel.slice("quotes:".length);
    setLast(symbol, msg.data.last);
  }

  function watch(symbol) {
    if (!symbol || watched.has(symbol)) return;
    watched.add(symbol);
    if (OMS.stream) OMS.stream.subscribe(["quotes:" + symbol], onQuote);
    OMS.api("GET", "/api/v1/market-data?symbols=" + encodeURIComponent(symbol)).then(function (resp) {
      const row = resp.ok && resp.data.results && resp.data.results[0];
      if (row && !lastBySymbol.has(symbol)) setLast(symbol, row.last);
    });
  }

  function setLast(symbol, last) {
    if (last === null || last === undefined) return;
    const before = lastBySymbol.get(symbol);
    lastBySymbol.set(symbol, String(last));
    document.querySelectorAll('[data-last-for="' + symbol + '"]').forEach(function (cell) {
      cell.textContent = OMS.fmt.price(last, symbol);
      if (before !== undefined && before !== String(last)) OMS.flash(cell, parseFloat(last) - parseFloat(before));
    });
    rows.forEach(function (row) { if (row.gtt.symbol === symbol) updateAway(row); });
    if (ladderSymbol() === symbol) drawLadder();
  }

  /* --- list ----------------------------------------------------------------------------------- */
  function away(value, symbol) {
    const last = parseFloat(lastBySymbol.get(symbol));
    const v = parseFloat(value);
    if (isNaN(last) || isNaN(v) || !last) return "";
    return ((v - last) / last * 100).toFixed(2) + "%";
  }

  function updateAway(row) {
    row.tr.querySelectorAll("[data-away]").forEach(function (span) {
      span.textContent = away(span.dataset.away, row.gtt.symbol);
    });
  }

  function orderText(o, symbol) {
    return o.side + " " + OMS.fmt.qty(o.qty) + (o.type === "market" ? " @ market" : " @ " + OMS.fmt.price(o.limit_price, symbol));
  }

  function renderRow(gtt) {
    const active = gtt.status === "active";
    const triggers = el("td", { class: "num" }, gtt.triggers.map(function (t) {
      return el("span", { class: "trig " + t.direction, title: t.fires_when }, [
        (t.direction === "down" ? "↓ " : "↑ ") + OMS.fmt.price(t.value, gtt.symbol),
        el("span", { class: "away", "data-away": t.value }),
      ]);
    }));
    const statusCell = el("td", { "data-col": "status" }, [el("span", { class: "badge badge-" + gtt.status, text: gtt.status })]);
    if (gtt.reason) statusCell.appendChild(el("span", { class: "reason", text: gtt.reason }));
    if (gtt.order_ids.length) {
      statusCell.appendChild(el("span", { class: "reason" }, gtt.order_ids.map(function (id) {
        return el("a", { href: "/orders/" + id + "/", text: "order " + id.slice(0, 8) });
      })));
    }
    const actions = el("td", { class: "actions" });
    if (active && canTrade.has(gtt.account)) {
      actions.appendChild(el("button", { type: "button", class: "btn btn-sm", text: "Edit", "data-action": "edit" }));
      actions.appendChild(el("button", { type: "button", class: "btn btn-sm btn-danger", text: "Cancel", "data-action": "cancel" }));
    }
    const tr = el("tr", { "data-id": gtt.id, class: active ? "" : "closed" }, [
      el("td", { class: "mono", title: gtt.created_at, text: O.time(gtt.created_at) }),
      el("td", { text: accountNames.get(gtt.account) || gtt.account.slice(0, 8) }),
      el("td", { class: "mono", text: gtt.symbol }),
      el("td", { text: gtt.trigger_type }),
      triggers,
      el("td", {}, gtt.orders.map(function (o) { return el("span", { class: "trig", text: orderText(o, gtt.symbol) }); })),
      el("td", { class: "num", "data-last-for": gtt.symbol, text: OMS.fmt.price(lastBySymbol.get(gtt.symbol), gtt.symbol) }),
      statusCell,
      el("td", { class: "mono", title: gtt.expires_at, text: OMS.fmt.date(gtt.expires_at) }),
      actions,
    ]);
    if (ladderSource && ladderSource.id === gtt.id) tr.classList.add("selected");
    return tr;
  }

  function matches(gtt) {
    return status === "all" || gtt.status === "active";
  }

  function upsert(gtt, flash) {
    const existing = rows.get(gtt.id);
    if (!matches(gtt) && !existing) return;
    const tr = renderRow(gtt);
    if (existing) {
      existing.tr.replaceWith(tr);
      if (flash && existing.gtt.status !== gtt.status) OMS.flash(tr.querySelector('[data-col="status"]'), gtt.status === "triggered" ? 1 : -1);
    } else {
      const p = body.querySelector("tr.placeholder");
      if (p) p.remove();
      body.insertBefore(tr, body.firstChild);
      if (flash) OMS.flash(tr, 1);
    }
    const row = { gtt: gtt, tr: tr };
    rows.set(gtt.id, row);
    updateAway(row);
    watch(gtt.symbol);
    if (ladderSource && ladderSource.id === gtt.id) { ladderSource = gtt; drawLadder(); }
  }

  async function load() {
    const resp = await OMS.api("GET", "/api/v1/gtt?limit=200&status=" + status);
    rows.clear();
    body.replaceChildren();
    if (!resp.ok) {
      body.appendChild(el("tr", { class: "placeholder" }, [el("td", { colspan: "10", class: "empty", text: O.errorText(resp) })]));
      return;
    }
    resp.data.results.slice().reverse().forEach(function (gtt) { upsert(gtt, false); });
    if (!rows.size) {
      body.appendChild(el("tr", { class: "placeholder" }, [el("td", { colspan: "10", class: "empty", text: status === "open" ? "No active GTTs." : "No GTTs yet." })]));
    }
  }

  /* --- form ------------------------------------------------------------------------------------ */
  const f = {
    account: $("g-account"), symbol: $("g-symbol"), type: $("g-type"), expires: $("g-expires"),
    t0: $("g-t0"), side0: $("g-side0"), qty0: $("g-qty0"), limit0: $("g-limit0"),
    t1: $("g-t1"), side1: $("g-side1"), qty1: $("g-qty1"), limit1: $("g-limit1"),
  };

  function isOco() { return f.type.value === "oco"; }

  function syncType() {
    form.querySelector('fieldset[data-leg="1"]').hidden = !isOco();
    $("leg0-title").textContent = isOco() ? "Stop-loss (lower trigger)" : "Trigger";
    // Both legs of an OCO exit one position: a long's stop-loss sells like its target.
    if (isOco() && !editing) f.side0.value = f.side1.value;
    showWarnings();
  }

  /* A leg whose limit is on the far side of its trigger may never fill once the trigger
   * fires (a sell limit above it, a buy limit below it): said before it goes in. */
  function legWarnings() {
    const legs = isOco() ? [0, 1] : [0];
    const names = isOco() ? ["Stop-loss", "Target"] : ["The order"];
    const out = [];
    legs.forEach(function (i) {
      const trigger = parseFloat(f["t" + i].value.trim());
      const limit = parseFloat(f["limit" + i].value.trim());
      if (!isFinite(trigger) || !isFinite(limit)) return;
      const sell = f["side" + i].value === "sell";
      if (sell && limit > trigger) out.push(names[i] + ": the sell limit " + f["limit" + i].value.trim() + " is above its trigger " + f["t" + i].value.trim() + "; it may not fill when the trigger fires.");
      if (!sell && limit < trigger) out.push(names[i] + ": the buy limit " + f["limit" + i].value.trim() + " is below its trigger " + f["t" + i].value.trim() + "; it may not fill when the trigger fires.");
    });
    return out;
  }

  let acceptedWarnings = null; // the warnings the user chose to send anyway

  function showWarnings() {
    const list = legWarnings();
    warnings.replaceChildren.apply(warnings, list.map(function (w) { return el("li", { text: w }); }));
    if (list.join("|") !== acceptedWarnings) acceptedWarnings = null;
    $("gtt-submit").textContent = acceptedWarnings !== null && list.length ? "Send anyway" : (editing ? "Save changes" : "Create GTT");
    return list;
  }

  function ladderSymbol() {
    return ladderSource ? ladderSource.symbol : f.symbol.value.trim().toUpperCase();
  }

  function drawLadder() {
    const symbol = ladderSymbol();
    $("ladder-symbol").textContent = symbol ? symbol + (ladderSource ? " · GTT " + ladderSource.id.slice(0, 8) : " · new GTT") : "";
    let triggers;
    if (ladderSource) {
      triggers = ladderSource.triggers.map(function (t, i) {
        return { value: t.value, direction: t.direction, label: ladderSource.trigger_type === "oco" ? (i ? "target" : "stop-loss") : "trigger" };
      });
    } else {
      triggers = [{ value: f.t0.value.trim(), label: isOco() ? "stop-loss" : "trigger" }];
      if (isOco()) triggers.push({ value: f.t1.value.trim(), label: "target" });
      triggers = triggers.filter(function (t) { return t.value !== ""; });
    }
    ladder.draw({ last: lastBySymbol.get(symbol) || null, triggers: triggers });
  }

  function leg(i) {
    const limit = f["limit" + i].value.trim();
    return { side: f["side" + i].value, qty: f["qty" + i].value.trim(), type: limit ? "limit" : "market", limit_price: limit || null };
  }

  /* Field names of the error shape in the words of this form's legs. */
  function legLabels() {
    return isOco()
      ? { "orders.0": "Stop-loss order", "orders.1": "Target order", "trigger_values.0": "Stop-loss trigger", "trigger_values.1": "Target trigger" }
      : { "orders.0": "Order", "trigger_values.0": "Trigger price" };
  }

  function showErrors(resp) {
    errors.replaceChildren();
    const err = resp.data && resp.data.error;
    const lines = err && err.fields ? OMS.words.fieldErrors(err.fields, legLabels()) : [];
    if (!lines.length) lines.push(OMS.words.errorText(resp));
    lines.forEach(function (line) { errors.appendChild(el("li", { text: line })); });
  }

  /* After a create: the next GTT starts from defaults, never from the last one's prices. */
  function clearValues() {
    ["t0", "t1", "limit0", "limit1", "expires"].forEach(function (k) { f[k].value = ""; });
    f.qty0.value = f.qty1.value = "1";
    f.side1.value = "sell";
    f.side0.value = isOco() ? "sell" : "buy";
    acceptedWarnings = null;
    errors.replaceChildren();
    showWarnings();
  }

  function resetForm() {
    editing = null;
    ladderSource = null;
    $("gtt-form-title").textContent = "New GTT";
    $("gtt-submit").textContent = "Create GTT";
    $("gtt-reset").hidden = true;
    f.account.disabled = f.symbol.disabled = f.type.disabled = false;
    rows.forEach(function (row) { row.tr.classList.remove("selected"); });
    clearValues();
    drawLadder();
  }

  function startEdit(gtt) {
    editing = gtt;
    ladderSource = null;
    acceptedWarnings = null;
    f.account.value = gtt.account;
    f.symbol.value = gtt.symbol;
    f.type.value = gtt.trigger_type;
    f.account.disabled = f.symbol.disabled = f.type.disabled = true;
    gtt.orders.forEach(function (o, i) {
      f["t" + i].value = gtt.trigger_values[i];
      f["side" + i].value = o.side;
      f["qty" + i].value = o.qty;
      f["limit" + i].value = o.limit_price || "";
    });
    f.expires.value = "";
    $("gtt-form-title").textContent = "Edit GTT " + gtt.id.slice(0, 8);
    $("gtt-submit").textContent = "Save changes";
    $("gtt-reset").hidden = false;
    syncType();
    watch(gtt.symbol);
    drawLadder();
    f.t0.focus();
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    errors.replaceChildren();
    const warned = showWarnings();
    if (warned.length && acceptedWarnings !== warned.join("|")) {
      acceptedWarnings = warned.join("|");
      showWarnings();
      errors.appendChild(el("li", { text: "Check the warning above: change the limit, or press “Send anyway”." }));
      return;
    }
    const values = [f.t0.value.trim()];
    const orders = [leg(0)];
    if (isOco()) { values.push(f.t1.value.trim()); orders.push(leg(1)); }
    const payload = { trigger_values: values, orders: orders };
    if (f.expires.value) payload.expires_at = new Date(f.expires.value).toISOString();
    const button = $("gtt-submit");
    button.disabled = true;
    let resp;
    if (editing) {
      resp = await OMS.api("PATCH", "/api/v1/gtt/" + editing.id, payload);
    } else {
      payload.account = f.account.value;
      payload.symbol = f.symbol.value.trim().toUpperCase();
      payload.trigger_type = f.type.value;
      resp = await OMS.api("POST", "/api/v1/gtt", payload);
    }
    button.disabled = false;
    if (!resp.ok) { showErrors(resp); return; }
    OMS.toast((editing ? "GTT updated: " : "GTT created: ") + resp.data.symbol + " " + resp.data.trigger_values.join(" / "));
    upsert(resp.data, true);
    if (editing) resetForm();
    else { clearValues(); drawLadder(); }
  });

  $("gtt-reset").addEventListener("click", resetForm);
  f.type.addEventListener("change", function () { syncType(); drawLadder(); });
  ["t0", "t1"].forEach(function (k) { f[k].addEventListener("input", drawLadder); });
  ["t0", "t1", "limit0", "limit1", "side0", "side1"].forEach(function (k) { f[k].addEventListener("input", showWarnings); });
  f.side1.addEventListener("change", function () { if (isOco() && !editing) { f.side0.value = f.side1.value; showWarnings(); } });
  f.symbol.addEventListener("change", function () {
    ladderSource = null;
    watch(f.symbol.value.trim().toUpperCase());
    drawLadder();
  });

  body.addEventListener("click", async function (ev) {
    const tr = ev.target.closest("tr[data-id]");
    if (!tr) return;
    const row = rows.get(tr.dataset.id);
    if (!row) return;
    const button = ev.target.closest("button[data-action]");
    if (!button) {
      if (ev.target.closest("a")) return;
      // A click on a row shows that GTT on the ladder.
      ladderSource = row.gtt;
      rows.forEach(function (r) { r.tr.classList.toggle("selected", r === row); });
      drawLadder();
      return;
    }
    if (button.dataset.action === "edit") startEdit(row.gtt);
    if (button.dataset.action === "cancel") {
      if (!window.confirm("Cancel the GTT on " + row.gtt.symbol + " at " + row.gtt.trigger_values.join(" / ") + "?")) return;
      button.disabled = true;
      const resp = await OMS.api("DELETE", "/api/v1/gtt/" + row.gtt.id);
      if (resp.ok) { OMS.toast("GTT cancelled."); upsert(resp.data, true); if (editing && editing.id === row.gtt.id) resetForm(); }
      else { OMS.toast(O.errorText(resp), "error"); button.disabled = false; }
    }
  });

  document.querySelectorAll(".tabs a[data-status]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      status = a.dataset.status;
      document.querySelectorAll(".tabs a").forEach(function (x) { x.removeAttribute("aria-current"); });
      a.setAttribute("aria-current", "page");
      load();
    });
  });

  if (OMS.stream) {
    OMS.stream.subscribe(["gtt"], function (msg) {
      if (msg.event === "gtt.updated") upsert(msg.data, true);
    });
    OMS.stream.on("resync", function () { load(); }); // missed updates while disconnected
  }

  syncType();
  if (f.symbol.value) watch(f.symbol.value.trim().toUpperCase());
  drawLadder();
  load();
})();
