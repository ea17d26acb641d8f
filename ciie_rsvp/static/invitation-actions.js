// Invitations dashboard: the remind button says whom it reaches. With rows ticked it reminds
// only those ("Remind the 2 ticked"); with none it reminds every non-responder, and asks
// first, naming the round, how many and when the latest went out. Without scripts the button
// acts at once, as before.
(function () {
  "use strict";
  var remind = document.getElementById("remind");
  if (!remind) { return; }
  var everyone = remind.textContent;
  var boxes = document.querySelectorAll("input[name=invitation_id]");
  function ticked() {
    return document.querySelectorAll("input[name=invitation_id]:checked").length;
  }
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      var n = ticked();
      remind.textContent = n ? "Remind the " + n + " ticked (round " +
        remind.getAttribute("data-round") + ")" : everyone;
    });
  });
  remind.addEventListener("click", function (event) {
    if (ticked()) { return; }
    if (!window.confirm(remind.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
})();
