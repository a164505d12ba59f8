/* The strategies list: "New strategy" (a link to #create) opens the folded create form and
 * puts the cursor in its first field. */
(function () {
  "use strict";
  const create = document.getElementById("create");
  if (!create) return;

  function openIfAsked() {
    if (window.location.hash !== "#create") return;
    create.open = true;
    const first = create.querySelector("input:not([type=hidden]), select");
    if (first) first.focus();
  }

  window.addEventListener("hashchange", openIfAsked);
  document.addEventListener("click", function (ev) {
    const link = ev.target.closest && ev.target.closest('a[href="#create"]');
    if (link && window.location.hash === "#create") openIfAsked(); // same hash: no hashchange
  });
  openIfAsked();
})();
