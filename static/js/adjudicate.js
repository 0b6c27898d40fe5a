// Adjudication page: same keyboard model as review; Ctrl+Enter saves gold labels.
// a / b / m take Reader A's / Reader B's / the machine's value for the focused
// row, Shift+A / B / M for every row. Overriding both readers on a row needs a
// rationale; the page asks for it before posting (the server may also refuse).
import { initLabelRows, pageData } from "./labelrows.js";

const form = document.getElementById("label-form");
const rationale = document.getElementById("rationale");
const rationaleError = document.getElementById("rationale-error");
const SOURCES = { a: "readA", b: "readB", m: "machine" };

const take = (row, source) => {
  const value = row.dataset[source];
  return value ? helpers.setValueAt(row, value, false) : false;
};
const takeOne = (source) => () => {
  const row = helpers.current();
  take(row, source);
  (row.querySelector("input:checked") || row.querySelector("input")).focus();
};
const takeAll = (source) => () => {
  helpers.rows.forEach((row) => take(row, source));
  helpers.setCurrent(helpers.rows.indexOf(helpers.current()));
};

// Rows whose chosen value differs from both readers' values.
function overrides() {
  return helpers.rows.filter((row) => {
    const chosen = (row.querySelector("input:checked") || {}).value || "";
    const { readA, readB } = row.dataset;
    return readA && readB && chosen && chosen !== readA && chosen !== readB;
  });
}

function refreshRationale() {
  const needed = overrides().length > 0;
  rationale.setAttribute("aria-required", needed ? "true" : "false");
  if (!needed || rationale.value.trim()) { rationaleError.hidden = true; rationale.removeAttribute("aria-invalid"); }
}

const extraKeys = { w: () => rationale.focus() };
for (const [key, source] of Object.entries(SOURCES)) {
  extraKeys[key] = takeOne(source);
  extraKeys[key.toUpperCase()] = takeAll(source);
}

const helpers = initLabelRows(form, {
  data: pageData(),
  onChange: refreshRationale,
  onSubmitKey: () => (form.requestSubmit ? form.requestSubmit() : form.submit()),
  extraKeys,
});
rationale.addEventListener("input", refreshRationale);
form.addEventListener("submit", (e) => {
  const rows = overrides();
  if (rows.length && !rationale.value.trim()) {
    e.preventDefault();
    rationaleError.textContent = `Write a rationale: your final value differs from both readers for ${rows.map((r) => r.dataset.obs).join(", ")}.`;
    rationaleError.hidden = false;
    rationale.setAttribute("aria-invalid", "true");
    rationale.focus();
  }
});
refreshRationale();
