/* Keeps the live banners of base.html true while a page stays open: the kill-switch banner
 * (#kill-switch-banner) and the expired broker session banner (#broker-session-banner).
 *
 * A `kill_switch.changed` push (sent on the user's notifications channel to everyone who
 * sees the account, or to everyone for the global switch) makes the page re-read itself and
 * put the server's banner in place: added, changed or removed. After a reconnect the same
 * happens, since a change may have been missed while the socket was down. A
 * `notification.created` push of a `broker.status_changed` notification (an account's broker
 * session expired, or someone logged in again) does the same for the session banner.
 */
(function () {
  "use strict";

  if (!window.OMS || !window.OMS.stream) return;

  const BANNERS = ["kill-switch-banner", "broker-session-banner"]; // in page order

  function swapOne(doc, id, index) {
    const fresh = doc.getElementById(id);
    const current = document.getElementById(id);
    if (fresh && current) {
      current.replaceWith(document.importNode(fresh, true));
    } else if (fresh) {
      const before = BANNERS.slice(0, index).map(function (other) {
        return document.getElementById(other);
      }).filter(Boolean).pop();
      const main = document.querySelector("main");
      if (before) before.after(document.importNode(fresh, true));
      else if (main) main.prepend(document.importNode(fresh, true));
    } else if (current) {
      current.remove();
    }
  }

  function swapBanner(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    BANNERS.forEach(function (id, index) { swapOne(doc, id, index); });
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
  window.OMS.stream.on("notification.created", function (msg) {
    if (msg && msg.data && msg.data.event === "broker.status_changed") refreshBanner();
  });
  window.OMS.stream.on("resync", refreshBanner);
  window.OMS.killSwitchBanner = { refresh: refreshBanner };
})();
