// Progressive enhancement only: every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Ask before leaving a form with unsaved changes.
  document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
  });
});
