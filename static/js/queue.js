// Queue page: `n` takes the next report (keys typed into form fields are left alone).
document.addEventListener("keydown", (e) => {
  if (e.key === "n" && !e.ctrlKey && !e.metaKey && !e.altKey && !/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) {
    e.preventDefault();
    document.getElementById("next-form").submit();
  }
});
document.body.dataset.keyboardReady = "1";  // tests wait for this before pressing `n`
