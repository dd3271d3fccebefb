// Homeport console: small enhancements. Every page works without this file.
"use strict";

(function () {
  // Copy buttons: <button data-copy="input-id" data-copy-status="status-id" hidden>.
  // They stay hidden without JavaScript; the text can still be selected by hand.
  function showStatus(button, text) {
    var id = button.getAttribute("data-copy-status");
    var status = id && document.getElementById(id);
    if (status) status.textContent = text;
  }

  function fallbackCopy(field) {
    // Older or locked-down browsers: select the text so Ctrl+C works, and try the
    // legacy copy command.
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (err) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var value = field.value;
      var done = function () { showStatus(button, "Copied to the clipboard."); };
      var manual = function () {
        if (fallbackCopy(field)) done();
        else showStatus(button, "Selected: press Ctrl+C (⌘C) to copy.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(done, manual);
      } else {
        manual();
      }
    });
  });

  // A secret shown once must not come back from the back/forward cache: wipe it from
  // the page as the browser leaves it.
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[data-secret-once]").forEach(function (box) {
      box.querySelectorAll("input").forEach(function (field) { field.value = ""; });
      box.remove();
    });
  });

  // The account drop-down is a <details>: close it with Escape or a click elsewhere.
  var menus = document.querySelectorAll("details.account-menu");
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus.forEach(function (menu) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
})();
