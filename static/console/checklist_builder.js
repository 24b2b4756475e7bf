// The checklist builder (templates/admin/checklists/checklist/change_form.html): offers the sections' titles to each
// item's "Section title" field, and enables "Publish…" once an item row is added (it saves the draft first).
(function () {
  "use strict";

  function sectionTitles() {
    const titles = new Set();
    document.querySelectorAll("#sections-group input[name$='-title']").forEach(function (input) {
      if (input.value.trim() && !input.name.includes("__prefix__")) titles.add(input.value.trim());
    });
    document.querySelectorAll("#items-group select[name$='-section'] option").forEach(function (option) {
      if (option.value) titles.add(option.textContent.trim());
    });
    document.querySelectorAll("#items-group input[name$='-section_title']").forEach(function (input) {
      if (input.value.trim() && !input.name.includes("__prefix__")) titles.add(input.value.trim());
    });
    return Array.from(titles).sort();
  }

  function refreshTitles() {
    const list = document.getElementById("dlx-section-titles");
    if (!list) return;
    list.replaceChildren(...sectionTitles().map(function (title) {
      const option = document.createElement("option");
      option.value = title;
      return option;
    }));
  }

  function enablePublish() {
    const button = document.getElementById("dlx-publish-button");
    const why = document.getElementById("dlx-publish-why");
    if (!button || !button.disabled) return;
    button.disabled = false;
    if (why) why.textContent = why.dataset.enabledText;
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[name$='-section_title']")) refreshTitles();
  });
  document.addEventListener("formset:added", function (event) {
    if (event.detail && event.detail.formsetName === "items") enablePublish();
  });
  document.addEventListener("DOMContentLoaded", refreshTitles);
})();
