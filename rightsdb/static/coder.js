// Coding page, progressive enhancement only: the form works fully without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.coder-form");
  if (!form) { return; }
  form.addEventListener("change", function (event) {
    var target = event.target;
    var indicator = target.closest(".coder-indicator");
    if (!indicator) { return; }
    // Choosing "+ New source" opens the inline fields for it.
    if (target.tagName === "SELECT" && /-source$/.test(target.name)) {
      var details = indicator.querySelector(".coder-newsource");
      if (details && target.value === "new") { details.open = true; }
    }
    // The answer that names migrant groups (the codebook's, on the form) needs them: show them.
    if (target.type === "radio" && target.value === form.dataset.groupedAnswer) {
      var groups = indicator.querySelector(".coder-groups");
      if (groups) { groups.open = true; }
    }
  });
});
