/* What the user reads instead of API names: field labels ("Limit price", not limit_price),
 * plain order states ("Pending", not pending_new), and API errors turned into sentences
 * that name fields by their labels. Shared by every form and toast (OMS.words). */
(function () {
  "use strict";

  const FIELDS = {
    account: "Account", symbol: "Symbol", side: "Side", type: "Type", qty: "Quantity",
    limit_price: "Limit price", stop_price: "Stop price", trail_price: "Trail (price)",
    trail_percent: "Trail (%)", time_in_force: "Time in force", expire_at: "Good till",
    display_qty: "Display qty", order_class: "Order class", take_profit: "Take-profit",
    stop_loss: "Stop-loss", client_order_id: "Client order id", tag: "Tag", algo: "Algorithm",
    "algo.horizon_secs": "Horizon", "algo.interval_secs": "Interval",
    trigger_type: "Trigger type", trigger_values: "Trigger price", orders: "Order",
    expires_at: "Expires", name: "Name", order: "Order", product: "Product", kind: "Runs",
    run_at: "Run at", cron: "Cron", tz: "Time zone", enabled: "Enabled",
  };

  const STATES = {
    pending_new: "Pending", new: "Open", held: "Held", partially_filled: "Partly filled",
    filled: "Filled", pending_cancel: "Cancelling", canceled: "Cancelled", cancelled: "Cancelled",
    rejected: "Rejected", expired: "Expired", active: "Active", triggered: "Triggered",
    disabled: "Disabled",
  };

  const TYPES = {
    market: "Market", limit: "Limit", stop: "Stop", stop_limit: "Stop limit",
    trailing_stop: "Trailing stop",
  };

  function humanize(name) {
    const text = String(name).replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  /* "limit_price" → "Limit price"; nested names of the error shape read as words too:
   * "orders.1.limit_price" → "Order 2 limit price", "take_profit.limit_price" →
   * "Take-profit limit price". `overrides` lets a page name its own parts. */
  function field(name, overrides) {
    const own = Object.assign({}, FIELDS, overrides || {});
    if (own[name]) return own[name];
    const words = String(name).split(".").map(function (part, i, parts) {
      const known = own[parts.slice(0, i + 1).join(".")];
      if (known) return known;
      if (/^\d+$/.test(part)) return String(Number(part) + 1);
      return own[part] || humanize(part);
    });
    // Keep only the most specific label a known prefix gave ("Horizon", not "Algorithm Horizon").
    const text = words.join(" ");
    return text.charAt(0) + text.slice(1).replace(/\b[A-Z](?=[a-z])/g, function (c) { return c.toLowerCase(); });
  }

  function state(value) {
    return STATES[value] || humanize(value || "");
  }

  function orderType(value) {
    return TYPES[value] || humanize(value || "");
  }

  /* ["Limit price: Must be a multiple of the tick size 0.05."] from the error shape's fields. */
  function fieldErrors(fields, overrides) {
    return Object.entries(fields || {}).map(function ([name, messages]) {
      const text = [].concat(messages).join(" ");
      return name === "non_field_errors" ? text : field(name, overrides) + ": " + text;
    });
  }

  /* One sentence for a failed API call; a validation error names its first field by label. */
  function errorText(resp, overrides) {
    const err = resp && resp.data && resp.data.error;
    if (!err) return "The request failed (" + (resp ? resp.status : "network") + ").";
    const lines = fieldErrors(err.fields, overrides);
    if (err.code === "validation_error" && lines.length) return lines[0];
    return err.message || humanize(err.code);
  }

  window.OMS = window.OMS || {};
  window.OMS.words = { field, state, orderType, fieldErrors, errorText };
})();
