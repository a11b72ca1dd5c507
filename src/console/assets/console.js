// orgd console: the only script of the console (no inline scripts; see the CSP).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: <button data-copy="#id">.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.type = "button";
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.textContent.trim();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(source); });
      } else {
        select(source);
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected for the user */ }
      }
    });
  });

  // Single sign-on: the session arrives in the fragment, which only this page sees; it is posted
  // to the console (with the form's CSRF token) and removed from the address bar and history.
  var finish = document.getElementById("sso-finish");
  if (finish) {
    var params = new URLSearchParams(window.location.hash.slice(1));
    history.replaceState(null, "", window.location.pathname);
    var token = params.get("access_token");
    if (token) {
      finish.elements["access_token"].value = token;
      finish.submit();
    } else {
      finish.querySelector("p").textContent = "Single sign-on did not return a session. Go back to the sign-in page and try again.";
    }
  }
});

function select(node) {
  var range = document.createRange();
  range.selectNodeContents(node);
  var selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}
