// The language switcher (templates/includes/language_switcher.html): choosing a language posts the form at once.
document.addEventListener("change", (event) => {
  const select = event.target.closest("form.dlx-language select");
  if (select) select.form.submit();
});
