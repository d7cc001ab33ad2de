// Touchpoint's page behaviour. No inline scripts: everything lives here.
document.addEventListener("htmx:responseError", function (event) {
  var target = document.getElementById("messages");
  if (!target) return;
  var p = document.createElement("p");
  p.className = "message message-error";
  p.setAttribute("role", "alert");
  p.textContent = "Something went wrong (" + event.detail.xhr.status + "). Please try again.";
  target.appendChild(p);
});

// Interactions: a quick action's Cancel empties the slot its form was loaded into.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-dismiss-slot]");
  if (!button) return;
  var slot = button.closest(".quick-action-slot, .followup-slot");
  if (slot) slot.replaceChildren();
});

// Interactions: choosing what to log presets its usual channel and direction
// (the kind <select> carries the presets as JSON in data attributes).
document.addEventListener("change", function (event) {
  var kind = event.target;
  if (!kind.matches || !kind.matches("select[data-preset-channel]")) return;
  var form = kind.form;
  if (!form) return;
  [["channel", "presetChannel"], ["direction", "presetDirection"]].forEach(function (pair) {
    var field = form.elements.namedItem(pair[0]);
    var presets = JSON.parse(kind.dataset[pair[1]] || "{}");
    if (field && presets[kind.value]) field.value = presets[kind.value];
  });
});
