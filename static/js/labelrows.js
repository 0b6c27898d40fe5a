// Shared by review.js and adjudicate.js: keyboard navigation over observation
// rows (radio groups), report text rendering with sections and evidence marks.
// Offsets from the server are already UTF-16 (JavaScript string) offsets.

export const VALUE_KEYS = { "1": "positive", "2": "negative", "3": "uncertain", "0": "blank" };

export function isTyping(target) {
  if (!target) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") return !["radio", "checkbox", "button", "submit"].includes(target.type);
  return false;
}

export function pageData() {
  const el = document.getElementById("page-data");
  return el ? JSON.parse(el.textContent) : {};
}

// Render `text` into `container` with section headings and evidence spans marked.
export function renderText(container, text, sections, spans) {
  const points = new Set([0, text.length]);
  for (const s of sections) [s.heading_start, s.body_start, s.body_end].forEach((p) => points.add(p));
  for (const s of spans) {
    points.add(s.start); points.add(s.end);
    if (Number.isInteger(s.sentence_start)) { points.add(s.sentence_start); points.add(s.sentence_end); }
  }
  const cuts = [...points].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  const frag = document.createDocumentFragment();
  let firstMark = null;
  for (let i = 0; i < cuts.length - 1; i++) {
    const a = cuts[i], b = cuts[i + 1];
    if (a === b) continue;
    const hit = spans.find((s) => a >= s.start && b <= s.end);
    const inSentence = spans.some((s) => Number.isInteger(s.sentence_start) && a >= s.sentence_start && b <= s.sentence_end);
    const section = sections.find((s) => a >= s.heading_start && b <= s.body_end);
    const el = document.createElement(hit ? "mark" : "span");
    el.textContent = text.slice(a, b);
    if (section) {
      el.dataset.section = section.name;
      el.classList.add(a < section.body_start ? "sec-heading" : "sec-body");
    }
    if (hit) {
      el.classList.add("ev", `ev-${hit.value || "positive"}`);
      el.title = `${hit.phrase || ""}${hit.cue ? ` (cue: ${hit.cue})` : ""} → ${hit.value || ""}`;
      firstMark = firstMark || el;
    } else if (inSentence) {
      el.classList.add("ev-sentence");
    }
    // A shaded heading gets its words only: the whitespace and newline around
    // them stay unshaded (a shaded newline paints to the end of the line).
    const lead = el.classList.contains("sec-heading") && !hit ? el.textContent.match(/^\s*/)[0] : "";
    const trail = el.classList.contains("sec-heading") && !hit ? el.textContent.slice(lead.length).match(/\s*$/)[0] : "";
    if (lead) frag.appendChild(document.createTextNode(lead));
    if (lead || trail) el.textContent = el.textContent.slice(lead.length, el.textContent.length - trail.length);
    if (el.textContent) frag.appendChild(el);
    if (trail) frag.appendChild(document.createTextNode(trail));
  }
  container.replaceChildren(frag);
  return firstMark;
}

// Wire the observation rows in `form`. Returns helpers for page scripts.
export function initLabelRows(form, { data, onChange, onSubmitKey, extraKeys = {} }) {
  const rows = [...form.querySelectorAll(".obs-row")];
  const textEl = document.getElementById("report-text");
  const panel = document.getElementById("guideline-panel");
  const help = document.getElementById("help-dialog");
  let current = 0;

  const showEvidence = (row) => {
    if (!textEl) return;
    const spans = (data.evidence || {})[row.dataset.obs] || [];
    const mark = renderText(textEl, data.text, data.sections || [], spans);
    if (mark) mark.scrollIntoView({ block: "nearest" });
  };
  const showGuideline = (row) => {
    if (!panel) return;
    document.getElementById("guideline-title").textContent = `Guideline: ${row.dataset.obs}`;
    document.getElementById("guideline-text").textContent = row.dataset.guideline || "No guideline yet.";
  };
  const setCurrent = (i, focus = true) => {
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("current", j === current));
    const row = rows[current];
    showEvidence(row);
    showGuideline(row);
    if (focus) (row.querySelector("input:checked") || row.querySelector("input")).focus();
  };
  rows.forEach((row, i) => {
    row.addEventListener("focusin", () => { if (current !== i || !row.classList.contains("current")) setCurrent(i, false); });
    row.addEventListener("change", () => onChange && onChange(row));
  });
  const setValue = (value) => {
    const input = rows[current].querySelector(`input[value="${value}"]`);
    if (!input || input.disabled) return;
    input.checked = true;
    input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); onSubmitKey(); return; }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (document.querySelector("dialog[open]") && e.key !== "Escape") return;  // dialogs own their keys
    if (isTyping(e.target)) return;
    const key = e.key;
    if (key === "j") { e.preventDefault(); setCurrent(current + 1); }
    else if (key === "k") { e.preventDefault(); setCurrent(current - 1); }
    else if (key in VALUE_KEYS) { e.preventDefault(); setValue(VALUE_KEYS[key]); }
    else if (key === "?") { e.preventDefault(); help && help.showModal(); }
    else if (key === "g") { e.preventDefault(); if (panel) { panel.hidden = !panel.hidden; } }
    else if (extraKeys[key]) { e.preventDefault(); extraKeys[key](); }
  });
  const helpButton = document.getElementById("help-button");
  if (helpButton && help) helpButton.addEventListener("click", () => help.showModal());

  if (rows.length) setCurrent(0, !data.readOnly);
  document.body.dataset.keyboardReady = "1";  // tests wait for this
  return { rows, values: () => Object.fromEntries(rows.map((r) => [r.dataset.obs, (r.querySelector("input:checked") || {}).value || ""])) };
}

export function csrfToken(form) {
  const input = form.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}
