// The calls list: each transcript hit moves to a line of its own under its call's row, and the searched words
// are marked in it. Without this script the hit stays readable in its column.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (!table) return;
  const input = document.getElementById("searchbar");
  const words = (input ? input.value : "").toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const hits = table.querySelectorAll("td.field-transcript_hit .dlx-hit");
  if (hits.length === 0) return;
  const columns = table.querySelector("thead tr").children.length;
  hits.forEach((hit) => {
    const row = hit.closest("tr");
    const line = document.createElement("tr");
    line.className = "dlx-hit-row " + row.className;
    const cell = document.createElement("td");
    cell.colSpan = columns - 1;
    line.appendChild(cell);
    cell.appendChild(hit);
    row.after(line);
    const quote = hit.querySelector("q");
    if (quote && words.length) mark(quote, words);
  });
  table.classList.add("dlx-hits-moved");
});

function mark(element, words) {
  const text = element.textContent;
  const lower = text.toLowerCase();
  const spans = [];
  words.forEach((word) => {
    for (let at = lower.indexOf(word); at >= 0; at = lower.indexOf(word, at + word.length)) {
      spans.push([at, at + word.length]);
    }
  });
  if (spans.length === 0) return;
  spans.sort((a, b) => a[0] - b[0]);
  element.textContent = "";
  let done = 0;
  spans.forEach(([start, end]) => {
    if (start < done) return;
    element.append(text.slice(done, start));
    const m = document.createElement("mark");
    m.textContent = text.slice(start, end);
    element.append(m);
    done = end;
  });
  element.append(text.slice(done));
}
