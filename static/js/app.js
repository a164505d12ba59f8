/* Small page helpers shared by every page: CSRF-aware fetch, number formatting, toasts. */
(function () {
  "use strict";
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  async function api(method, url, body) {
    const opts = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRFToken"] = cookie("csrftoken") || "";
    const resp = await fetch(url, opts);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  }
  function toast(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.remove(), 5000);
  }
  function flash(el, direction) {
    if (!el) return;
    el.classList.remove("flash-up", "flash-down");
    void el.offsetWidth; // restart the animation
    el.classList.add(direction >= 0 ? "flash-up" : "flash-down");
  }
  // Behaviour declared in markup instead of inline handlers (the CSP runs no inline script):
  // <form data-confirm="question"> asks before it submits; <select data-autosubmit> submits
  // its form when it changes.
  document.addEventListener("submit", function (ev) {
    const question = ev.target.dataset && ev.target.dataset.confirm;
    if (question && !window.confirm(question)) ev.preventDefault();
  }, true);
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select[data-autosubmit]") && ev.target.form) ev.target.form.submit();
  });
  window.OMS = Object.assign(window.OMS || {}, { api, cookie, toast, flash });
})();
