// The admin UI's one bit of script: a form marked data-once cannot be sent twice by a second
// click while the first is on its way (a double refund would be refused, but confusingly).
// Everything works without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
  if (form.dataset.sent) {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
});
