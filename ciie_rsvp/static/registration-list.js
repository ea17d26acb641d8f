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
      // Name the decision: "Decline all 1724 matching registrations…", not "this decision".
      var decision = document.querySelector("select[name=decision]");
      var verb = decision ? decision.options[decision.selectedIndex].text : "Apply the decision to";
      var question = everyone.getAttribute("data-confirm").replace("{decision}", verb);
      if (!window.confirm(question)) { event.preventDefault(); }
    });
  }
})();
