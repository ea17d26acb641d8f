// Registration list: one box selects every row of the page, and a decision for every
// matching registration (not only the ticked ones) is confirmed first. Without scripts the
// page works as before: rows are ticked one by one, and the button acts at once.
(function () {
  "use strict";
  var all = document.getElementById("select-all");
  var boxes = document.querySelectorAll("input[name=ids]");
  if (all && boxes.length) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  }
  var everyone = document.querySelector("button[name=scope][value=filtered]");
  if (everyone) {
    everyone.addEventListener("click", function (event) {
      if (!window.confirm(everyone.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }
})();
