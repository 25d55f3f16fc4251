// The payment page (/pay/{id}): loads CloudPayments' widget and opens it on "Pay".
//
// No inline script (the page's Content-Security-Policy forbids it): everything comes from the
// data attributes of #cp-widget, and every text the payer reads is in the page, translated.
// The widget's callbacks only tell the payer what is happening; Kassa learns the outcome from
// CloudPayments' notifications, so after a success this script asks Kassa until it knows.
//
// The widget's API (`new cp.CloudPayments(...)`, `widget.pay("charge" | "auth", options,
// callbacks)`) is known from third-party integrations, not from CloudPayments' own docs.
(function () {
  "use strict";

  var LOAD_TIMEOUT_MS = 15000;
  var POLL_EVERY_MS = 3000;
  var POLL_TIMES = 100;

  function byId(id) {
    return document.getElementById(id);
  }

  function start() {
    var root = byId("cp-widget");
    if (!root) {
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
      if (!window.cp || typeof window.cp.CloudPayments !== "function") {
        cannotLoad();
        return;
      }
      settled = true;
      clearTimeout(timer);
      loading.hidden = true;
      unavailable.hidden = true;
      button.disabled = false;
    }

    function poll(times) {
      if (times <= 0) {
        return;
      }
      setTimeout(function () {
        fetch(data.statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
          .then(function (response) {
            return response.ok ? response.json() : null;
          })
          .then(function (answer) {
            if (answer && answer.status && answer.status !== "pending") {
              window.location.reload();
            } else {
              poll(times - 1);
            }
          })
          .catch(function () {
            poll(times - 1);
          });
      }, POLL_EVERY_MS);
    }

    function pay() {
      declined.hidden = true;
      var options = {
        publicId: data.publicId,
        description: data.description,
        // The widget takes a JavaScript number; the page gives the exact decimal string.
        amount: Number(data.amount),
        currency: data.currency,
        invoiceId: data.invoiceId
      };
      if (data.accountId) {
        options.accountId = data.accountId;
      }
      var widget = new window.cp.CloudPayments({ language: data.language });
      widget.pay(data.method, options, {
        onSuccess: function () {
          button.hidden = true;
          processing.hidden = false;
          poll(POLL_TIMES);
        },
        onFail: function (reason) {
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
