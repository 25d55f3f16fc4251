// A club's page keeps its map current: every few seconds it asks the map's JSON for the map
// and the problems list (rendered by the server, in the page's language) and swaps them in.
// Without script the page shows what it showed when loaded; reloading it refreshes it.
"use strict";
(() => {
  const EVERY_MS = 5000;
  const map = document.querySelector("#club-map[data-poll]");
  const problems = document.querySelector("#club-problems");
  if (!map) return;
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(map.dataset.poll, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      // A signed-out visitor is redirected to the sign-in page: keep what is shown.
      if (!response.ok || !response.headers.get("content-type")?.startsWith("application/json")) return;
      const shown = await response.json();
      map.innerHTML = shown.html;
      if (problems) problems.innerHTML = shown.problems;
    } catch {
      // Offline for a moment: the next round tries again.
    }
  }
  setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", refresh);
})();
