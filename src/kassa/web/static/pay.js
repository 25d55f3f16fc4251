// The payer page (/pay/{id}): loads the provider's widget and opens it on "Pay"; on a page
// that shows what the payer must do instead (requisites, a QR code: #pay-waiting), asks Kassa
// for the status until it changes, and reloads the page to show the outcome.
//
// No inline script (the page's Content-Security-Policy forbids it): everything comes from the
// data attributes of #pay-widget, and every text the payer reads is in the page, translated.
// What is particular to the provider is in its own script, which the page runs first and
// which sets `window.kassaWidget`: `ready()` says whether the widget's script (data-script-url)
// loaded what it should; `open(data, done)` opens the widget, then calls `done.paid()` or
// `done.declined(reason)`. The widget's word only tells the payer what is happening; Kassa
// learns the outcome from the provider's notifications, so after a success this script asks
// Kassa until it knows.
(function () {
  "use strict";

  var LOAD_TIMEOUT_MS = 15000;
  var POLL_EVERY_MS = 3000;
  var POLL_TIMES = 100;
  // A transfer by requisites or from a wallet takes the payer longer than a widget: an hour.
  var WAIT_POLL_TIMES = 1200;

  function byId(id) {
    return document.getElementById(id);
  }

  // Ask Kassa for the status every POLL_EVERY_MS, at most `times` times; reload once the
  // payment is no longer pending.
  function poll(statusUrl, times) {
    if (times <= 0) {
      return;
    }
    setTimeout(function () {
      fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (answer) {
          if (answer && answer.status && answer.status !== "pending") {
            window.location.reload();
          } else {
            poll(statusUrl, times - 1);
          }
        })
        .catch(function () {
          poll(statusUrl, times - 1);
        });
    }, POLL_EVERY_MS);
  }

  function start() {
    var root = byId("pay-widget");
    if (!root) {
      var waiting = byId("pay-waiting");
      if (waiting) {
        poll(waiting.dataset.statusUrl, WAIT_POLL_TIMES);
      }
      return;
    }
    var data = root.dataset;
    var button = byId("pay-button");
    var loading = byId("pay-loading");
    var unavailable = byId("pay-unavailable");
    var processing = byId("pay-processing");
    var declined = byId("pay-declined");
    var declinedReason = byId("pay-declined-reason");
    var settled = false;
    var timer = null;

    function cannotLoad() {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      loading.hidden = true;
      button.hidden = true;
      unavailable.hidden = false;
      unavailable.classList.add("shown");
    }

    function loaded() {
      if (settled) {
        return;
      }
      if (!window.kassaWidget || !window.kassaWidget.ready()) {
        cannotLoad();
        return;
      }
      settled = true;
      clearTimeout(timer);
      loading.hidden = true;
      unavailable.hidden = true;
      button.disabled = false;
    }

    function pay() {
      declined.hidden = true;
      window.kassaWidget.open(data, {
        paid: function () {
          button.hidden = true;
          processing.hidden = false;
          poll(data.statusUrl, POLL_TIMES);
        },
        declined: function (reason) {
          declinedReason.textContent = reason ? String(reason) : "";
          declined.hidden = false;
        }
      });
    }

    button.addEventListener("click", pay);
    var script = document.createElement("script");
    script.src = data.scriptUrl;
    script.async = true;
    script.onload = loaded;
    script.onerror = cannotLoad;
    timer = setTimeout(cannotLoad, LOAD_TIMEOUT_MS);
    document.head.appendChild(script);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
