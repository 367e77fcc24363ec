// Tables: paged, sorted by a column, filtered; media cells (images with their
// overlays) rendered like any other item.  A table item is read a page at a
// time from the server (`/table/page`), which sorts and filters its up to
// 200,000 rows: the page holds, and loads the media of, only the rows it shows.
// A plot's points (a small JSON file) are paged here in the browser.

import { h, replaceChildren, formatNumber } from "./dom.js";
import { api } from "./api.js";
import { OverlayState, OverlayControls } from "./overlays.js";
import { renderItem } from "./items.js";
import { loadRenderers } from "./media_item.js";

const PAGE_SIZES = [10, 25, 100];
const SEARCHABLE = ["number", "bool", "string"];
const OPS = { number: ["ge", "le", "gt", "lt", "eq", "ne"], bool: ["eq", "ne"],
              string: ["contains", "eq", "ne", "ge", "le", "gt", "lt"] };
const OP_LABELS = { eq: "=", ne: "≠", lt: "<", le: "≤", gt: ">", ge: "≥", contains: "contains" };

function isMedia(cell) {
  return cell !== null && typeof cell === "object" && !Array.isArray(cell) && ("status" in cell || "url" in cell);
}

function compare(a, b) {
  if (a === b) return 0;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/** A page of a table held whole in the browser (a plot's points), as the server answers one. */
function localPage(table, { offset, limit, sort, descending }) {
  const columns = table.columns || [];
  const types = table.column_types || {};
  let ids = (table.data || []).map((_, i) => i);
  if (sort !== null) {
    const value = (i) => table.data[i][sort];
    const present = ids.filter((i) => value(i) !== null && value(i) !== undefined);
    present.sort((a, b) => compare(value(a), value(b)) || a - b);
    if (descending) present.reverse();  // as the server: the ascending order reversed, missing values last
    ids = present.concat(ids.filter((i) => value(i) === null || value(i) === undefined));
  }
  const rowIds = ids.slice(offset, offset + limit);
  return { columns, column_types: types, rows: ids.length, matched: ids.length, offset, limit,
           sortable: columns.map((c, i) => i).filter((i) => SEARCHABLE.includes(types[columns[i]])),
           row_ids: rowIds, data: rowIds.map((i) => table.data[i]) };
}

export class TableView {
  /**
   * @param context {project, run}
   * @param source  {url} of a table JSON file, or {key, step, index} of a table item, or {table}
   */
  constructor(context, source) {
    this.context = context;
    this.source = source;
    this.remote = !(source.table || source.url);
    this.overlay = new OverlayState();
    this.controls = new OverlayControls(this.overlay);
    this.page = 0;
    this.pageSize = PAGE_SIZES[0];
    this.sort = null;     // {column, descending}
    this.filters = [];    // {column, op, value}
    this.answer = null;   // the page shown
    this.asked = 0;       // the newest request: older answers are dropped
    this.cells = [];      // rendered media cells of the current page
    this.filterBar = h("div", { class: "table-filters" });
    this.body = h("div", { class: "table-body" });
    this.element = h("div", { class: "table-view", dataset: { state: "loading" } },
      this.controls.element, this.filterBar, this.body);
  }

  async load() {
    const s = this.source;
    if (s.table) this.table = s.table;
    else if (s.url) this.table = await api.fileJSON(s.url);
    await this.refresh();
  }

  /** Ask for the current page (sort, filters, page size) and draw it. */
  async refresh() {
    const asked = ++this.asked;
    this.element.dataset.state = "loading";
    const want = { offset: this.page * this.pageSize, limit: this.pageSize,
                   sort: this.sort ? this.sort.column : null, descending: !!this.sort?.descending };
    let answer;
    try {
      if (!this.remote) answer = localPage(this.table, want);
      else {
        const { key, step, index } = this.source;
        answer = await api.tablePage(this.context.project, this.context.run,
          { key, step, index, ...want, filters: this.filters.map((f) => `${f.column}:${f.op}:${f.value}`) });
      }
    } catch (error) {
      if (asked !== this.asked) return;
      this.element.dataset.state = "error";
      replaceChildren(this.body, h("p", { class: "error" }, String(error.message || error)));
      return;
    }
    if (asked !== this.asked) return;  // a newer request went out while this one was answered
    const pages = Math.max(1, Math.ceil(answer.matched / this.pageSize));
    if (this.page > pages - 1) {  // fewer rows match than before: show the last page there is
      this.page = pages - 1;
      return this.refresh();
    }
    const media = answer.data.flat().filter(isMedia);
    this.overlay.absorb(media);
    this.controls.update();
    await loadRenderers(media);
    if (asked !== this.asked) return;
    this.answer = answer;
    await this.draw();
  }

  async draw() {
    for (const cell of this.cells) cell.dispose();
    this.cells = [];
    const answer = this.answer;
    const columns = answer.columns || [];
    const pages = Math.max(1, Math.ceil(answer.matched / this.pageSize));
    const header = h("tr", {}, h("th", { class: "row-number" }, "#"), columns.map((name, c) => {
      const sortable = answer.sortable.includes(c);
      const arrow = this.sort?.column === c ? (this.sort.descending ? " ▼" : " ▲") : "";
      return h("th", {
        class: sortable ? "sortable" : null, tabindex: sortable ? 0 : null, dataset: { column: name },
        title: sortable ? "sort by this column" : null,
        onclick: sortable ? () => this.#sortBy(c) : null,
        onkeydown: sortable ? (e) => { if (e.key === "Enter") this.#sortBy(c); } : null,
      }, String(name), arrow);
    }));
    const body = answer.data.map((row, r) => h("tr", { dataset: { row: answer.row_ids[r] } },
      h("td", { class: "row-number" }, String(answer.row_ids[r])),
      row.map((cell) => h("td", {}, this.#cell(cell)))));
    const [matched, rows] = [formatNumber(answer.matched), formatNumber(answer.rows)];
    const counted = answer.matched === answer.rows ? `${rows} rows` : `${matched} of ${rows} rows`;
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "prev", disabled: this.page === 0, onclick: () => this.#goto(this.page - 1) }, "‹ prev"),
      h("span", { class: "page-label" }, `page ${this.page + 1} of ${pages} · ${counted}`),
      h("button", { type: "button", class: "next", disabled: this.page >= pages - 1, onclick: () => this.#goto(this.page + 1) }, "next ›"),
      h("label", {}, " rows a page ",
        h("select", { class: "page-size", onchange: (e) => { this.pageSize = Number(e.target.value); this.page = 0; this.refresh(); } },
          PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === this.pageSize }, String(n))))));
    this.#drawFilters(answer);
    replaceChildren(this.body, h("table", { class: "data-table" }, h("thead", {}, header), h("tbody", {}, body)), pager);
    Object.assign(this.element.dataset, { matched: String(answer.matched), page: String(this.page) });
    await Promise.all(this.cells.map((c) => c.ready));
    if (this.answer === answer) this.element.dataset.state = "ready";
  }

  /** The filter bar: the active filters (each removable) and a form adding one (server tables only). */
  #drawFilters(answer) {
    if (!this.remote) return replaceChildren(this.filterBar);
    const columns = answer.columns;
    const typeOf = (c) => answer.column_types[columns[c]];
    const chips = this.filters.map((f, i) => h("span", { class: "filter-chip" },
      `${columns[f.column]} ${OP_LABELS[f.op]} ${f.value} `,
      h("button", { type: "button", title: "remove this filter", onclick: () => {
        this.filters.splice(i, 1); this.page = 0; this.refresh();
      } }, "×")));
    if (!answer.sortable.length) return replaceChildren(this.filterBar, chips);
    const column = h("select", { class: "filter-column" },
      answer.sortable.map((c) => h("option", { value: String(c) }, String(columns[c]))));
    const op = h("select", { class: "filter-op" });
    const fillOps = () => replaceChildren(op, OPS[typeOf(Number(column.value))].map((o) => h("option", { value: o }, OP_LABELS[o])));
    column.addEventListener("change", fillOps);
    fillOps();
    const value = h("input", { class: "filter-value", type: "text", size: 10, placeholder: "value" });
    const add = () => {
      if (value.value === "") return;
      this.filters.push({ column: Number(column.value), op: op.value, value: value.value });
      this.page = 0;
      this.refresh();
    };
    value.addEventListener("keydown", (e) => { if (e.key === "Enter") add(); });
    replaceChildren(this.filterBar, chips, h("span", { class: "filter-form" }, "filter ", column, op, value,
      h("button", { type: "button", class: "filter-add", onclick: add }, "add")));
  }

  #sortBy(column) {
    if (this.sort?.column !== column) this.sort = { column, descending: false };
    else if (!this.sort.descending) this.sort.descending = true;
    else this.sort = null;
    this.page = 0;
    this.refresh();
  }

  #goto(page) {
    this.page = page;
    this.refresh();
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
    this.asked++;
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
