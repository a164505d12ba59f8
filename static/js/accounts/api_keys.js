/* API keys page: copy a freshly issued key to the clipboard. */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      const el = document.querySelector(btn.getAttribute("data-copy"));
      if (el && navigator.clipboard) {
        navigator.clipboard.writeText(el.textContent.trim()).then(function () { OMS.toast("Key copied"); });
      }
    });
  });
})();
