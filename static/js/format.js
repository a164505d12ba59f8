/* How live pages write numbers and times: the same rules as the server's template filters
 * (accounts/templatetags/oms_format.py), so a cell the server drew and the same cell redrawn
 * by a push read alike. Values arrive as exact decimal strings; rounding is done on the
 * digits (BigInt), half-up, never through a float.
 *   price(v, symbol)  tick precision of the instrument ("1,251.00" for a 0.05 tick)
 *   avg(v, symbol)    two places finer than the tick ("1,251.1941")
 *   money(v, ccy)     two decimals, grouped, currency when given ("1,000,000.00 INR")
 *   qty(v)            exact, grouped, no trailing zeros ("1,000", "0.5")
 *   percent(v)        two decimals and "%" ("1.50%")
 *   signClass(v)      "up" above zero, "down" below, "" at zero as shown (2 places)
 *   time(iso)         "09:05:30" today, else "5 Dec 09:05:30", another year "5 Dec 2025 09:05"
 *   dateTime(iso)     "5 Dec 2026 09:05:30 UTC" in the browser's zone (the zone named)
 * Tick sizes come from <script id="oms-ticks" type="application/json"> in base.html. */
(function () {
  "use strict";

  const EMPTY = "—";
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const AVG_EXTRA_PLACES = 2;
  const DEFAULT_AVG_PLACES = 4;
  const DECIMAL = /^([-+]?)(\d*)(?:\.(\d*))?$/;
  let ticks = null;

  function tickSizes() {
    if (ticks === null) {
      const node = document.getElementById("oms-ticks");
      try { ticks = node ? JSON.parse(node.textContent) || {} : {}; } catch (e) { ticks = {}; }
    }
    return ticks;
  }

  /* Decimal places of a tick size string ("0.05" → 2, "1" → 0); null when unknown. */
  function placesOf(tick) {
    if (tick === null || tick === undefined || tick === "") return null;
    const m = DECIMAL.exec(String(tick).trim());
    if (!m || !(Number(tick) > 0)) return null;
    return (m[3] || "").replace(/0+$/, "").length;
  }

  function tickPlaces(symbol) {
    return symbol ? placesOf(tickSizes()[symbol]) : null;
  }

  /* {negative, digits: BigInt, scale} of a decimal string or number; null if not a number. */
  function parse(value) {
    if (value === null || value === undefined || value === "") return null;
    let text = typeof value === "number" ? (isFinite(value) ? value.toFixed(10) : "") : String(value).trim();
    const m = DECIMAL.exec(text);
    if (!m || (m[2] === "" && !m[3])) return null;
    const frac = m[3] || "";
    return { negative: m[1] === "-", digits: BigInt((m[2] || "0") + frac), scale: frac.length };
  }

  function group(intDigits) {
    return intDigits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /* Exactly `places` decimals, half-up, grouped; "—" for no value. */
  function fixed(value, places) {
    const n = parse(value);
    if (n === null) return EMPTY;
    let digits = n.digits;
    if (n.scale > places) {
      const divisor = 10n ** BigInt(n.scale - places);
      const rest = digits % divisor;
      digits = digits / divisor + (rest * 2n >= divisor ? 1n : 0n);
    } else {
      digits = digits * 10n ** BigInt(places - n.scale);
    }
    let text = digits.toString().padStart(places + 1, "0");
    const intPart = text.slice(0, text.length - places);
    const fracPart = places ? "." + text.slice(text.length - places) : "";
    const sign = n.negative && digits !== 0n ? "-" : "";
    return sign + group(intPart) + fracPart;
  }

  function qty(value) {
    const n = parse(value);
    if (n === null) return EMPTY;
    const frac = (String(value).split(".")[1] || "").replace(/0+$/, "");
    return fixed(value, typeof value === "number" ? Math.min(frac.length, 8) : frac.length);
  }

  function price(value, symbol) {
    const places = tickPlaces(symbol);
    return places === null ? qty(value) : fixed(value, places);
  }

  function avg(value, symbol) {
    const places = tickPlaces(symbol);
    return fixed(value, places === null ? DEFAULT_AVG_PLACES : places + AVG_EXTRA_PLACES);
  }

  function money(value, currency) {
    const text = fixed(value, 2);
    return currency && text !== EMPTY ? text + " " + currency : text;
  }

  function percent(value) {
    const text = fixed(value, 2);
    return text === EMPTY ? text : text + "%";
  }

  function signClass(value) {
    const text = fixed(value, 2);
    if (text === EMPTY || /^0(\.0+)?$/.test(text)) return "";
    return text.startsWith("-") ? "down" : "up";
  }

  /* Put the up/down class of `value` on `node` (and only that one). */
  function setSign(node, value) {
    if (!node) return;
    node.classList.remove("up", "down");
    const cls = signClass(value);
    if (cls) node.classList.add(cls);
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function asDate(iso) {
    if (!iso) return null;
    const d = iso instanceof Date ? iso : new Date(iso);
    return isNaN(d) ? null : d;
  }

  function zoneName(d) {
    try {
      const part = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(d)
        .find(function (p) { return p.type === "timeZoneName"; });
      return part ? part.value : "";
    } catch (e) { return ""; }
  }

  function hms(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function day(d) { return d.getDate() + " " + MONTHS[d.getMonth()] + " " + d.getFullYear(); }

  /* A time in a list: the clock today; the date too otherwise (the year when not this one). */
  function time(iso) {
    const d = asDate(iso);
    if (!d) return iso ? String(iso) : EMPTY;
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return hms(d);
    if (d.getFullYear() === now.getFullYear()) return d.getDate() + " " + MONTHS[d.getMonth()] + " " + hms(d);
    return day(d) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function dateTime(iso) {
    const d = asDate(iso);
    if (!d) return iso ? String(iso) : EMPTY;
    const zone = zoneName(d);
    return day(d) + " " + hms(d) + (zone ? " " + zone : "");
  }

  function date(iso) {
    const d = asDate(iso);
    return d ? day(d) : (iso ? String(iso) : EMPTY);
  }

  /* Server-rendered <time data-fmt> (the local_time filter) in the browser's own zone. */
  function localizeTimes(root) {
    (root || document).querySelectorAll("time[data-fmt][datetime]").forEach(function (node) {
      const iso = node.getAttribute("datetime");
      const style = node.dataset.fmt;
      node.textContent = style === "date" ? date(iso) : style === "time" ? time(iso) : dateTime(iso);
      node.title = iso;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localizeTimes(document); });

  window.OMS = Object.assign(window.OMS || {}, {
    fmt: { price, avg, money, qty, percent, fixed, placesOf, signClass, setSign, time, dateTime, date, localizeTimes, EMPTY },
  });
})();
