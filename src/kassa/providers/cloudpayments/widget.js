// CloudPayments' widget on Kassa's payer page (/pay/{id}): Kassa's pay.js loads the widget's
// script (data-script-url) and asks this to open it; see `Provider.payer_script`.
//
// The widget's API (`new cp.CloudPayments(...)`, `widget.pay("charge" | "auth", options,
// callbacks)`) is known from third-party integrations, not from CloudPayments' own docs.
(function () {
  "use strict";

  window.kassaWidget = {
    ready: function () {
      return Boolean(window.cp) && typeof window.cp.CloudPayments === "function";
    },

    open: function (data, done) {
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
      if (data.data) {
        // JsonData: the fiscal receipt (CustomerReceipt) CloudPayments makes for the payment.
        options.data = JSON.parse(data.data);
      }
      var widget = new window.cp.CloudPayments({ language: data.language });
      widget.pay(data.method, options, {
        onSuccess: function () {
          done.paid();
        },
        onFail: function (reason) {
          done.declined(reason);
        }
      });
    }
  };
})();
