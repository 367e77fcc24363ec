// The runs list: every run in the storage, newest first, with its state and
// item counts, filtered by project, name, state and config values.  Runs
// ticked here open side by side on the compare page (#/compare?runs=...).
// Refreshed while any run is running.

import { h, replaceChildren, formatTime } from "./dom.js";
import { api } from "./api.js";

const POLL_MS = 2000;

export class RunsList {
  constructor(root, project) {
    this.root = root;
    this.project = project || "";
    this.projects = new Set();
    this.timer = 0;
    this.stopped = false;
    this.selected = new Set();  // run paths ticked for comparing
    this.filter = { name: "", state: "", config: "" };
    this.runs = [];
  }

  async start() {
    replaceChildren(this.root, h("p", { class: "loading" }, "loading runs…"));
    await this.refresh();
  }

  async refresh() {
    if (this.stopped) return;
    let runs;
    try {
      // The project menu needs every project: ask for all, filter here.
      runs = (await api.runs()).runs || [];
    } catch (error) {
      replaceChildren(this.root, h("div", { class: "failed", role: "alert" }, `could not list runs: ${error.message}`));
      this.timer = setTimeout(() => this.refresh(), POLL_MS * 2);
      return;
    }
    if (this.stopped) return;
    for (const r of runs) this.projects.add(r.project);
    this.runs = runs;
    this.render(runs);
    if (runs.some((r) => r.state === "running" || r.counts?.pending > 0)) {
      this.timer = setTimeout(() => this.refresh(), POLL_MS);
    }
  }

  render(runs) {
    const shown = runs
      .filter((r) => !this.project || r.project === this.project)
      .filter((r) => matches(r, this.filter))
      .sort((a, b) => String(b.started_at || "").localeCompare(String(a.started_at || "")));
    const select = h("select", {
      class: "project-filter", "aria-label": "project",
      onchange: (e) => { window.location.hash = e.target.value ? `#/project/${encodeURIComponent(e.target.value)}` : "#/"; },
    }, h("option", { value: "" }, "all projects"),
    [...this.projects].sort().map((p) => h("option", { value: p, selected: p === this.project }, p)));
    const rows = shown.map((r) => h("tr", { dataset: { path: r.path, state: r.state } },
      h("td", {}, h("input", { type: "checkbox", class: "select-run", "aria-label": `compare ${r.path}`,
        checked: this.selected.has(r.path), onchange: (e) => this.#select(r.path, e.target.checked) })),
      h("td", {}, r.project),
      h("td", {}, h("a", { href: `#/run/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}` }, r.name && r.name !== r.run ? `${r.name} (${r.run})` : r.run)),
      h("td", {}, formatTime(r.started_at)),
      h("td", {}, h("span", { class: `state state-${r.state}` }, r.state)),
      h("td", { class: "number" }, String(r.counts?.converted ?? "")),
      h("td", { class: `number${r.counts?.failed ? " has-failed" : ""}` }, String(r.counts?.failed ?? "")),
      h("td", { class: "number" }, String(r.counts?.pending ?? ""))));
    const input = (name, label, placeholder) => h("input", {
      type: "search", class: `filter-${name}`, "aria-label": label, placeholder, value: this.filter[name],
      oninput: (e) => { this.filter[name] = e.target.value; this.render(this.runs); this.#refocus(name); },
    });
    const states = h("select", { class: "filter-state", "aria-label": "state",
      onchange: (e) => { this.filter.state = e.target.value; this.render(this.runs); } },
    ["", "running", "finished", "crashed", "damaged"].map((s) => h("option", { value: s, selected: s === this.filter.state }, s || "any state")));
    this.compareButton = h("button", { type: "button", class: "compare-runs", disabled: this.selected.size < 2,
      onclick: () => this.#compare() }, `compare ${this.selected.size} selected`);
    replaceChildren(this.root,
      h("div", { class: "runs-toolbar" }, h("h2", {}, "Runs"), h("label", {}, "project ", select),
        input("name", "name", "name contains"), states, input("config", "config", "config, e.g. lr=0.01 depth>2"),
        h("span", { class: "muted" }, `${shown.length} run${shown.length === 1 ? "" : "s"}`), this.compareButton),
      shown.length
        ? h("table", { class: "runs-table data-table" },
          h("thead", {}, h("tr", {}, ["", "project", "run", "started", "state", "converted", "failed", "pending"].map((c) => h("th", {}, c)))),
          h("tbody", {}, rows))
        : h("p", { class: "muted" }, this.project ? `no runs in project ${this.project} match` : "no runs match"));
  }

  #refocus(name) {  // typing re-renders the toolbar: keep the caret in the box typed in
    const box = this.root.querySelector(`input.filter-${name}`);
    box?.focus();
    box?.setSelectionRange(box.value.length, box.value.length);
  }

  #select(path, on) {
    if (on) this.selected.add(path); else this.selected.delete(path);
    this.compareButton.disabled = this.selected.size < 2;
    this.compareButton.textContent = `compare ${this.selected.size} selected`;
  }

  #compare() {
    const order = this.runs.map((r) => r.path).filter((p) => this.selected.has(p)).reverse();  // oldest first
    window.location.hash = `#/compare?runs=${order.map(encodeURIComponent).join(",")}`;
  }

  dispose() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Whether run `r` passes the filters: name (or id) contains, state, and config conditions. */
export function matches(r, filter) {
  const name = filter.name.trim().toLowerCase();
  if (name && !`${r.name || ""} ${r.run}`.toLowerCase().includes(name)) return false;
  if (filter.state && r.state !== filter.state) return false;
  for (const term of filter.config.split(/[\s,]+/).filter(Boolean)) {
    const m = term.match(/^([^=<>!]+)(=|!=|>=|<=|>|<)(.*)$/);
    if (!m) return false;  // not a condition yet (being typed): shows nothing rather than everything
    const value = configValue(r.config || {}, m[1]);
    if (value === undefined) return false;
    const [a, b] = [Number(value), Number(m[3])];
    const numeric = typeof value === "number" && m[3] !== "" && Number.isFinite(b);
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    const ok = { "=": numeric ? a === b : text === m[3], "!=": numeric ? a !== b : text !== m[3],
                 ">": numeric && a > b, "<": numeric && a < b, ">=": numeric && a >= b, "<=": numeric && a <= b }[m[2]];
    if (!ok) return false;
  }
  return true;
}

/** A config value by dotted key ("model.depth"), or undefined. */
function configValue(config, dotted) {
  if (dotted in config) return config[dotted];
  let value = config;
  for (const part of dotted.split(".")) {
    if (value === null || typeof value !== "object" || !(part in value)) return undefined;
    value = value[part];
  }
  return value;
}
