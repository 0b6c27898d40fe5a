// Adjudication page: same keyboard model as review; Ctrl+Enter saves gold labels.
import { initLabelRows, pageData } from "./labelrows.js";

const form = document.getElementById("label-form");
initLabelRows(form, {
  data: pageData(),
  onSubmitKey: () => (form.requestSubmit ? form.requestSubmit() : form.submit()),
});
