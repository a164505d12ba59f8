/* Keeps the kill-switch banner (base.html, #kill-switch-banner) true while a page stays open.
 *
 * A `kill_switch.changed` push (sent on the user's notifications channel to everyone who
 * sees the account, or to everyone for the global switch) makes the page re-read itself and
 * put the server's banner in place: added, changed or removed. After a reconnect the same
 * happens, since a change may have been missed while the socket was down.
 */
(function () {
  "use strict";

  if (!window.OMS || !window.OMS.stream) return;

  function swapBanner(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("kill-switch-banner");
    const current = document.getElementById("kill-switch-banner");
    if (fresh && current) {
      current.replaceWith(document.importNode(fresh, true));
    } else if (fresh) {
      const main = document.querySelector("main");
      if (main) main.prepend(document.importNode(fresh, true));
    } else if (current) {
      current.remove();
    }
  }

  function read(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; });
  }

  function refreshBanner() {
    // This page's own address first (same banner, same user); a page that was the answer
    // to a form post cannot be re-read with GET, so the dashboard stands in for it.
    read(window.location.href)
      .then(function (html) { return html === null ? read("/") : html; })
      .then(function (html) { if (html !== null) swapBanner(html); })
      .catch(function () { /* offline: the next push or reconnect tries again */ });
  }

  window.OMS.stream.on("kill_switch.changed", refreshBanner);
  window.OMS.stream.on("resync", refreshBanner);
  window.OMS.killSwitchBanner = { refresh: refreshBanner };
})();
