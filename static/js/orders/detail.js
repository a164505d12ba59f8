/* One order: its state, fills and audit trail, kept live from the stream (the REST API is
 * re-read whenever this order changes, so the page always shows the stored truth). */
(function () {
  "use strict";
  const dataNode = document.getElementById("order-data");
  if (!dataNode) return;
  const O = OMS.orders;
  const F = OMS.fmt;
  const el = O.el;
  const meta = document.getElementById("order-meta");
  const canTrade = meta.dataset.canTrade === "1";
  let order = JSON.parse(dataNode.textContent);
  let events = JSON.parse(document.getElementById("order-events").textContent);
  let fills = JSON.parse(document.getElementById("order-fills").textContent);
  const seen = new Set(events.map(function (e) { return e.seq; }));

  function kv(pairs) {
    const dl = document.getElementById("o-kv");
    dl.replaceChildren();
    pairs.forEach(function ([key, value]) {
      if (value === null || value === undefined || value === "") return;
      dl.appendChild(el("dt", { text: key }));
      dl.appendChild(el("dd", { text: String(value) }));
    });
  }

  // Prices at the instrument's tick, times readable in the viewer's zone (static/js/format.js).
  function px(value) { return value === null || value === undefined ? null : F.price(value, order.symbol); }
  function when(iso) { return iso ? F.dateTime(iso) : null; }

  function renderOrder() {
    const status = document.getElementById("o-status");
    status.replaceChildren(O.badge(order.status));
    document.getElementById("o-filled").textContent = F.qty(order.filled_qty) + " / " + F.qty(order.qty);
    document.getElementById("o-avg").textContent = F.avg(order.avg_fill_price, order.symbol);
    document.getElementById("o-version").textContent = "v" + order.version;
    kv([
      ["Order id", order.id],
      ["Account", meta.dataset.accountName],
      ["Type", O.label(order.type)],
      ["Limit price", px(order.limit_price)],
      ["Stop price", px(order.stop_price)],
      ["Trail", order.trail_percent !== null ? order.trail_percent + "%" : px(order.trail_price)],
      ["Time in force", order.time_in_force],
      ["Good till", when(order.expire_at)],
      ["Display qty", order.display_qty],
      ["Held because", order.hold_reason === "queued_for_open" ? "queued for the market open" : order.hold_reason === "trigger" ? "waiting for its stop" : null],
      ["Rejected because", order.reject_reason],
      ["Canceled because", order.status === "canceled" || order.status === "expired" ? order.cancel_reason : null],
      ["Client order id", order.client_order_id],
      ["Tag", order.tag],
      ["Product", order.product],
      ["Created", when(order.created_at)],
      ["Sent", when(order.submitted_at)],
      ["Filled", when(order.filled_at)],
      ["Canceled", when(order.canceled_at)],
      ["Order class", order.order_class !== "simple" ? order.order_class : null],
      ["Role", order.leg_role ? O.label(order.leg_role) : null],
      ["Re-entry attempt", order.reentry_attempt ? String(order.reentry_attempt) : null],
    ]);
    renderLinks();
    renderActions();
  }

  /* Linked orders: the parent, the exit legs, an algo's progress, the GTT / first attempt. */
  function renderLinks() {
    const dl = document.getElementById("o-kv");
    const link = function (label, id, text) {
      dl.appendChild(el("dt", { text: label }));
      dl.appendChild(el("dd", {}, [el("a", { href: "/orders/" + id + "/", text: text || id.slice(0, 8) })]));
    };
    if (order.parent_id) link("Parent", order.parent_id);
    if (order.reentry_of) link("Re-entry of", order.reentry_of);
    if (order.gtt_id) {
      dl.appendChild(el("dt", { text: "Placed by GTT" }));
      dl.appendChild(el("dd", {}, [el("a", { href: "/gtt/", text: order.gtt_id.slice(0, 8) })]));
    }
    (order.legs || []).forEach(function (leg) {
      dl.appendChild(el("dt", { text: O.label(leg.leg_role) }));
      dl.appendChild(el("dd", {}, [
        el("a", { href: "/orders/" + leg.id + "/", text: leg.side + " " + leg.qty + " " + O.label(leg.type) + " " + (leg.limit_price || leg.stop_price || "") + " " }),
        O.badge(leg.status),
      ]));
    });
    if (order.algo) {
      dl.appendChild(el("dt", { text: "Algo" }));
      dl.appendChild(el("dd", {}, [O.algoProgress(order)]));
    }
  }

  function renderActions() {
    const box = document.getElementById("o-edit");
    box.replaceChildren();
    if (!canTrade) return;
    const row = el("div", { class: "edit-row" });
    if (O.canModify(order)) {
      O.editableFields(order).forEach(function (name) {
        row.appendChild(el("div", { class: "f" }, [
          el("label", { for: "edit-" + name, text: O.label(name) }),
          el("input", { type: "text", id: "edit-" + name, name: name, inputmode: "decimal", value: order[name] === null ? "" : order[name] }),
        ]));
      });
      row.appendChild(el("button", { type: "button", class: "btn btn-primary", text: "Modify", onclick: modify }));
    }
    if (O.canCancel(order)) {
      row.appendChild(el("button", { type: "button", class: "btn btn-danger", text: "Cancel order", onclick: cancel }));
    }
    if (row.children.length) box.appendChild(row);
  }

  async function modify() {
    const changes = {};
    document.querySelectorAll("#o-edit input").forEach(function (input) { changes[input.name] = input.value.trim(); });
    const resp = await O.modifyOrder(order, changes);
    if (resp.ok) refresh();
  }

  async function cancel() {
    if (!window.confirm("Cancel this order?")) return;
    const resp = await O.cancelOrder(order);
    if (resp.ok) refresh();
  }

  function actorText(actor) {
    if (!actor) return "";
    return actor.type === "system" ? "system · " + actor.name : actor.name;
  }

  function detailsText(e) {
    const d = Object.assign({}, e.data);
    delete d.from; delete d.to; delete d.checks;
    if (e.type === "created") return Object.entries(d.order || {}).filter(function ([, v]) { return v !== null; }).map(function ([k, v]) { return k + " " + v; }).join(", ");
    if (e.type === "modified" && d.changes) {
      return Object.entries(d.changes).map(function ([k, [a, b]]) { return k + " " + O.num(a) + " → " + O.num(b); }).join(", ");
    }
    if (d.fill_qty) return F.qty(d.fill_qty) + " @ " + F.price(d.fill_price, order.symbol) + (d.fee && d.fee !== "0" ? " (fee " + F.money(d.fee) + ")" : "");
    return Object.entries(d).map(function ([k, v]) { return k + ": " + (typeof v === "object" ? JSON.stringify(v) : v); }).join(", ");
  }

  /* Consecutive events of one kind that repeat (a trailing stop moves every few ticks) as
   * runs: [event] alone, or [first, ..., last] shown as one expandable row. */
  const FOLDED = new Set(["stop_moved"]);
  function eventRuns(list) {
    const runs = [];
    list.forEach(function (e) {
      const last = runs[runs.length - 1];
      if (last && FOLDED.has(e.type) && last[0].type === e.type) last.push(e);
      else runs.push([e]);
    });
    return runs;
  }

  function stopMovesDetails(run) {
    const first = run[0].data || {};
    const last = run[run.length - 1].data || {};
    const summary = "stop " + O.num(first.previous) + " → " + O.num(last.stop_price) + " in " + run.length + " moves";
    const list = el("ol", { class: "moves" }, run.map(function (e) {
      const d = e.data || {};
      return el("li", { "data-seq": String(e.seq), title: "#" + e.seq + " " + e.at }, [
        el("span", { class: "mono", text: O.time(e.at) + " " }),
        el("span", { text: O.num(d.previous) + " → " + O.num(d.stop_price) + " (mark " + O.num(d.mark) + ")" }),
      ]);
    }));
    return el("details", { class: "event-run" }, [el("summary", { text: summary }), list]);
  }

  function eventRow(run) {
    const e = run[run.length - 1];
    const fresh = run.some(function (x) { return !seen.has(x.seq); });
    const folded = run.length > 1;
    run.forEach(function (x) { seen.add(x.seq); });
    return el("tr", { class: fresh ? "new-event" : "", "data-type": e.type, "data-seq": String(run[0].seq) }, [
      el("td", { class: "num", text: folded ? run[0].seq + "–" + e.seq : String(e.seq) }),
      el("td", { class: "mono", title: folded ? run[0].at + " – " + e.at : e.at, text: O.time(e.at) }),
      el("td", { text: O.label(e.type).replace(/_/g, " ") + (folded ? " ×" + run.length : "") }),
      el("td", {}, e.data && e.data.to ? [O.badge(e.data.to)] : []),
      el("td", { text: actorText(e.actor) }),
      el("td", { class: "data wide" }, folded ? [stopMovesDetails(run)] : [detailsText(e)]),
    ]);
  }

  function renderEvents() {
    const body = document.querySelector("#events tbody");
    // A re-render (the order changed) keeps an expanded run expanded.
    const open = new Set(Array.from(body.querySelectorAll("details[open]")).map(function (d) { return d.closest("tr").dataset.seq; }));
    body.replaceChildren.apply(body, eventRuns(events).map(function (run) {
      const tr = eventRow(run);
      const details = tr.querySelector("details");
      if (details && open.has(String(run[0].seq))) details.open = true;
      return tr;
    }));
  }

  function renderFills() {
    const body = document.querySelector("#fills tbody");
    if (!fills.length) {
      body.replaceChildren(el("tr", {}, [el("td", { colspan: "5", class: "empty", text: "No fills yet." })]));
      return;
    }
    body.replaceChildren.apply(body, fills.map(function (f) {
      return el("tr", {}, [
        el("td", { class: "mono", title: f.ts, text: O.time(f.ts) }),
        el("td", { class: "num", text: F.qty(f.qty) }),
        el("td", { class: "num", text: F.price(f.price, order.symbol) }),
        el("td", { class: "num", text: F.money(f.fee) }),
        el("td", { text: f.liquidity || "—" }),
      ]);
    }));
  }

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async function () {
      const [o, ev, fl] = await Promise.all([
        OMS.api("GET", "/api/v1/orders/" + order.id),
        OMS.api("GET", "/api/v1/orders/" + order.id + "/events?limit=1000"),
        OMS.api("GET", "/api/v1/fills?order=" + order.id + "&limit=1000"),
      ]);
      if (o.ok) {
        const before = order;
        order = o.data;
        renderOrder();
        if (before.status !== order.status) OMS.flash(document.getElementById("o-status"), 1);
        if (before.filled_qty !== order.filled_qty) OMS.flash(document.getElementById("o-filled"), 1);
      }
      if (ev.ok) { events = ev.data.results; renderEvents(); }
      if (fl.ok) { fills = fl.data.results.slice().reverse(); renderFills(); }
    })();
    try { await refreshing; } finally { refreshing = null; }
  }

  if (OMS.stream) {
    OMS.stream.subscribe(["orders", "fills"], function (msg) {
      const id = msg.event === "fill.created" ? msg.data.order_id : msg.data.id;
      if (id === order.id) refresh();
    });
    OMS.stream.on("resync", refresh); // missed updates while disconnected: re-read
  }

  renderOrder();
  renderEvents();
  renderFills();
})();
