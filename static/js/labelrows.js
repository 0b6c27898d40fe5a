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
  const setValueAt = (row, value, focus = true) => {
    const input = row.querySelector(`input[value="${value}"]`);
    if (!input || input.disabled) return false;
    if (input.checked) return false;
    input.checked = true;
    if (focus) input.focus();
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  };
  const setValue = (value) => { setValueAt(rows[current], value); };

  // Jump: `o` then the row's two-letter code (data-jump; labeling.observations.JUMP_KEYS).
  const jumpStatus = document.createElement("span");
  jumpStatus.id = "jump-status";
  jumpStatus.className = "hint";
  jumpStatus.setAttribute("role", "status");
  jumpStatus.setAttribute("aria-live", "polite");
  (document.querySelector(".labels-head") || form).appendChild(jumpStatus);
  let jump = null;  // null: not jumping; else the letters typed so far
  const endJump = (message = "") => { jump = null; jumpStatus.textContent = message; };
  const jumpKey = (key) => {
    if (key === "Escape") { endJump(); return; }
    if (!/^[a-z]$/.test(key)) { endJump("Jump cancelled"); return; }
    jump += key;
    const matches = rows.filter((r) => (r.dataset.jump || "").startsWith(jump));
    if (!matches.length) { endJump(`No observation with code ${jump}`); return; }
    if (matches.length === 1 && matches[0].dataset.jump === jump) {
      endJump(`Jumped to ${matches[0].dataset.obs}`);
      setCurrent(rows.indexOf(matches[0]));
      return;
    }
    jumpStatus.textContent = `Go to: ${jump}…`;
  };

  // Rows needing attention (contested, rule ≠ model, readers in conflict), in
  // page order; c / Shift+C cycle through them, wrapping around.
  const attention = (step) => {
    for (let n = 1; n <= rows.length; n++) {
      const i = (current + step * n + rows.length * n) % rows.length;
      if (rows[i].dataset.attention) { jumpStatus.textContent = ""; setCurrent(i); return; }
    }
    jumpStatus.textContent = "No row needs a look here";
  };

  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); endJump(); onSubmitKey(); return; }
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (document.querySelector("dialog[open]") && e.key !== "Escape") return;  // dialogs own their keys
    if (isTyping(e.target)) {
      // Escape leaves a text field (the rationale) for the focused observation.
      if (e.key === "Escape" && e.target.tagName === "TEXTAREA" && !e.target.closest("dialog")) { e.preventDefault(); setCurrent(current); }
      return;
    }
    const key = e.key;
    if (key === "Shift") return;
    if (jump !== null) { e.preventDefault(); jumpKey(key); return; }
    const inText = textEl && document.activeElement === textEl;
    if ((key === "j" || key === "k") && inText) { e.preventDefault(); setCurrent(current); }  // back to the labels
    else if (key === "j") { e.preventDefault(); setCurrent(current + 1); }
    else if (key === "k") { e.preventDefault(); setCurrent(current - 1); }
    else if (key === "o") { e.preventDefault(); jump = ""; jumpStatus.textContent = "Go to: type a two-letter code (? lists them)"; }
    else if (key === "c") { e.preventDefault(); attention(1); }
    else if (key === "C") { e.preventDefault(); attention(-1); }
    else if (key === "r" && textEl) { e.preventDefault(); textEl.focus(); }
    else if (key in VALUE_KEYS) { e.preventDefault(); setValue(VALUE_KEYS[key]); }
    else if (key === "?") { e.preventDefault(); help && help.showModal(); }
    else if (key === "g") { e.preventDefault(); if (panel) { panel.hidden = !panel.hidden; } }
    else if (extraKeys[key]) { e.preventDefault(); extraKeys[key](); }
  });
  const helpButton = document.getElementById("help-button");
  if (helpButton && help) helpButton.addEventListener("click", () => help.showModal());

  if (rows.length) setCurrent(0, !data.readOnly);
  document.body.dataset.keyboardReady = "1";  // tests wait for this
  return { rows, current: () => rows[current], setValueAt, setCurrent, values: () => Object.fromEntries(rows.map((r) => [r.dataset.obs, (r.querySelector("input:checked") || {}).value || ""])) };
}

export function csrfToken(form) {
  const input = form.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}
