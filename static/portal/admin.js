// Django's admin widgets, given the names that assistive technology needs (WCAG 4.1.2).
// The filter widget (SelectFilter2.js) labels its help icon with aria-label on a plain
// span, where screen readers ignore it: as an image it is announced.
(function () {
  "use strict";
  function fix(root) {
    root.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (el) {
      el.setAttribute("role", "img");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fix(document);
    new MutationObserver(function () { fix(document); }).observe(document.body, {
      childList: true, subtree: true,
    });
  });
})();
