// Statistics being computed: ask the API (same view, same query) every Retry-After
// seconds and show the page once the figures exist. Not a <meta http-equiv="refresh">:
// a page that reloads itself on a timer is a WCAG failure (axe "meta-refresh"), and
// this reloads only once, when there is something new to show.
(function () {
  "use strict";
  const el = document.getElementById("stats-pending");
  if (!el) return;
  const seconds = Math.max(1, parseInt(el.dataset.retryAfter, 10) || 5);
  const url = "/api/statistics/" + window.location.search;
  function ask() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((res) => {
        if (res.status === 200) window.location.reload();
        else window.setTimeout(ask, seconds * 1000);
      })
      .catch(() => window.setTimeout(ask, seconds * 1000));
  }
  window.setTimeout(ask, seconds * 1000);
})();
