/* Scheduled orders: list, create / edit (once at a time, or cron in a time zone), enable /
 * disable, delete — all over /api/v1/schedules (each schedule owns a beat task). */
(function () {
  "use strict";
  const table = document.getElementById("sched-table");
  if (!table) return;
  const O = OMS.orders;
  const el = O.el;
  const $ = function (id) { return document.getElementById(id); };
  const body = $("sched-body");
  const form = $("sched-form");
  const errors = $("sched-errors");
  const accounts = JSON.parse($("sched-accounts").textContent);
  const accountNames = new Map(accounts.map(function (a) { return [a.id, a.name]; }));
  const canTrade = new Set(accounts.filter(function (a) { return a.can_trade; }).map(function (a) { return a.id; }));
  const rows = new Map();
  let editing = null;
  const f = {
    name: $("s-name"), account: $("s-account"), symbol: $("s-symbol"), side: $("s-side"), qty: $("s-qty"),
    type: $("s-type"), limit: $("s-limit"), product: $("s-product"), kind: $("s-kind"),
    runAt: $("s-run-at"), cron: $("s-cron"), tz: $("s-tz"), enabled: $("s-enabled"),
  };

  function whenText(s) {
    // Always the date and the zone: "once at 5 Dec 2026 09:15:00 GMT+5:30", "cron … (Asia/Kolkata)".
    return s.kind === "once" ? "once at " + OMS.fmt.dateTime(s.run_at) : "cron " + s.cron + " (" + s.tz + ")";
  }

  function orderText(o) {
    return o.side + " " + OMS.fmt.qty(o.qty) + " " + o.symbol + (o.type === "limit" ? " @ " + OMS.fmt.price(o.limit_price, o.symbol) : " @ market") + (o.product === "intraday" ? " · intraday" : "");
  }

  function render(s) {
    const last = el("td", {}, [s.last_run_at ? OMS.fmt.dateTime(s.last_run_at) : "—"]);
    if (s.last_order_id) last.appendChild(el("a", { class: "sub", href: "/orders/" + s.last_order_id + "/", text: "order " + (s.last_order_status || "") }));
    if (s.last_error) last.appendChild(el("span", { class: "sub down", text: s.last_error }));
    const actions = el("td", { class: "actions" });
    if (canTrade.has(s.account)) {
      actions.appendChild(el("button", { type: "button", class: "btn btn-sm", text: "Edit", "data-action": "edit" }));
      actions.appendChild(el("button", { type: "button", class: "btn btn-sm btn-danger", text: "Delete", "data-action": "delete" }));
    }
    const toggle = el("input", { type: "checkbox", "data-action": "toggle", "aria-label": "Enabled", checked: s.enabled, disabled: !canTrade.has(s.account) });
    return el("tr", { "data-id": s.id, class: s.enabled ? "" : "disabled" }, [
      el("td", { text: s.name }),
      el("td", { text: accountNames.get(s.account) || s.account_name }),
      el("td", { class: "mono", text: orderText(s.order) }),
      el("td", { text: whenText(s) }),
      el("td", { class: "num", text: String(s.run_count) }),
      last,
      el("td", {}, [toggle]),
      actions,
    ]);
  }

  function upsert(s) {
    const tr = render(s);
    const existing = rows.get(s.id);
    if (existing) existing.tr.replaceWith(tr);
    else {
      const p = body.querySelector("tr.placeholder");
      if (p) p.remove();
      body.insertBefore(tr, body.firstChild);
      OMS.flash(tr, 1);
    }
    rows.set(s.id, { s: s, tr: tr });
  }

  async function load() {
    const resp = await OMS.api("GET", "/api/v1/schedules?limit=500");
    body.replaceChildren();
    rows.clear();
    if (!resp.ok) { body.appendChild(el("tr", { class: "placeholder" }, [el("td", { colspan: "8", class: "empty", text: O.errorText(resp) })])); return; }
    resp.data.results.slice().reverse().forEach(upsert);
    if (!rows.size) body.appendChild(el("tr", { class: "placeholder" }, [el("td", { colspan: "8", class: "empty", text: "No scheduled orders yet." })]));
  }

  function syncKind() {
    form.querySelectorAll("[data-kind]").forEach(function (n) { n.hidden = n.dataset.kind !== f.kind.value; });
    f.limit.disabled = f.type.value !== "limit";
  }

  function localInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function startEdit(s) {
    editing = s;
    f.name.value = s.name;
    f.account.value = s.account;
    f.account.disabled = true;
    f.symbol.value = s.order.symbol;
    f.side.value = s.order.side;
    f.qty.value = s.order.qty;
    f.type.value = s.order.type;
    f.limit.value = s.order.limit_price || "";
    f.product.value = s.order.product || "delivery";
    f.kind.value = s.kind;
    f.runAt.value = localInput(s.run_at);
    f.cron.value = s.cron;
    f.tz.value = s.tz;
    f.enabled.checked = s.enabled;
    $("sched-form-title").textContent = "Edit " + s.name;
    $("sched-submit").textContent = "Save changes";
    $("sched-reset").hidden = false;
    syncKind();
  }

  function resetForm() {
    editing = null;
    form.reset();
    f.account.disabled = false;
    $("sched-form-title").textContent = "New schedule";
    $("sched-submit").textContent = "Schedule";
    $("sched-reset").hidden = true;
    syncKind();
  }

  function showErrors(resp) {
  // The order's fields sit on this form under their own labels ("Quantity", not "Order quantity").
  const ORDER_LABELS = { "order.symbol": "Symbol", "order.side": "Side", "order.qty": "Qty", "order.type": "Type", "order.limit_price": "Limit price", "order.product": "Product", run_at: "At" };

    errors.replaceChildren();
    const err = resp.data && resp.data.error;
    const lines = err && err.fields ? OMS.words.fieldErrors(err.fields, ORDER_LABELS) : [];
    if (!lines.length) lines.push(OMS.words.errorText(resp));
    lines.forEach(function (line) { errors.appendChild(el("li", { text: line })); });
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    errors.replaceChildren();
    const order = { symbol: f.symbol.value.trim().toUpperCase(), side: f.side.value, type: f.type.value, qty: f.qty.value.trim(), product: f.product.value };
    if (f.type.value === "limit") order.limit_price = f.limit.value.trim();
    const payload = { name: f.name.value.trim(), order: order, kind: f.kind.value, enabled: f.enabled.checked };
    if (f.kind.value === "once") payload.run_at = f.runAt.value ? new Date(f.runAt.value).toISOString() : null;
    else { payload.cron = f.cron.value.trim(); payload.tz = f.tz.value.trim() || "UTC"; }
    let resp;
    if (editing) resp = await OMS.api("PATCH", "/api/v1/schedules/" + editing.id, payload);
    else { payload.account = f.account.value; resp = await OMS.api("POST", "/api/v1/schedules", payload); }
    if (!resp.ok) { showErrors(resp); return; }
    OMS.toast((editing ? "Schedule saved: " : "Scheduled: ") + resp.data.name);
    upsert(resp.data);
    resetForm();
  });

  body.addEventListener("click", async function (ev) {
    const tr = ev.target.closest("tr[data-id]");
    const row = tr && rows.get(tr.dataset.id);
    const target = ev.target.closest("[data-action]");
    if (!row || !target) return;
    const action = target.dataset.action;
    if (action === "edit") startEdit(row.s);
    else if (action === "toggle") {
      const resp = await OMS.api("PATCH", "/api/v1/schedules/" + row.s.id, { enabled: target.checked });
      if (resp.ok) upsert(resp.data); else { OMS.toast(O.errorText(resp), "error"); target.checked = !target.checked; }
    } else if (action === "delete") {
      if (!window.confirm("Delete the schedule " + row.s.name + "?")) return;
      const resp = await OMS.api("DELETE", "/api/v1/schedules/" + row.s.id);
      if (resp.status === 204) { row.tr.remove(); rows.delete(row.s.id); OMS.toast("Schedule deleted."); }
      else OMS.toast(O.errorText(resp), "error");
    }
  });

  $("sched-reset").addEventListener("click", resetForm);
  f.kind.addEventListener("change", syncKind);
  f.type.addEventListener("change", syncKind);
  syncKind();
  load();
})();
