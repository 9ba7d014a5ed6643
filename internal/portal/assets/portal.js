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
