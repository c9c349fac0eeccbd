// Parta console: optional improvements only; every action works without this file.
(function () {
  "use strict";
  // the language switch submits itself when a choice is made (its button stays for keyboards without JS)
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // buttons with data-confirm ask before a destructive action (the server asks nothing: the page before says it)
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  // a form being sent disables its buttons (no double approval)
  document.querySelectorAll("form[method=post]").forEach(function (f) {
    f.addEventListener("submit", function () {
      setTimeout(function () { f.querySelectorAll("button").forEach(function (b) { b.disabled = true; }); }, 0);
    });
  });
})();
