// Invitations dashboard: a reminder to everyone (no row ticked) is confirmed first, naming the
// round, how many it reaches and when the latest went out. Without scripts the button acts
// at once, as before; a ticked row sends only to the ticked invitees, without asking.
(function () {
  "use strict";
  var remind = document.getElementById("remind");
  if (!remind) { return; }
  remind.addEventListener("click", function (event) {
    if (document.querySelector("input[name=invitation_id]:checked")) { return; }
    if (!window.confirm(remind.getAttribute("data-confirm"))) { event.preventDefault(); }
  });
})();
