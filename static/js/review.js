// Review page: keyboard labelling, debounced draft autosave with a version
// check, time spent, flag and skip. See labelrows.js for the shared parts.
import { csrfToken, initLabelRows, pageData } from "./labelrows.js";

const data = pageData();
const form = document.getElementById("label-form");
const status = document.getElementById("save-status");
const versionInput = document.getElementById("version");
const timeInput = document.getElementById("time_spent");
const started = performance.now();
let timer = null;
let inFlight = Promise.resolve();
let stale = false;

const elapsed = () => (data.timeBefore || 0) + (performance.now() - started) / 1000;

function save(values) {
  if (!data.draftUrl) return;  // re-reads keep no drafts
  inFlight = inFlight.then(async () => {
    if (stale) return;
    status.textContent = "Saving…";
    try {
      const response = await fetch(data.draftUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(form), "X-Chexgold-Background": "1" },
        body: JSON.stringify({ labels: values, version: Number(versionInput.value), time_spent: elapsed() }),
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        versionInput.value = body.version;
        status.textContent = "Draft saved";
      } else if (response.status === 409) {
        stale = true;
        status.textContent = body.detail || "This read changed elsewhere. Reload the page.";
        status.classList.add("error");
      } else {
        status.textContent = body.detail || "Draft not saved";
      }
    } catch (err) {
      status.textContent = "Offline: draft not saved";
    }
  });
  return inFlight;
}

let helpers;
function scheduleSave() {
  if (data.readOnly) return;
  clearTimeout(timer);
  timer = setTimeout(() => { timer = null; save(helpers.values()); }, 600);
}

// A contested row (the rules and the model disagree) has no pre-filled value:
// the read cannot be submitted until the reader chooses one there.
function firstUnansweredContested() {
  for (const row of form.querySelectorAll(".obs-row[data-contested]")) {
    if (!row.querySelector("input[type=radio]:checked")) return row;
  }
  return null;
}

async function submit() {
  if (data.readOnly || stale) return;
  const open = firstUnansweredContested();
  if (open) {
    status.textContent = `Choose a value for ${open.dataset.obs}: the rules and the model disagree there.`;
    status.classList.add("error");
    const first = open.querySelector("input[type=radio]");
    if (first) first.focus();
    return;
  }
  if (timer) { clearTimeout(timer); timer = null; await save(helpers.values()); }
  await inFlight;
  timeInput.value = elapsed().toFixed(1);
  form.requestSubmit ? form.requestSubmit() : form.submit();
}

const flagDialog = document.getElementById("flag-dialog");
const submitForm = (id) => { const f = document.getElementById(id); if (f) f.submit(); };

helpers = initLabelRows(form, {
  data,
  onChange: scheduleSave,
  onSubmitKey: submit,
  extraKeys: {
    s: () => submitForm("skip-form"),
    n: () => submitForm("next-form"),
    u: () => {  // reopen a submitted read (only offered until it is used; once used, say why)
      const closed = document.getElementById("reopen-closed");
      if (document.getElementById("reopen-form")) submitForm("reopen-form");
      else if (closed) status.textContent = closed.textContent;
    },
    f: () => { if (flagDialog && !data.readOnly) { flagDialog.showModal(); flagDialog.querySelector("input[name=reason]").focus(); } },
  },
});
form.addEventListener("submit", () => { timeInput.value = timeInput.value || elapsed().toFixed(1); });
const flagButton = document.getElementById("flag-button");
if (flagButton) flagButton.addEventListener("click", () => flagDialog.showModal());
const flagCancel = document.getElementById("flag-cancel");
if (flagCancel) flagCancel.addEventListener("click", () => flagDialog.close());
