// The front end of grid.py's Grid: one page of rows, sorted, searched and paged by the kernel.
// A click on a header, a search or a page turn sets the model; the kernel answers with the rows.

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text; // text, never markup: cells hold what users typed
  return node;
}

const count = (n) => n.toLocaleString("en-US");

// Page numbers to offer: the first, the last, and the pages around the current one (-1 for a gap).
function pageNumbers(page, pages) {
  const wanted = new Set([0, pages - 1, page - 1, page, page + 1].filter((p) => p >= 0 && p < pages));
  const sorted = [...wanted].sort((a, b) => a - b);
  return sorted.flatMap((p, i) => (i && p - sorted[i - 1] > 1 ? [-1, p] : [p]));
}

function render({ model, el }) {
  el.classList.add("mlops-grid");
  const send = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };

  const size = make("select", "mm-grid-size");
  size.setAttribute("aria-label", "rows per page");
  for (const n of model.get("page_sizes")) size.append(new Option(String(n), String(n)));
  size.onchange = () => send({ page_size: Number(size.value), page: 0 });
  const sizeLabel = make("label", "mm-grid-label");
  sizeLabel.append(size, " per page");
  const search = make("input", "mm-grid-search");
  search.type = "search";
  search.placeholder = "search";
  search.setAttribute("aria-label", "search every column");
  let typing;
  search.oninput = () => {
    clearTimeout(typing);
    typing = setTimeout(() => send({ search: search.value, page: 0 }), 250);
  };
  const top = make("div", "mm-grid-bar");
  top.append(sizeLabel, search);

  const thead = make("thead");
  const tbody = make("tbody");
  const table = make("table", "mm-grid-table");
  table.append(thead, tbody);
  const scroll = make("div", "mm-grid-scroll");
  scroll.append(table);
  const info = make("div", "mm-grid-info");
  const pager = make("div", "mm-grid-pager");
  const bottom = make("div", "mm-grid-bar");
  bottom.append(info, pager);
  el.append(top, scroll, bottom);

  function drawHeader() {
    const [sorted, way] = model.get("order");
    const numeric = model.get("numeric");
    const firstWays = model.get("first_ways");
    const row = make("tr");
    model.get("columns").forEach((name, i) => {
      const th = make("th", numeric[i] ? "mm-num" : "");
      th.setAttribute("aria-sort", sorted === i ? (way === "asc" ? "ascending" : "descending") : "none");
      const button = make("button", "mm-grid-sort", name); // a button: the keyboard sorts too
      button.title = "sort by this column";
      th.append(button);
      th.onclick = () => send({ order: [i, sorted === i ? (way === "asc" ? "desc" : "asc") : firstWays[i]], page: 0 });
      row.append(th);
    });
    thead.replaceChildren(row);
  }

  function drawRows() {
    const keys = model.get("row_keys");
    const selected = new Set(model.get("selected"));
    const numeric = model.get("numeric");
    const rows = model.get("rows").map((cells, r) => {
      const row = make("tr", selected.has(keys[r]) ? "mm-selected" : "");
      row.setAttribute("aria-selected", String(selected.has(keys[r])));
      for (const [c, text] of cells.entries()) row.append(make("td", numeric[c] ? "mm-num" : "", text));
      row.tabIndex = 0; // Enter or Space selects from the keyboard, as a click does
      row.onclick = () => {
        const now = model.get("selected");
        send({ selected: now.includes(keys[r]) ? now.filter((k) => k !== keys[r]) : [...now, keys[r]] });
      };
      row.onkeydown = (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          row.onclick();
        }
      };
      return row;
    });
    if (!rows.length) {
      const cell = make("td", "mm-grid-empty", `no ${model.get("noun")} match the search`);
      cell.colSpan = model.get("columns").length;
      rows.push(make("tr"));
      rows[0].append(cell);
    }
    tbody.replaceChildren(...rows);
  }

  function drawFooter() {
    const [page, perPage, matching, total, noun] = ["page", "page_size", "matching", "total", "noun"].map((n) => model.get(n));
    const first = matching ? page * perPage + 1 : 0;
    const last = Math.min(matching, (page + 1) * perPage);
    info.textContent = `${count(first)} to ${count(last)} of ${count(matching)} ${noun}` + (matching < total ? ` (of ${count(total)} in all)` : "");
    const pages = Math.max(1, Math.ceil(matching / perPage));
    const turn = (label, to, title, current = false) => {
      const button = make("button", current ? "mm-current" : "", label);
      button.title = title;
      button.disabled = to < 0 || to >= pages;
      if (current) button.setAttribute("aria-current", "page");
      button.onclick = () => send({ page: to });
      return button;
    };
    const buttons = [turn("‹", page - 1, "previous page")];
    for (const p of pageNumbers(page, pages)) buttons.push(p < 0 ? make("span", "mm-grid-gap", "…") : turn(String(p + 1), p, `page ${p + 1}`, p === page));
    buttons.push(turn("›", page + 1, "next page"));
    pager.replaceChildren(...buttons);
    size.value = String(perPage);
    const fits = total <= Math.min(...model.get("page_sizes")); // a few rows: no paging or search to offer
    top.hidden = fits;
    pager.hidden = fits;
  }

  drawHeader();
  drawRows();
  drawFooter();
  model.on("change:order", drawHeader);
  model.on("change:rows", () => {
    drawRows();
    drawFooter();
  });
  model.on("change:row_keys", drawRows);
  model.on("change:selected", drawRows);
  for (const name of ["matching", "page", "page_size"]) model.on(`change:${name}`, drawFooter);
}

export default { render };
