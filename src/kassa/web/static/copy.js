// Copy buttons of a confirmation (templates/_confirmation.html): each `button.copy` puts its
// `data-copy` on the clipboard and says so for a moment (`data-copied`, translated in the
// page). The buttons come hidden, and are shown here only where the clipboard can be written
// (a secure context: https, or the loopback); elsewhere the payer selects the text.
(function () {
  "use strict";

  var SAID_FOR_MS = 2000;

  function start() {
    if (!navigator.clipboard || !window.isSecureContext) {
      return;
    }
    var buttons = document.querySelectorAll("button.copy[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.dataset.copy).then(function () {
          button.textContent = button.dataset.copied;
          button.classList.add("done");
          setTimeout(function () {
            button.textContent = label;
            button.classList.remove("done");
          }, SAID_FOR_MS);
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
