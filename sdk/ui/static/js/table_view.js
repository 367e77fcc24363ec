// Tables: paged, sortable by column, media cells (images with their overlays)
// rendered like any other item.  Only the rows of the current page are drawn.

import { h, replaceChildren, formatNumber } from "./dom.js";
import { api } from "./api.js";
import { OverlayState, OverlayControls } from "./overlays.js";
import { renderItem } from "./items.js";
import { loadRenderers } from "./media_item.js";

const PAGE_SIZES = [10, 25, 100];

function isMedia(cell) {
  return cell !== null && typeof cell === "object" && !Array.isArray(cell) && ("status" in cell || "url" in cell);
}

function sortKey(cell) {
  if (cell === null || cell === undefined) return null;
  if (isMedia(cell)) return cell.caption ?? cell.index ?? null;
  if (typeof cell === "object") return JSON.stringify(cell);
  return cell;
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null) return 1;  // empty cells last, either direction
  if (b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export class TableView {
  /**
   * @param context {project, run}
   * @param source  {url} of a table JSON file, or {key, step, index} of a table item, or {table}
   */
  constructor(context, source) {
    this.context = context;
    this.source = source;
    this.overlay = new OverlayState();
    this.controls = new OverlayControls(this.overlay);
    this.page = 0;
    this.pageSize = PAGE_SIZES[0];
    this.sort = null;  // {column, descending}
    this.cells = [];   // rendered media cells of the current page
    this.body = h("div", { class: "table-body" });
    this.element = h("div", { class: "table-view" }, this.controls.element, this.body);
  }

  async load() {
    const s = this.source;
    if (s.table) this.table = s.table;
    else if (s.url) this.table = await api.fileJSON(s.url);
    else this.table = await api.table(this.context.project, this.context.run, s.key, s.step, s.index);
    const rows = this.table.data || [];
    this.overlay.absorb(rows.flat().filter(isMedia));
    this.controls.update();
    await loadRenderers(rows.flat().filter(isMedia));  // the cells' kinds, so every page draws at once
    await this.draw();
  }

  rows() {
    const rows = (this.table.data || []).map((row, i) => ({ row, i }));
    if (this.sort) {
      const { column, descending } = this.sort;
      rows.sort((a, b) => {
        const ka = sortKey(a.row[column]), kb = sortKey(b.row[column]);
        if (ka === null || kb === null) return compare(ka, kb);
        return (descending ? -1 : 1) * compare(ka, kb) || a.i - b.i;
      });
    }
    return rows;
  }

  async draw() {
    for (const cell of this.cells) cell.dispose();
    this.cells = [];
    const columns = this.table.columns || [];
    const rows = this.rows();
    const pages = Math.max(1, Math.ceil(rows.length / this.pageSize));
    this.page = Math.min(this.page, pages - 1);
    const shown = rows.slice(this.page * this.pageSize, (this.page + 1) * this.pageSize);
    const header = h("tr", {}, h("th", { class: "row-number" }, "#"), columns.map((name, c) => {
      const arrow = this.sort?.column === c ? (this.sort.descending ? " ▼" : " ▲") : "";
      return h("th", {
        class: "sortable", tabindex: 0, dataset: { column: name }, title: "sort by this column",
        onclick: () => this.#sortBy(c),
        onkeydown: (e) => { if (e.key === "Enter") this.#sortBy(c); },
      }, String(name), arrow);
    }));
    const body = shown.map(({ row, i }) => h("tr", { dataset: { row: i } },
      h("td", { class: "row-number" }, String(i)),
      row.map((cell) => h("td", {}, this.#cell(cell)))));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", disabled: this.page === 0, onclick: () => this.#goto(this.page - 1) }, "‹ prev"),
      h("span", { class: "page-label" }, `page ${this.page + 1} of ${pages} · ${rows.length} rows`),
      h("button", { type: "button", disabled: this.page >= pages - 1, onclick: () => this.#goto(this.page + 1) }, "next ›"),
      h("label", {}, " rows a page ",
        h("select", { onchange: (e) => { this.pageSize = Number(e.target.value); this.page = 0; this.draw(); } },
          PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === this.pageSize }, String(n))))));
    replaceChildren(this.body, h("table", { class: "data-table" }, h("thead", {}, header), h("tbody", {}, body)), pager);
    await Promise.all(this.cells.map((c) => c.ready));
  }

  #sortBy(column) {
    if (this.sort?.column !== column) this.sort = { column, descending: false };
    else if (!this.sort.descending) this.sort.descending = true;
    else this.sort = null;
    this.draw();
  }

  #goto(page) {
    this.page = page;
    this.draw();
  }

  #cell(cell) {
    if (isMedia(cell)) {
      const view = renderItem(cell, { ...this.context, overlay: this.overlay, maxSize: 128 });
      this.cells.push(view);
      return view.element;
    }
    if (cell === null || cell === undefined) return "";
    if (typeof cell === "number") return formatNumber(cell);
    if (typeof cell === "object") return JSON.stringify(cell);
    return String(cell);
  }

  dispose() {
    for (const cell of this.cells) cell.dispose();
  }
}

/** The table renderer of the kinds table (pipeline/kinds.py). */
export function render(item, context) {
  const view = new TableItemView(item, context);
  return { element: view.element, ready: view.load(), dispose: () => view.dispose?.() };
}

/** A table item of a media panel. */
export class TableItemView extends TableView {
  constructor(item, context) {
    super(context, { key: item.key, step: item.step, index: item.index ?? 0 });
  }
}
