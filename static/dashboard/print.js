// The printable summary (templates/analytics/print.html): the button opens the browser's print dialog, whose
// "Save as PDF" destination makes the PDF.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-dash-print]")) window.print();
});
