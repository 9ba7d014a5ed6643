// The portal's only script, and every page works without it. Copy
// buttons: without them the secret is in a read-only field, selectable by
// hand.
document.addEventListener("click", function (e) {
  var b = e.target.closest("button[data-copy]");
  if (!b) return;
  var field = document.getElementById(b.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 2000); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

// The endpoint form shows only the chosen profile's options; without the
// script it shows every profile's, each under its name, and the portal
// reads the chosen one's.
(function () {
  var profile = document.getElementById("profile");
  if (!profile) return;
  var sync = function () {
    document.querySelectorAll("[data-profile]").forEach(function (el) {
      el.hidden = el.getAttribute("data-profile") !== profile.value;
    });
  };
  profile.addEventListener("change", sync);
  sync();
})();

// The test form: choosing another type puts its example in the data field,
// unless the data was edited; without the script, "Start from the example"
// does it.
(function () {
  var type = document.getElementById("event_type"), data = document.getElementById("data");
  var desc = document.getElementById("type-description");
  if (!type || !data) return;
  var chosen = function () { return type.options[type.selectedIndex]; };
  var shown = chosen() ? chosen().getAttribute("data-example") : "";
  type.addEventListener("change", function () {
    var o = chosen();
    if (data.value.trim() === (shown || "").trim()) data.value = o.getAttribute("data-example") || "";
    shown = o.getAttribute("data-example");
    if (desc) desc.textContent = o.getAttribute("data-description") || "";
    var ex = document.getElementById("example"), title = document.querySelector("#example-title code");
    if (ex) ex.textContent = shown || "";
    if (title) title.textContent = o.value;
  });
})();
