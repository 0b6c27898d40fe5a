// Idle-session warning. The server logs a session out after
// CHEXGOLD_SESSION_IDLE_MINUTES without activity (autosave and progress polling,
// sent with X-Chexgold-Background: 1, do not count). This warns before that and
// offers "Stay signed in", which POSTs the keep-alive endpoint (activity).
(() => {
  const el = document.getElementById("session-timeout");
  if (!el) return;
  const idle = Number(el.dataset.idleSeconds);
  if (!(idle > 0)) return;
  const warn = Math.min(Number(el.dataset.warnSeconds) || 0, idle / 2);
  const url = el.dataset.keepaliveUrl;
  const loginUrl = el.dataset.loginUrl;
  let deadline = Date.now() + idle * 1000;
  let warnTimer = null, endTimer = null, tick = null;

  const dialog = document.createElement("div");
  dialog.setAttribute("role", "alertdialog");
  dialog.setAttribute("aria-labelledby", "session-timeout-title");
  dialog.className = "card session-warning";
  dialog.hidden = true;
  dialog.innerHTML = '<p id="session-timeout-title">You will be signed out in <span class="left"></span> because of inactivity.</p>' +
    '<button type="button" class="primary">Stay signed in</button>';
  document.body.appendChild(dialog);
  const left = dialog.querySelector(".left");
  const button = dialog.querySelector("button");

  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function signedOut() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(loginUrl + "?next=" + encodeURIComponent(next));
  }

  function schedule(seconds) {
    clearTimeout(warnTimer); clearTimeout(endTimer); clearInterval(tick);
    dialog.hidden = true;
    deadline = Date.now() + seconds * 1000;
    warnTimer = setTimeout(showWarning, Math.max(0, (seconds - warn) * 1000));
    endTimer = setTimeout(checkEnd, seconds * 1000 + 500);
  }

  function showWarning() {
    dialog.hidden = false;
    const update = () => {
      const s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      left.textContent = s >= 60 ? `${Math.ceil(s / 60)} minute${s > 60 ? "s" : ""}` : `${s} second${s === 1 ? "" : "s"}`;
    };
    update();
    tick = setInterval(update, 1000);
    button.focus();
  }

  // At the deadline ask the server (as a background request, so asking is not
  // activity): another tab may have kept the session alive.
  async function checkEnd() {
    try {
      const r = await fetch(url, { headers: { Accept: "application/json", "X-Chexgold-Background": "1" }, credentials: "same-origin" });
      if (r.ok) {
        const body = await r.json();
        if (body.remaining_seconds > 1) { schedule(body.remaining_seconds); return; }
      }
    } catch (e) { /* offline: treat as ended */ }
    signedOut();
  }

  button.addEventListener("click", async () => {
    try {
      const r = await fetch(url, { method: "POST", headers: { "X-CSRFToken": csrf(), Accept: "application/json" }, credentials: "same-origin" });
      if (r.ok) { schedule((await r.json()).idle_seconds); return; }
    } catch (e) { /* fall through */ }
    signedOut();
  });

  schedule(idle);
})();
