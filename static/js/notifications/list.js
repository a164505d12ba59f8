/* The notifications page, live: new notifications appear on the first page; reads in other
 * tabs update the rows. */
(function () {
  "use strict";
  // Live: new notifications appear on the first page; reads in other tabs update the rows.
  const table = document.getElementById("notification-table");
  const badge = document.getElementById("notif-unread-badge");
  const readAll = document.getElementById("notif-read-all");
  if (!table || !window.OMS || !window.OMS.stream) return;
  const tbody = table.tBodies[0];

  function setUnread(n) {
    badge.dataset.unread = String(n);
    badge.textContent = n + " unread";
    if (readAll) readAll.disabled = n === 0;
  }
  function markRowRead(row) {
    row.classList.remove("unread");
    const cell = row.cells[row.cells.length - 1];
    cell.textContent = "";
    const span = document.createElement("span");
    span.className = "muted";
    span.textContent = "read";
    cell.appendChild(span);
  }
  function cell(cls, child) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (child) td.appendChild(child);
    return td;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function addRow(n) {
    if (table.dataset.live !== "1" || tbody.querySelector('tr[data-id="' + n.id + '"]')) return;
    const empty = tbody.querySelector(".empty-row");
    if (empty) empty.remove();
    const row = el("tr", n.read ? "" : "unread");
    row.dataset.id = n.id;
    const when = el("time", "", window.OMS.fmt.dateTime(n.created_at));
    when.setAttribute("datetime", n.created_at || "");
    row.appendChild(cell("mono", when));
    const main = cell("");
    main.appendChild(el("strong", "notif-title", n.title));
    if (n.body) main.appendChild(el("div", "notif-body", n.body));
    const link = n.data && typeof n.data.link === "string" ? n.data.link : "";
    if (link.charAt(0) === "/" && link.charAt(1) !== "/") {  // this site's pages only
      const open = el("a", "notif-link", "Open");
      open.href = link;
      main.appendChild(open);
    }
    row.appendChild(main);
    row.appendChild(cell("col-account", document.createTextNode(n.account_name || "—")));
    row.appendChild(cell("col-kind", el("span", "badge badge-level-" + n.level, n.kind)));
    const btn = el("button", "btn-sm", "Mark read");
    btn.type = "button";
    btn.addEventListener("click", async function () {
      btn.disabled = true;
      const resp = await window.OMS.api("POST", "/api/v1/notifications/" + n.id + "/read");
      if (resp.ok) markRowRead(row); else btn.disabled = false;
    });
    row.appendChild(cell("notif-actions actions", btn));
    tbody.insertBefore(row, tbody.firstChild);
    row.classList.add("flash-up");
  }

  // After a reconnect: what arrived or was read while the socket was down, as a reload shows.
  async function resync() {
    const unreadOnly = table.dataset.unreadOnly === "1";
    const [list, count] = await Promise.all([
      window.OMS.api("GET", "/api/v1/notifications?limit=50" + (unreadOnly ? "&unread=1" : "")),
      window.OMS.api("GET", "/api/v1/notifications/unread-count"),
    ]);
    if (list.ok && list.data && table.dataset.live === "1") {
      list.data.results.slice().reverse().forEach(function (n) {
        const row = tbody.querySelector('tr[data-id="' + n.id + '"]');
        if (!row) addRow(n);
        else if (n.read) markRowRead(row);
      });
    }
    if (count.ok && count.data && typeof count.data.unread === "number") setUnread(count.data.unread);
  }
  window.OMS.stream.on("resync", resync);

  window.OMS.stream.subscribe(["notifications"], function (msg) {
    const d = msg.data || {};
    if (msg.event === "notification.created") {
      addRow(d);
      setUnread(Number(badge.dataset.unread || 0) + 1);
    } else if (msg.event === "notification.read") {
      (d.ids || []).forEach(function (id) {
        const row = tbody.querySelector('tr[data-id="' + id + '"]');
        if (row) markRowRead(row);
      });
      if (typeof d.unread === "number") setUnread(d.unread);
    } else if (msg.event === "notification.read_all") {
      tbody.querySelectorAll("tr.unread").forEach(markRowRead);
      setUnread(typeof d.unread === "number" ? d.unread : 0);
    }
  });
})();
