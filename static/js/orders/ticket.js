/* The order ticket: fields per order type, grid checks as you type, a dry run of the risk
 * checks (POST /api/v1/orders/preview) answered in plain words, then the real placement. */
(function () {
  "use strict";
  const form = document.getElementById("ticket");
  if (!form) return;
  const O = OMS.orders;
  const instruments = JSON.parse(document.getElementById("ticket-instruments").textContent);
  const accounts = JSON.parse(document.getElementById("ticket-accounts").textContent);
  const bySymbol = new Map(instruments.map(function (i) { return [i.symbol, i]; }));
  const byAccount = new Map(accounts.map(function (a) { return [a.id, a]; }));
  const $ = function (id) { return document.getElementById(id); };
  const f = {
    account: $("f-account"), symbol: $("f-symbol"), type: $("f-type"), qty: $("f-qty"),
    limit: $("f-limit"), stop: $("f-stop"), trailKind: $("f-trail-kind"), trail: $("f-trail"),
    tif: $("f-tif"), expire: $("f-expire"), display: $("f-display"), coid: $("f-coid"), tag: $("f-tag"),
    cls: $("f-class"), algo: $("f-algo"), tp: $("f-tp-limit"), slStop: $("f-sl-stop"), slLimit: $("f-sl-limit"),
    horizon: $("f-horizon"), horizonUnit: $("f-horizon-unit"), interval: $("f-interval"),
  };
  const placeBtn = $("place-btn");
  const previewBtn = $("preview-btn");
  const verdict = $("verdict");
  const checks = $("checks");
  const result = $("ticket-result");
  let previewTimer = null;
  let previewSeq = 0;
  let quoteSymbol = null;

  function side() {
    return form.querySelector("input[name=side]:checked").value;
  }

  function instrument() {
    return bySymbol.get(f.symbol.value.trim().toUpperCase()) || null;
  }

  /* --- exact decimal grid checks (strings → BigInt, never floats) ------------------------ */
  function scaled(text, places) {
    const m = /^(\d*)(?:\.(\d*))?$/.exec(text);
    if (!m) return null;
    const frac = (m[2] || "").padEnd(places, "0");
    if (frac.length > places) return null;
    return BigInt((m[1] || "0") + frac);
  }
  function decimals(text) {
    const i = text.indexOf(".");
    return i < 0 ? 0 : text.length - i - 1;
  }
  function onGrid(value, step) {
    const places = Math.max(decimals(value), decimals(step));
    const v = scaled(value, places);
    const s = scaled(step, places);
    if (v === null || s === null || s === 0n) return true;
    return v % s === 0n;
  }
  function notAbove(value, limit) {
    const places = Math.max(decimals(value), decimals(limit));
    const v = scaled(value, places);
    const l = scaled(limit, places);
    return v === null || l === null ? null : v <= l;
  }
  function positive(text) {
    return /^\d*\.?\d+$/.test(text) && /[1-9]/.test(text);
  }

  /* --- fields per type ---------------------------------------------------------------------- */
  function syncFields() {
    const type = f.type.value;
    form.querySelectorAll("[data-for-types]").forEach(function (node) {
      node.hidden = !node.dataset.forTypes.split(" ").includes(type);
    });
    form.querySelectorAll("[data-for-class]").forEach(function (node) {
      node.hidden = !node.dataset.forClass.split(" ").includes(f.cls.value);
    });
    form.querySelectorAll("[data-for-algo]").forEach(function (node) {
      node.hidden = !node.dataset.forAlgo.split(" ").includes(f.algo.value);
    });
    const immediateOk = type === "market" || type === "limit";
    Array.from(f.tif.options).forEach(function (opt) {
      opt.disabled = (opt.value === "ioc" || opt.value === "fok") && !immediateOk;
    });
    if (f.tif.selectedOptions[0].disabled) f.tif.value = "day";
    $("expire-field").hidden = f.tif.value !== "gtd";
    const s = side();
    const sym = instrument() ? instrument().symbol : "";
    placeBtn.textContent = (s === "buy" ? "Buy " : "Sell ") + sym;
    placeBtn.className = "btn " + (s === "buy" ? "btn-buy" : "btn-sell");
    const inst = instrument();
    $("symbol-rules").textContent = inst
      ? inst.name + " · " + inst.exchange + " · tick " + inst.tick_size + " · lot " + inst.lot_size
      : "";
  }

  /* Field errors stay on screen until the trader changes that input (or checks / sends
   * again): a background re-check never wipes them. */
  function clearErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (ul) { ul.replaceChildren(); });
  }

  function clearErrorsOf(input) {
    const names = input.dataset.errors
      ? input.dataset.errors.split(" ")
      : Array.from((input.closest(".field") || input).querySelectorAll("[data-error-for]")).map(function (ul) { return ul.dataset.errorFor; });
    names.forEach(function (name) {
      const ul = form.querySelector('[data-error-for="' + name + '"]');
      if (ul) ul.replaceChildren();
    });
  }

  function showErrors(fields) {
    const replaced = new Set(); // each list shows this answer only, not the one before
    Object.entries(fields || {}).forEach(function ([name, messages]) {
      const ul = form.querySelector('[data-error-for="' + name + '"]')
        || form.querySelector('[data-error-for="non_field_errors"]');
      if (!replaced.has(ul)) { ul.replaceChildren(); replaced.add(ul); }
      [].concat(messages).forEach(function (m) {
        ul.appendChild(O.el("li", { text: (ul.dataset.errorFor === name ? "" : OMS.words.field(name) + ": ") + m }));
      });
    });
  }

  /* What the trader typed, checked locally first (the server checks everything again). */
  function collect() {
    const errors = {};
    const missing = new Set(); // required and left empty (as opposed to filled in wrongly)
    const type = f.type.value;
    const inst = instrument();
    const body = {
      account: f.account.value,
      symbol: f.symbol.value.trim().toUpperCase(),
      side: side(),
      type: type,
      qty: f.qty.value.trim(),
      time_in_force: f.tif.value,
    };
    if (!body.symbol) { errors.symbol = ["Choose a symbol."]; missing.add("symbol"); }
    else if (!inst) errors.symbol = ["Unknown symbol."];
    if (!body.qty) { errors.qty = ["Enter the quantity."]; missing.add("qty"); }
    else if (!positive(body.qty)) errors.qty = ["Enter a positive quantity."];
    else if (inst && !onGrid(body.qty, inst.lot_size)) errors.qty = ["Must be a multiple of the lot size " + inst.lot_size + "."];
    // Only the prices the chosen type uses are read: a value left in a field the type hides
    // is never sent.
    function price(name, input) {
      const value = input.value.trim();
      if (!value) { errors[name] = ["Required for " + O.label(type) + " orders."]; missing.add(name); return; }
      if (!positive(value)) { errors[name] = ["Enter a positive price."]; return; }
      if (inst && name !== "trail_percent" && !onGrid(value, inst.tick_size)) { errors[name] = ["Must be a multiple of the tick size " + inst.tick_size + "."]; return; }
      body[name] = value;
    }
    if (type === "limit" || type === "stop_limit") price("limit_price", f.limit);
    if (type === "stop" || type === "stop_limit") price("stop_price", f.stop);
    if (type === "trailing_stop") price(f.trailKind.value, f.trail);
    if (f.tif.value === "gtd") {
      if (!f.expire.value) { errors.expire_at = ["Choose until when the order is good."]; missing.add("expire_at"); }
      else body.expire_at = new Date(f.expire.value).toISOString();
    }
    const cls = f.cls.value;
    if (cls !== "simple") {
      body.order_class = cls;
      const tp = f.tp.value.trim();
      const slStop = f.slStop.value.trim();
      const slLimit = f.slLimit.value.trim();
      function legPrice(name, value) {
        if (!positive(value)) return "Enter a positive price.";
        if (inst && !onGrid(value, inst.tick_size)) return "Must be a multiple of the tick size " + inst.tick_size + ".";
        return null;
      }
      // Bracket and OCO orders have both exit legs; an OTO entry exactly one (the one filled in).
      const oto = cls === "oto";
      const wantTp = !oto || Boolean(tp);
      const wantSl = !oto || Boolean(slStop || slLimit);
      if (oto && !wantTp && !wantSl) {
        errors.take_profit = ["Fill in one exit leg: a take-profit or a stop-loss."];
        missing.add("take_profit");
      } else if (oto && wantTp && wantSl) {
        errors.take_profit = ["An OTO order has one exit leg: clear the take-profit or the stop-loss."];
      } else {
        if (wantTp) {
          const tpErr = tp ? legPrice("take_profit", tp) : "Enter the take-profit limit price.";
          if (!tp) missing.add("take_profit");
          if (tpErr) errors.take_profit = [tpErr];
          else body.take_profit = { limit_price: tp };
        }
        if (wantSl) {
          const slErr = slStop ? legPrice("stop_loss", slStop) : "Enter the stop-loss stop price.";
          if (!slStop) missing.add("stop_loss");
          const slLimitErr = slLimit ? legPrice("stop_loss", slLimit) : null;
          if (slErr || slLimitErr) errors.stop_loss = [slErr || slLimitErr];
          else body.stop_loss = slLimit ? { stop_price: slStop, limit_price: slLimit } : { stop_price: slStop };
        }
      }
    }
    const algo = f.algo.value;
    if (algo === "twap" || algo === "vwap") {
      const horizon = f.horizon.value.trim();
      const interval = f.interval.value.trim();
      const a = { type: algo };
      if (!/^\d+$/.test(horizon) || horizon === "0" || /^0+$/.test(horizon)) errors["algo.horizon_secs"] = ["Enter a whole positive horizon."];
      else a.horizon_secs = Number(horizon) * Number(f.horizonUnit.value);
      if (interval) {
        if (!/^\d+$/.test(interval) || /^0+$/.test(interval)) errors["algo.interval_secs"] = ["Enter whole positive seconds."];
        else if (a.horizon_secs && Number(interval) > a.horizon_secs) errors["algo.interval_secs"] = ["Must not exceed the horizon."];
        else a.interval_secs = Number(interval);
      }
      if (body.limit_price) a.limit_price = body.limit_price;
      body.algo = a;
    } else if (algo === "iceberg") {
      // The contract's iceberg (API.md): `display_qty` on the order itself, limit orders only.
      const d = f.display.value.trim();
      if (type !== "limit") errors.display_qty = ["An iceberg is a limit order."];
      else if (!positive(d)) errors.display_qty = ["Enter a positive display quantity."];
      else if (inst && !onGrid(d, inst.lot_size)) errors.display_qty = ["Must be a multiple of the lot size " + inst.lot_size + "."];
      else if (positive(body.qty) && notAbove(d, body.qty) === false) errors.display_qty = ["Must not exceed the quantity."];
      else body.display_qty = d;
    }
    if (f.coid.value.trim()) body.client_order_id = f.coid.value.trim();
    if (f.tag.value.trim()) body.tag = f.tag.value.trim();
    return { body: body, errors: errors, missing: missing };
  }

  /* --- quote --------------------------------------------------------------------------------- */
  function renderQuote(q) {
    ["last", "bid", "ask"].forEach(function (k) {
      const node = $("q-" + k);
      const next = OMS.fmt.price(q ? q[k] : null, quoteSymbol);
      if (node.textContent !== next && node.dataset.value && q && q[k] !== null) {
        OMS.flash(node, Number(q[k]) - Number(node.dataset.value));
      }
      node.textContent = next;
      node.dataset.value = q && q[k] !== null && q[k] !== undefined ? q[k] : "";
    });
  }
  function onQuote(msg) {
    if (msg.data && msg.data.symbol === quoteSymbol) renderQuote(msg.data);
  }
  async function watchQuote() {
    const inst = instrument();
    const symbol = inst ? inst.symbol : null;
    if (symbol === quoteSymbol) return;
    if (quoteSymbol && OMS.stream) OMS.stream.unsubscribe(["quotes:" + quoteSymbol], onQuote);
    quoteSymbol = symbol;
    renderQuote(null);
    if (!symbol) return;
    if (OMS.stream) OMS.stream.subscribe(["quotes:" + symbol], onQuote);
    const resp = await OMS.api("GET", "/api/v1/market-data?symbols=" + encodeURIComponent(symbol));
    if (resp.ok && resp.data && resp.data.results && resp.data.results.length && quoteSymbol === symbol) {
      renderQuote(resp.data.results[0]);
    }
  }

  /* --- the risk checks' answer ------------------------------------------------------------------ */
  function renderVerdict(ok, message) {
    verdict.className = "verdict " + (ok ? "ok" : "bad");
    verdict.textContent = message;
  }

  function renderChecks(list) {
    checks.replaceChildren.apply(checks, (list || []).map(function (c) {
      return O.el("li", { class: c.result }, [
        O.el("span", { class: "mark", text: c.result === "pass" ? "✓" : "✗", "aria-hidden": "true" }),
        O.el("span", { text: c.message }),
      ]);
    }));
  }

  function showBuyingPower() {
    const acct = byAccount.get(f.account.value);
    $("buying-power").textContent = acct ? OMS.fmt.money(acct.buying_power, acct.currency) : "—";
  }

  function pendingText(errors, missing) {
    const needed = [];
    const wrong = [];
    Object.entries(errors).forEach(function ([name, messages]) {
      if (missing.has(name)) needed.push(OMS.words.field(name));
      else wrong.push(OMS.words.field(name) + ": " + messages[0]);
    });
    const parts = [];
    if (needed.length) parts.push("Still needed before the risk checks can answer: " + needed.join(", ") + ".");
    if (wrong.length) parts.push("To correct: " + wrong.join(" "));
    return parts.join(" ");
  }

  async function preview(explicit) {
    if (explicit) clearErrors();
    const { body, errors, missing } = collect();
    if (Object.keys(errors).length) {
      if (explicit) showErrors(errors);
      renderVerdict(false, explicit ? "Fix the highlighted fields first." : pendingText(errors, missing));
      verdict.className = "verdict" + (explicit ? " bad" : "");
      renderChecks([]);
      $("est-value").textContent = "—";
      return null;
    }
    const seq = ++previewSeq;
    const resp = await OMS.api("POST", "/api/v1/orders/preview", body);
    if (seq !== previewSeq) return null; // a newer check is on its way
    if (!resp.ok) {
      showErrors(resp.data && resp.data.error && resp.data.error.fields);
      renderVerdict(false, O.errorText(resp));
      renderChecks([]);
      return null;
    }
    const p = resp.data;
    const acct = byAccount.get(f.account.value);
    $("est-value").textContent = OMS.fmt.money(p.est_value, acct ? acct.currency : "");
    if (p.buying_power !== null) {
      $("buying-power").textContent = OMS.fmt.money(p.buying_power, acct ? acct.currency : "");
    }
    if (p.last !== null) renderQuote({ last: p.last, bid: p.bid, ask: p.ask });
    renderVerdict(p.ok, p.message);
    renderChecks(p.checks);
    return p;
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () { preview(false); }, 350);
  }

  async function place(ev) {
    ev.preventDefault();
    // A check still scheduled or on its way would land after the placement's answer and
    // put "would be sent now" over "Placed": it is dropped (the next edit checks again).
    clearTimeout(previewTimer);
    previewSeq++;
    clearErrors();
    const { body, errors } = collect();
    if (Object.keys(errors).length) {
      showErrors(errors);
      renderVerdict(false, "Fix the highlighted fields first.");
      return;
    }
    placeBtn.disabled = true;
    try {
      const resp = await OMS.api("POST", "/api/v1/orders", body);
      result.replaceChildren();
      if (resp.ok) {
        const order = resp.data;
        const words = order.status === "held"
          ? (order.hold_reason === "queued_for_open" ? "queued for the market open" : "held until its stop triggers")
          : "sent (" + OMS.words.state(order.status).toLowerCase() + ")";
        renderVerdict(true, (resp.status === 200 ? "Already placed: " : "Placed: ") + order.side + " " + order.qty + " " + order.symbol + " — " + words + ".");
        result.appendChild(O.el("p", {}, [
          O.el("span", { class: "badge badge-" + order.status, text: OMS.words.state(order.status), "data-role": "placed-status" }), " ",
          O.el("a", { href: "/orders/" + order.id + "/", text: "Follow this order" }), " · ",
          O.el("a", { href: "/orders/", text: "all orders" }),
        ]));
        result.dataset.orderId = order.id;
        OMS.toast("Order placed: " + order.side + " " + order.qty + " " + order.symbol + " (" + OMS.words.state(order.status) + ")");
        f.coid.value = "";
        return;
      }
      const err = resp.data && resp.data.error;
      if (resp.status === 422 && resp.data.order_id) {
        renderVerdict(false, "Rejected by the risk checks: " + err.message);
        result.appendChild(O.el("p", {}, [
          O.el("a", { href: "/orders/" + resp.data.order_id + "/", text: "The rejected order is kept in the audit trail" }),
        ]));
      } else {
        showErrors(err && err.fields);
        renderVerdict(false, O.errorText(resp));
      }
    } finally {
      placeBtn.disabled = false;
    }
  }

  // The badge of the order just placed follows it live (sent → filled, canceled, ...).
  function followPlaced(msg) {
    if (msg.event !== "order.updated" || !msg.data || msg.data.id !== result.dataset.orderId) return;
    const badge = result.querySelector("[data-role=placed-status]");
    if (!badge) return;
    badge.className = "badge badge-" + msg.data.status;
    badge.textContent = OMS.words.state(msg.data.status);
  }
  if (OMS.stream) OMS.stream.subscribe(["orders"], followPlaced);

  form.addEventListener("submit", place);
  previewBtn.addEventListener("click", function () { preview(true); });
  form.addEventListener("input", function (ev) { clearErrorsOf(ev.target); syncFields(); schedulePreview(); });
  form.addEventListener("change", function (ev) {
    syncFields();
    if (ev.target === f.symbol) watchQuote();
    if (ev.target === f.account) showBuyingPower();
    schedulePreview();
  });
  f.symbol.addEventListener("input", function () { if (instrument()) watchQuote(); });

  syncFields();
  showBuyingPower();
  watchQuote();
})();
