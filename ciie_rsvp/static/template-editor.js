// Live preview for the invitation template editor: after a pause in typing, submit the draft
// to the preview endpoint into the sandboxed frame (the same path as the Preview button).
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-preview]");
  var button = document.getElementById("preview-button");
  if (!form || !button || !form.requestSubmit) { return; }
  var timer = null;
  function refresh() { form.requestSubmit(button); }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 600); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
