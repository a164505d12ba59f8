/* Shared helpers of the PnL pages: DOM building and number display.
 * Figures arrive as exact decimal strings from the API; floats are used only to draw
 * them (static/js/format.js), never to compute anything the server stores. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  /* Two decimals, grouped: the one money rule of static/js/format.js (and the server's). */
  function money(value) {
    return window.OMS.fmt.money(value);
  }

  function plain(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function signClass(node, value) {
    window.OMS.fmt.setSign(node, value);
  }

  function setMoney(node, value, flash) {
    if (!node) return;
    const text = money(value);
    if (node.textContent !== text) {
      const before = parseFloat(node.dataset.value || "NaN");
      node.textContent = text;
      const now = typeof value === "number" ? value : parseFloat(value);
      node.dataset.value = isFinite(now) ? String(now) : "";
      if (flash && isFinite(before) && isFinite(now) && now !== before) window.OMS.flash(node, now - before);
    }
    signClass(node, value);
  }

  function errorText(resp) {
    return window.OMS.words.errorText(resp);
  }

  window.OMS = Object.assign(window.OMS || {}, {
    pnl: { el, money, plain, signClass, setMoney, errorText },
  });
})();
