/* Tables that turn into cards on a phone (app.css, `table.cards`): each cell gets the name
 * of its column in data-label, which the card layout shows above the value. Rows drawn
 * later by live pages are labelled as they arrive. */
(function () {
  "use strict";

  function headings(table) {
    const names = [];
    table.querySelectorAll("thead tr:first-child th").forEach(function (th) {
      const span = Number(th.getAttribute("colspan")) || 1;
      for (let i = 0; i < span; i++) names.push(th.textContent.trim());
    });
    return names;
  }

  function label(table) {
    const names = headings(table);
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      let column = 0;
      Array.from(tr.children).forEach(function (cell) {
        const name = names[column];
        const span = Number(cell.getAttribute("colspan")) || 1;
        // A cell across the whole row ("No open orders.") is a message, not a column's value.
        if (name && span < names.length && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", name);
        }
        column += span;
      });
    });
  }

  function watch(table) {
    if (table.dataset.cardsWatched) return;
    table.dataset.cardsWatched = "1";
    label(table);
    new MutationObserver(function () { label(table); }).observe(table, { childList: true, subtree: true });
  }

  function scan(root) {
    root.querySelectorAll("table.cards").forEach(watch);
  }

  document.addEventListener("DOMContentLoaded", function () {
    scan(document);
    // Pages that build whole tables later (positions: one per account).
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        r.addedNodes.forEach(function (n) {
          if (n.nodeType !== 1) return;
          if (n.matches("table.cards")) watch(n);
          else scan(n);
        });
      });
    }).observe(document.querySelector("main") || document.body, { childList: true, subtree: true });
  });

  window.OMS = Object.assign(window.OMS || {}, { tables: { label } });
})();
