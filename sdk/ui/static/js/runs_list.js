// The runs list: every run in the storage, newest first, with its state and
// item counts, filtered by project.  Refreshed while any run is running.

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
    this.render(runs);
    if (runs.some((r) => r.state === "running" || r.counts?.pending > 0)) {
      this.timer = setTimeout(() => this.refresh(), POLL_MS);
    }
  }

  render(runs) {
    const shown = runs
      .filter((r) => !this.project || r.project === this.project)
      .sort((a, b) => String(b.started_at || "").localeCompare(String(a.started_at || "")));
    const select = h("select", {
      class: "project-filter", "aria-label": "project",
      onchange: (e) => { window.location.hash = e.target.value ? `#/project/${encodeURIComponent(e.target.value)}` : "#/"; },
    }, h("option", { value: "" }, "all projects"),
    [...this.projects].sort().map((p) => h("option", { value: p, selected: p === this.project }, p)));
    const rows = shown.map((r) => h("tr", { dataset: { path: r.path, state: r.state } },
      h("td", {}, r.project),
      h("td", {}, h("a", { href: `#/run/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}` }, r.name && r.name !== r.run ? `${r.name} (${r.run})` : r.run)),
      h("td", {}, formatTime(r.started_at)),
      h("td", {}, h("span", { class: `state state-${r.state}` }, r.state)),
      h("td", { class: "number" }, String(r.counts?.converted ?? "")),
      h("td", { class: `number${r.counts?.failed ? " has-failed" : ""}` }, String(r.counts?.failed ?? "")),
      h("td", { class: "number" }, String(r.counts?.pending ?? ""))));
    replaceChildren(this.root,
      h("div", { class: "runs-toolbar" }, h("h2", {}, "Runs"), h("label", {}, "project ", select),
        h("span", { class: "muted" }, `${shown.length} run${shown.length === 1 ? "" : "s"}`)),
      shown.length
        ? h("table", { class: "runs-table data-table" },
          h("thead", {}, h("tr", {}, ["project", "run", "started", "state", "converted", "failed", "pending"].map((c) => h("th", {}, c)))),
          h("tbody", {}, rows))
        : h("p", { class: "muted" }, this.project ? `no runs in project ${this.project}` : "no runs in this storage yet"));
  }

  dispose() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
