/* The order blotter: open / filled / all, filters, live status and fill updates from the
 * stream without reload, cancel and modify in place. Brackets / OCO / OTO orders show as a
 * tree (exit legs indented under their parent); algo parents carry a live progress bar
 * (filled / working / remaining) and pause / resume buttons. */
(function () {
  "use strict";
  const table = document.getElementById("blotter");
  if (!table) return;
  const O = OMS.orders;
  const F = OMS.fmt;
  const el = O.el;
  const body = document.getElementById("blotter-body");
  const moreBtn = document.getElementById("load-more");
  const filtersForm = document.getElementById("blotter-filters");
  const accounts = JSON.parse(document.getElementById("blotter-accounts").textContent);
  const accountNames = new Map(accounts.map(function (a) { return [a.id, a.name]; }));
  const canTrade = new Set(accounts.filter(function (a) { return a.can_trade; }).map(function (a) { return a.id; }));
  const rows = new Map(); // top-level order id → {order, tr, legs: Map(id → {order, tr})}
  const legOf = new Map(); // leg id → parent id
  let tab = table.dataset.tab;
  let nextUrl = null;
  let loadSeq = 0;

  function filters() {
    const data = new FormData(filtersForm);
    return {
      account: data.get("account") || "",
      symbol: (data.get("symbol") || "").trim().toUpperCase(),
      side: data.get("side") || "",
    };
  }

  function statusQuery() {
    return tab === "open" ? "open" : tab === "filled" ? "filled" : "all";
  }

  function matches(order) {
    const f = filters();
    if (f.account && order.account !== f.account) return false;
    if (f.symbol && order.symbol !== f.symbol) return false;
    if (f.side && order.side !== f.side) return false;
    if (tab === "open") return !O.isTerminal(order);
    if (tab === "filled") return order.status === "filled";
    return true;
  }

  /* --- rendering ------------------------------------------------------------------------------ */
  function actionsCell(order) {
    const cell = el("td", { class: "actions" });
    if (!canTrade.has(order.account)) return cell;
    if (order.algo && !O.isTerminal(order)) {
      if (order.algo.state === "running") {
        cell.appendChild(el("button", { type: "button", class: "btn btn-sm", text: "Pause", "data-action": "pause" }));
      } else if (order.algo.state === "paused") {
        cell.appendChild(el("button", { type: "button", class: "btn btn-sm", text: "Resume", "data-action": "resume" }));
      }
    }
    if (O.canModify(order) && !order.algo) {
      cell.appendChild(el("button", { type: "button", class: "btn btn-sm", text: "Modify", "data-action": "modify" }));
    }
    if (O.canCancel(order)) {
      cell.appendChild(el("button", { type: "button", class: "btn btn-sm btn-danger", text: "Cancel", "data-action": "cancel" }));
    }
    return cell;
  }

  function statusCell(order) {
    const children = [O.badge(order.status)];
    const reason = order.reject_reason ? order.reject_reason.replace(/^[a-z_]+: /, "") : order.cancel_reason;
    const held = { queued_for_open: "queued for the open", parent: "waits for the entry" };
    const why = reason || held[order.hold_reason] || null;
    if (why) children.push(el("span", { class: "reason", text: why }));
    if (order.algo) children.push(O.algoProgress(order));
    return el("td", { "data-col": "status" }, children);
  }

  const ROLE = { take_profit: "take profit", stop_loss: "stop loss" };

  function typeCell(order, child) {
    if (child) {
      return el("td", { class: "leg-type" }, [
        el("span", { class: "tree", "aria-hidden": "true", text: "└ " }),
        el("span", { text: (ROLE[order.leg_role] || "leg") + " · " + O.label(order.type) }),
      ]);
    }
    const extra = order.algo ? order.algo.type : order.order_class !== "simple" ? order.order_class : null;
    // Placed at the broker outside OMS and imported (API.md: "external": true).
    const external = order.external ? el("span", { class: "badge class-badge external-badge", text: "External", title: "Placed at the broker outside OMS" }) : null;
    return el("td", {}, [O.label(order.type), extra ? el("span", { class: "badge class-badge", text: extra }) : null, external]);
  }

  function stopText(order) {
    if (order.type === "trailing_stop") {
      const trail = order.trail_percent !== null ? order.trail_percent + "%" : F.price(order.trail_price, order.symbol);
      return F.price(order.stop_price, order.symbol) + " (trail " + trail + ")";
    }
    return F.price(order.stop_price, order.symbol);
  }

  function renderRow(order, child) {
    const classes = [O.isTerminal(order) ? "closed" : "", child ? "leg" : "", order.legs && order.legs.length ? "has-legs" : ""];
    const tr = el("tr", { "data-id": order.id, "data-parent": child ? order.parent_id : null, class: classes.join(" ").trim() }, [
      el("td", { class: "mono", title: order.created_at, text: O.time(order.created_at) }),
      el("td", { text: accountNames.get(order.account) || order.account.slice(0, 8) }),
      el("td", {}, [el("a", { href: "/orders/" + order.id + "/", class: "mono", text: order.symbol })]),
      el("td", {}, [el("span", { class: "badge badge-" + order.side, text: order.side })]),
      typeCell(order, child),
      el("td", { class: "num", "data-col": "qty", text: F.qty(order.qty) }),
      el("td", { class: "num", "data-col": "filled_qty", text: F.qty(order.filled_qty) }),
      el("td", { class: "num", "data-col": "avg_fill_price", text: F.avg(order.avg_fill_price, order.symbol) }),
      el("td", { class: "num", "data-col": "limit_price", text: F.price(order.limit_price, order.symbol) }),
      el("td", { class: "num", "data-col": "stop_price", text: stopText(order) }),
      el("td", { text: order.time_in_force }),
      statusCell(order),
      actionsCell(order),
    ]);
    return tr;
  }

  function placeholder(text) {
    body.replaceChildren(el("tr", { class: "placeholder" }, [el("td", { colspan: "13", class: "empty", text: text })]));
  }

  function dropPlaceholder() {
    const p = body.querySelector("tr.placeholder");
    if (p) p.remove();
  }

  function flashChanges(before, order, tr) {
    if (before.status !== order.status) OMS.flash(tr.querySelector('[data-col="status"]'), O.isTerminal(order) && order.status !== "filled" ? -1 : 1);
    if (before.filled_qty !== order.filled_qty) OMS.flash(tr.querySelector('[data-col="filled_qty"]'), 1);
    if (before.stop_price !== order.stop_price) OMS.flash(tr.querySelector('[data-col="stop_price"]'), 1);
  }

  /* The exit legs of a parent, right under it (in the order the API lists them). */
  function renderLegs(row, flash) {
    const old = row.legs || new Map();
    row.legs = new Map();
    let anchor = row.tr;
    (row.order.legs || []).forEach(function (leg) {
      const previous = old.get(leg.id);
      const current = previous && previous.order.seq > leg.seq ? previous.order : leg;
      const tr = renderRow(current, true);
      if (previous) {
        previous.tr.remove();
        if (flash) flashChanges(previous.order, current, tr);
      }
      anchor.after(tr);
      anchor = tr;
      row.legs.set(leg.id, { order: current, tr: tr });
      legOf.set(leg.id, row.order.id);
    });
    old.forEach(function (leg, id) { if (!row.legs.has(id)) leg.tr.remove(); });
  }

  function upsertLeg(order, flash) {
    const parentId = legOf.get(order.id) || order.parent_id;
    const row = rows.get(parentId);
    if (!row) return false;
    const legs = (row.order.legs || []).slice();
    const at = legs.findIndex(function (l) { return l.id === order.id; });
    if (at >= 0 && legs[at].seq > order.seq) return true;
    if (at >= 0) legs[at] = order; else legs.push(order);
    row.order = Object.assign({}, row.order, { legs: legs });
    renderLegs(row, flash);
    return true;
  }

  function upsert(order, { prepend, flash } = {}) {
    if (order.parent_id) {
      // A leg shows under its parent; an algo's child is summed up in its parent's bar.
      if (order.leg_role === "take_profit" || order.leg_role === "stop_loss") upsertLeg(order, flash);
      return;
    }
    const existing = rows.get(order.id);
    // Pushes can overtake each other: never replace a newer state with an older one.
    if (existing && existing.order.seq > order.seq) return;
    if (existing && order.legs && existing.order.legs && order.order_class !== "simple") {
      // A parent's push carries its legs as of then; keep a leg state that is newer.
      order = Object.assign({}, order, {
        legs: order.legs.map(function (leg) {
          const known = existing.legs && existing.legs.get(leg.id);
          return known && known.order.seq > leg.seq ? known.order : leg;
        }),
      });
    }
    const tr = renderRow(order, false);
    if (existing) {
      const before = existing.order;
      existing.tr.replaceWith(tr);
      if (flash) flashChanges(before, order, tr);
    } else {
      dropPlaceholder();
      if (prepend) body.insertBefore(tr, body.firstChild);
      else body.appendChild(tr);
      if (flash) OMS.flash(tr, 1);
    }
    const row = { order: order, tr: tr, legs: existing ? existing.legs : new Map() };
    rows.set(order.id, row);
    renderLegs(row, flash);
  }

  function removeLater(id) {
    setTimeout(function () {
      const row = rows.get(id);
      if (row && !matches(row.order)) {
        row.tr.remove();
        if (row.legs) row.legs.forEach(function (leg) { leg.tr.remove(); });
        rows.delete(id);
        if (!rows.size) placeholder(emptyText());
      }
    }, 4000);
  }

  function emptyText() {
    return tab === "open" ? "No open orders." : tab === "filled" ? "No filled orders yet." : "No orders yet.";
  }

  /* --- loading -------------------------------------------------------------------------------- */
  function listUrl() {
    const f = filters();
    const q = new URLSearchParams({ status: statusQuery(), limit: "100", top_level: "1" });
    Object.entries(f).forEach(function ([k, v]) { if (v) q.set(k, v); });
    return "/api/v1/orders?" + q.toString();
  }

  async function load(url, append) {
    const seq = ++loadSeq;
    const resp = await OMS.api("GET", url);
    if (seq !== loadSeq) return;
    if (!resp.ok) {
      placeholder(O.errorText(resp));
      return;
    }
    if (!append) {
      rows.clear();
      legOf.clear();
      body.replaceChildren();
    }
    resp.data.results.forEach(function (order) { upsert(order, {}); });
    if (!rows.size) placeholder(emptyText());
    nextUrl = resp.data.next;
    moreBtn.hidden = !nextUrl;
  }

  function reload() {
    const f = filters();
    const q = new URLSearchParams({ tab: tab });
    Object.entries(f).forEach(function ([k, v]) { if (v) q.set(k, v); });
    history.replaceState(null, "", "?" + q.toString());
    load(listUrl(), false);
  }

  /* --- live updates -------------------------------------------------------------------------- */
  function onStream(msg) {
    if (msg.event === "order.updated") {
      const order = msg.data;
      if (order.parent_id) {
        upsert(order, { flash: true });
      } else if (matches(order)) {
        upsert(order, { prepend: true, flash: true });
      } else if (rows.has(order.id)) {
        upsert(order, { flash: true });
        removeLater(order.id);
      }
    } else if (msg.event === "fill.created") {
      const fill = msg.data;
      OMS.toast("Fill: " + fill.side + " " + F.qty(fill.qty) + " " + fill.symbol + " @ " + F.price(fill.price, fill.symbol));
    }
  }

  if (OMS.stream) {
    OMS.stream.subscribe(["orders", "fills"], onStream);
    // After a reconnect the stream may have missed updates: re-read the truth.
    OMS.stream.on("resync", function () { load(listUrl(), false); });
  }

  /* --- actions -------------------------------------------------------------------------------- */
  function rowFor(tr) {
    if (!tr) return null;
    const parentRow = tr.dataset.parent ? rows.get(tr.dataset.parent) : null;
    return parentRow ? parentRow.legs.get(tr.dataset.id) : rows.get(tr.dataset.id);
  }

  function startModify(row) {
    const order = row.order;
    const inputs = {};
    O.editableFields(order).forEach(function (name) {
      const col = name === "trail_price" || name === "trail_percent" ? "stop_price" : name;
      const cell = row.tr.querySelector('[data-col="' + col + '"]');
      const input = el("input", { type: "text", class: "edit", inputmode: "decimal", value: order[name] === null ? "" : order[name], "aria-label": O.label(name), title: name });
      cell.replaceChildren(input);
      inputs[name] = input;
    });
    const actions = row.tr.querySelector("td.actions");
    actions.replaceChildren(
      el("button", { type: "button", class: "btn btn-sm btn-primary", text: "Save", "data-action": "save" }),
      el("button", { type: "button", class: "btn btn-sm", text: "Back", "data-action": "back" }),
    );
    row.inputs = inputs;
    const first = Object.values(inputs)[0];
    if (first) { first.focus(); first.select(); }
  }

  async function saveModify(row) {
    const changes = {};
    Object.entries(row.inputs || {}).forEach(function ([name, input]) { changes[name] = input.value.trim(); });
    const resp = await O.modifyOrder(row.order, changes);
    if (resp.ok) {
      upsert(resp.data, { flash: !resp.unchanged });
    }
  }

  body.addEventListener("click", async function (ev) {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const row = rowFor(button.closest("tr"));
    if (!row) return;
    const action = button.dataset.action;
    if (action === "pause" || action === "resume") {
      button.disabled = true;
      const resp = await OMS.api("POST", "/api/v1/orders/" + row.order.id + "/" + action);
      if (resp.ok) upsert(resp.data, { flash: true });
      else { OMS.toast(O.errorText(resp), "error"); button.disabled = false; }
      return;
    }
    if (action === "modify") startModify(row);
    else if (action === "back") upsert(row.order, {});
    else if (action === "save") {
      button.disabled = true;
      await saveModify(row);
      button.disabled = false;
    } else if (action === "cancel") {
      if (!window.confirm("Cancel " + row.order.side + " " + row.order.qty + " " + row.order.symbol + "?")) return;
      button.disabled = true;
      const resp = await O.cancelOrder(row.order);
      if (resp.ok) {
        upsert(resp.data, { flash: true });
        if (!matches(resp.data)) removeLater(resp.data.id);
      } else {
        button.disabled = false;
      }
    }
  });
  body.addEventListener("keydown", function (ev) {
    if (ev.target.matches("input.edit") && ev.key === "Enter") {
      const row = rowFor(ev.target.closest("tr"));
      if (row) saveModify(row);
    } else if (ev.target.matches("input.edit") && ev.key === "Escape") {
      const row = rowFor(ev.target.closest("tr"));
      if (row) upsert(row.order, {});
    }
  });

  document.querySelectorAll(".tabs a[data-tab]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      tab = a.dataset.tab;
      document.querySelectorAll(".tabs a").forEach(function (x) { x.removeAttribute("aria-current"); });
      a.setAttribute("aria-current", "page");
      filtersForm.querySelector("input[name=tab]").value = tab;
      reload();
    });
  });
  let filterTimer = null;
  filtersForm.addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(reload, 250);
  });
  filtersForm.addEventListener("submit", function (ev) { ev.preventDefault(); reload(); });
  moreBtn.addEventListener("click", function () { if (nextUrl) load(nextUrl, true); });

  load(listUrl(), false);
})();
