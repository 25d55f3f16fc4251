// A club's pages keep their live parts current: every few seconds the page asks the JSON named
// by its `data-poll` element (the club's map, a PC's state) for those parts, rendered by the
// server in the page's language, and swaps each `data-part` element's content for the JSON's
// text of that name. Without script a page shows what it showed when loaded; reloading it
// refreshes it.
"use strict";
(() => {
  const EVERY_MS = 5000;
  const source = document.querySelector("[data-poll]");
  if (!source) return;
  const parts = document.querySelectorAll("[data-part]");
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(source.dataset.poll, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      // A signed-out visitor is redirected to the sign-in page: keep what is shown.
      if (!response.ok || !response.headers.get("content-type")?.startsWith("application/json")) return;
      const shown = await response.json();
      for (const part of parts) {
        const html = shown[part.dataset.part];
        if (typeof html === "string") part.innerHTML = html;
      }
    } catch {
      // Offline for a moment: the next round tries again.
    }
  }
  setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", refresh);
})();
