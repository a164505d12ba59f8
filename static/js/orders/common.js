/* Shared helpers of the orders pages: DOM building, formatting, the order actions
 * (cancel, modify in place) over the REST API. No framework; numbers stay strings. */
(function () {
  "use strict";

  const TERMINAL = new Set(["filled", "canceled", "rejected", "expired"]);
  const LABELS = {
    pending_new: "pending new", partially_filled: "partially filled",
    pending_cancel: "pending cancel", stop_limit: "stop limit", trailing_stop: "trailing stop",
    qty: "Quantity", limit_price: "Limit price", stop_price: "Stop price",
    trail_price: "Trail (price)", trail_percent: "Trail (%)", expire_at: "Good till",
    display_qty: "Display qty", time_in_force: "Time in force",
    take_profit: "take profit", stop_loss: "stop loss",
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function label(value) {
    return LABELS[value] || value || "";
  }

  function badge(status) {
    return el("span", { class: "badge badge-" + status, text: label(status) });
  }

  function num(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }

  /* A time in a list: the clock today, with the date otherwise (static/js/format.js). */
  function time(iso) {
    return OMS.fmt.time(iso);
  }

  function errorText(resp) {
    return OMS.words.errorText(resp);
  }

  function isTerminal(order) {
    return TERMINAL.has(order.status);
  }

  function canModify(order) {
    return ["held", "new", "partially_filled"].includes(order.status);
  }

  function canCancel(order) {
    return !TERMINAL.has(order.status) && order.status !== "pending_cancel";
  }

  async function cancelOrder(order) {
    const resp = await OMS.api("DELETE", "/api/v1/orders/" + order.id);
    if (resp.ok) {
      OMS.toast("Cancel sent: " + order.side + " " + order.qty + " " + order.symbol + " is " + OMS.words.state(resp.data.status).toLowerCase() + ".");
    } else {
      OMS.toast(errorText(resp), "error");
    }
    return resp;
  }

  /* The fields of an order a trader may change, by type. */
  function editableFields(order) {
    const fields = ["qty"];
    if (order.type === "limit" || order.type === "stop_limit") fields.push("limit_price");
    if (order.status === "held" && (order.type === "stop" || order.type === "stop_limit")) fields.push("stop_price");
    if (order.status === "held" && order.type === "trailing_stop") {
      fields.push(order.trail_percent !== null ? "trail_percent" : "trail_price");
    }
    return fields;
  }

  async function modifyOrder(order, changes) {
    const body = {};
    Object.entries(changes).forEach(function ([key, value]) {
      if (value !== "" && String(value) !== String(order[key])) body[key] = value;
    });
    if (!Object.keys(body).length) return { ok: true, data: order, unchanged: true };
    const resp = await OMS.api("PATCH", "/api/v1/orders/" + order.id, body);
    if (resp.ok) OMS.toast("Modified: " + order.symbol + " now v" + resp.data.version + ".");
    else OMS.toast(errorText(resp), "error");
    return resp;
  }

  /* An algo parent's progress: filled (solid) and working (striped) parts of its quantity,
   * with the figures; `data-*` attributes let tests and pushes find the numbers. */
  function algoProgress(order) {
    const a = order.algo;
    const qty = parseFloat(order.qty) || 0;
    const filled = parseFloat(a.filled_qty) || 0;
    const working = parseFloat(a.working_qty) || 0;
    const pct = function (x) { return qty ? Math.min(100, (100 * x) / qty) : 0; };
    const bar = el("div", {
      class: "algo-bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(qty),
      "aria-valuenow": String(filled), "aria-label": a.type + " progress",
    }, [
      el("span", { class: "algo-filled", style: "width:" + pct(filled).toFixed(1) + "%" }),
      el("span", { class: "algo-working", style: "width:" + pct(working).toFixed(1) + "%" }),
    ]);
    const text = a.filled_qty + " filled · " + a.scheduled_qty + " scheduled · " + a.remaining_qty + " left";
    const slices = a.slices_total ? " · slice " + a.slices_sent + "/" + a.slices_total : "";
    return el("div", {
      class: "algo-progress", "data-filled": a.filled_qty, "data-scheduled": a.scheduled_qty,
      "data-remaining": a.remaining_qty, "data-state": a.state,
    }, [bar, el("span", { class: "algo-text", text: a.type + " " + a.state + ": " + text + slices })]);
  }

  window.OMS = window.OMS || {};
  window.OMS.orders = {
    el, badge, num, time, label, errorText, isTerminal, canModify, canCancel,
    cancelOrder, modifyOrder, editableFields, algoProgress,
  };
})();
