// The terminals page keeps itself current: every few seconds it asks /admin/terminals.json
// for the table's rows (rendered by the server, in the page's language) and swaps them in.
// Without script the page shows what it showed when loaded; reloading it refreshes it.
"use strict";
(() => {
  const EVERY_MS = 5000;
  const table = document.querySelector("table[data-poll]");
  if (!table) return;
  const rows = table.tBodies[0];
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(table.dataset.poll, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      // A signed-out visitor is redirected to the sign-in page: keep what is shown.
      if (!response.ok || !response.headers.get("content-type")?.startsWith("application/json")) return;
      rows.innerHTML = (await response.json()).html;
    } catch {
      // Offline for a moment: the next round tries again.
    }
  }
  setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", refresh);
})();
