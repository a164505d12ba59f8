/* An account's broker connection: the status badge (refreshed every 30 s and after a test),
 * the "Test connection" button (ok, latency and detail in words) and, for brokers with a
 * daily login (Kite), the "Log in" button — which says so when the broker's adapter offers
 * no login. Used by the connection page and the account page's broker card. */
(function () {
  "use strict";
  const panel = document.querySelector("[data-status-url]");
  if (!panel) return;
  const STATUS_WORDS = {
    connected: "Connected", disconnected: "Disconnected",
    session_expired: "Session expired", error: "Error",
  };
  const badge = panel.querySelector("[data-broker-status]");
  const checked = document.getElementById("broker-checked");
  const detail = document.getElementById("broker-detail");
  const result = document.getElementById("broker-test-result");
  const testBtn = document.getElementById("broker-test");
  const loginBtn = document.getElementById("broker-login");

  function showStatus(data) {
    if (!data || !badge) return;
    badge.className = "badge badge-" + data.status;
    badge.textContent = STATUS_WORDS[data.status] || OMS.words.state(data.status);
    if (checked) checked.textContent = data.last_checked_at ? OMS.fmt.dateTime(data.last_checked_at) : "never";
    if (detail) detail.textContent = data.detail || "—";
  }

  async function refresh() {
    const resp = await OMS.api("GET", panel.dataset.statusUrl);
    if (resp.ok) showStatus(resp.data);
  }

  if (testBtn) {
    testBtn.addEventListener("click", async function () {
      testBtn.disabled = true;
      if (result) result.textContent = "Testing…";
      try {
        const resp = await OMS.api("POST", panel.dataset.testUrl);
        if (!resp.ok) {
          result.textContent = OMS.words.errorText(resp);
          return;
        }
        const d = resp.data;
        result.textContent = (d.ok ? "OK" : "Failed") + " in " + d.latency_ms + " ms: " + d.detail;
        result.className = d.ok ? "up" : "down";
        await refresh();
      } finally {
        testBtn.disabled = false;
      }
    });
  }

  if (loginBtn) {
    loginBtn.addEventListener("click", async function () {
      const resp = await OMS.api("GET", panel.dataset.loginUrl);
      if (resp.ok && resp.data && resp.data.login_url) {
        window.location.assign(resp.data.login_url);
      } else if (resp.status === 404 || resp.status === 405) {
        result.textContent = "Logging in from OMS is not available: this broker's adapter offers no login here.";
      } else {
        result.textContent = OMS.words.errorText(resp);
      }
    });
  }

  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, 30000);
})();
