// A run: its header (state, counts), config and summary, a line chart per
// scalar key (other runs of the project can be overlaid), a histogram panel
// per histogram key and a media panel per media key.  While the run is
// running the page polls its JSON, so new steps and newly converted items
// appear without a reload.

import { h, replaceChildren, formatNumber, formatTime } from "./dom.js";
import { api } from "./api.js";
import { runColour } from "./palette.js";
import { LineChart } from "./line_chart.js";
import { HistogramView } from "./histogram_view.js";
import { MediaPanel } from "./media_panel.js";
import { loadKinds } from "./media_item.js";
import { keyOwnedByControl, nearestIndex, unionSteps, xOf } from "./steps.js";

const LIVE_POLL_MS = 500;      // while running: an item shows within ~0.5 s of its manifest
const PENDING_POLL_MS = 2000;  // finished, but items still converting (a fleet's queue)
const PROJECT_POLL_MS = 5000;  // counts and the runs to overlay

export class RunPage {
  /**
   * `first`: the run's JSON, already asked for (app.js starts it before this module loads).
   * `params`: the URL's state (URLSearchParams): step (the page's), view (JSON by key: {step, zoom, toggles}).
   */
  constructor(root, project, run, first = null, params = new URLSearchParams()) {
    this.root = root;
    this.initialStep = params.has("step") ? Number(params.get("step")) : null;
    this.axis = params.get("x") || "_step";  // the page slider's axis: _step, or a declared step metric
    try {
      this.views = JSON.parse(params.get("view") || "{}") || {};
    } catch {
      this.views = {};
    }
    this.context = { project, run };
    this.first = first;
    this.charts = new Map();
    this.histograms = new Map();
    this.panels = new Map();
    this.overlaid = new Map();  // path -> {data, colour}
    this.projectRuns = [];
    this.stopped = false;
    this.timer = 0;
    this.projectTimer = 0;
    this.steps = [];       // the page's step axis: every media key's steps
    this.pageStep = null;  // the page slider's step; null: at the newest, following
    this.onKey = (e) => this.#onKey(e);
  }

  async start() {
    replaceChildren(this.root, h("p", { class: "loading" }, "loading run…"));
    loadKinds().catch(() => {});  // asked for beside the run's JSON, not after it
    let data;
    try {
      data = await (this.first || api.run(this.context.project, this.context.run));
    } catch (error) {
      replaceChildren(this.root, h("div", { class: "failed", role: "alert" }, `could not open run ${this.context.project}/${this.context.run}: ${error.message}`),
        h("p", {}, h("a", { href: "#/" }, "all runs")));
      return;
    }
    this.#skeleton();
    await this.#apply(data, true);
    if (this.initialStep !== null && Number.isFinite(this.initialStep)) await this.setStep(this.initialStep);
    this.#refreshProject();
    this.#schedule();
  }

  #skeleton() {
    const { project, run } = this.context;
    this.header = h("div", { class: "run-header" });
    this.config = h("div", { class: "key-values" });
    this.summary = h("div", { class: "key-values" });
    this.overlayPicker = h("div", { class: "overlay-runs" });
    this.chartGrid = h("div", { class: "chart-grid" });
    this.histogramList = h("div", { class: "panel-list" });
    this.mediaList = h("div", { class: "panel-list" });
    this.pageSlider = h("input", { type: "range", class: "page-step", min: 0, max: 0, value: 0, "aria-label": "step of every linked panel",
      oninput: () => this.setStep(this.steps[Number(this.pageSlider.value)]) });
    this.pageStepLabel = h("span", { class: "page-step-label" });
    this.stepBar = h("div", { class: "page-step-bar", hidden: true },
      h("button", { type: "button", class: "step-prev", title: "previous step (←)", onclick: () => this.move(-1) }, "‹"),
      this.pageSlider,
      h("button", { type: "button", class: "step-next", title: "next step (→)", onclick: () => this.move(1) }, "›"),
      this.pageStepLabel,
      this.axisSelect = h("select", { class: "page-axis", "aria-label": "x-axis", onchange: (e) => this.setAxis(e.target.value) }));
    document.addEventListener("keydown", this.onKey);
    this.notice = h("div", { class: "notice", hidden: true, role: "status" });
    replaceChildren(this.root,
      h("nav", { class: "breadcrumbs" }, h("a", { href: "#/" }, "runs"), " / ",
        h("a", { href: `#/project/${encodeURIComponent(project)}` }, project), " / ", run),
      this.header, this.notice,
      h("div", { class: "run-meta" },
        h("details", { open: true }, h("summary", {}, "config"), this.config),
        h("details", { open: true }, h("summary", {}, "summary"), this.summary)),
      h("section", { class: "charts", dataset: { section: "charts" } }, h("h2", {}, "Scalars"), this.overlayPicker, this.chartGrid),
      h("section", { class: "histograms", dataset: { section: "histograms" } }, h("h2", {}, "Histograms"), this.histogramList),
      h("section", { class: "media", dataset: { section: "media" } }, h("h2", {}, "Media"), this.stepBar, this.mediaList));
  }

  async #apply(data, first = false) {
    this.data = data;
    this.state = data.state || data.info?.state || "finished";
    this.root.dataset.state = this.state;
    this.root.dataset.lastStep = String(data.last_step ?? "");
    this.#renderHeader();
    if (first) {
      keyValues(this.config, data.config || {});
    }
    keyValues(this.summary, data.summary || {});
    const media = this.#renderMedia();  // its requests first: the charts draw while they travel
    this.#renderCharts();
    this.#renderHistograms();
    await media;
  }

  #renderHeader() {
    const d = this.data;
    const counts = this.projectRuns.find((r) => r.path === d.path)?.counts;
    replaceChildren(this.header,
      h("h1", {}, d.info?.name && d.info.name !== this.context.run ? `${d.info.name} (${this.context.run})` : this.context.run),
      h("span", { class: `state state-${this.state}` }, this.state),
      h("span", { class: "muted" }, `started ${formatTime(d.info?.created_at)}`),
      d.last_step >= 0 ? h("span", { class: "muted" }, `last step ${d.last_step}`) : null,
      counts ? h("span", { class: "counts" },
        `${counts.converted} converted · `,
        h("span", { class: counts.failed ? "has-failed" : "" }, `${counts.failed} failed`),
        ` · ${counts.pending} pending`) : null);
  }

  #renderCharts() {
    const scalars = this.data.scalars || {};
    const keys = Object.keys(scalars).sort();
    this.chartGrid.closest("section").hidden = keys.length === 0;
    for (const key of keys) {
      let chart = this.charts.get(key);
      if (!chart) {
        chart = new LineChart(key);
        this.charts.set(key, chart);
        this.chartGrid.append(chart.element);
      }
      const onAxis = (data, points) => (this.axis === "_step" ? points : points
        .map(([s, v]) => [xOf(data.scalars, this.axis, s), v]).filter(([x]) => x !== undefined).sort((a, b) => a[0] - b[0]));
      const series = [{ label: this.data.info?.name || this.context.run, colour: runColour(0), points: onAxis(this.data, scalars[key]) }];
      for (const [path, other] of this.overlaid) {
        const points = other.data?.scalars?.[key];
        if (points) series.push({ label: other.label, colour: other.colour, points: onAxis(other.data, points) });
      }
      chart.setSeries(series);
    }
  }

  #renderOverlayPicker() {
    const others = this.projectRuns.filter((r) => r.path !== this.data.path);
    if (!others.length) {
      this.overlayPicker.hidden = true;
      return;
    }
    this.overlayPicker.hidden = false;
    replaceChildren(this.overlayPicker, h("span", { class: "muted" }, "overlay runs of this project: "),
      others.slice(0, 20).map((r) => {
        const chosen = this.overlaid.get(r.path);
        return h("label", { class: "overlay-run", dataset: { path: r.path } },
          h("input", { type: "checkbox", checked: Boolean(chosen), onchange: (e) => this.#overlay(r, e.target.checked) }),
          chosen ? h("span", { class: "swatch", style: { background: chosen.colour } }) : null,
          r.name && r.name !== r.run ? r.name : r.run);
      }));
  }

  async #overlay(r, on) {
    if (!on) {
      this.overlaid.delete(r.path);
    } else {
      const used = new Set([...this.overlaid.values()].map((o) => o.colour));
      let i = 1;
      while (used.has(runColour(i))) i++;
      this.overlaid.set(r.path, { colour: runColour(i), label: r.name || r.run, data: null });
      try {
        this.overlaid.get(r.path).data = await api.run(r.project, r.run);
      } catch (error) {
        this.overlaid.delete(r.path);
        this.#notice(`could not overlay ${r.path}: ${error.message}`);
      }
    }
    this.#renderOverlayPicker();
    this.#renderCharts();
  }

  #renderHistograms() {
    const histograms = this.data.histograms || {};
    const keys = Object.keys(histograms).sort();
    this.histogramList.closest("section").hidden = keys.length === 0;
    for (const key of keys) {
      let view = this.histograms.get(key);
      if (!view) {
        view = new HistogramView(key);
        this.histograms.set(key, view);
        this.histogramList.append(view.element);
      }
      view.update(histograms[key]);
    }
  }

  async #renderMedia() {
    const media = this.data.media || {};
    // Panels in the kinds table's panel order; by key alone if it cannot be read.
    const kindOrder = (await loadKinds().catch(() => [])).map((k) => k.kind);
    const keys = Object.keys(media).filter((k) => !k.startsWith("_") && media[k].steps?.length)
      .sort(byKindThenKey(media, kindOrder));
    this.mediaList.closest("section").hidden = keys.length === 0;
    const running = this.state === "running";
    const tasks = [];
    for (const key of keys) {
      let panel = this.panels.get(key);
      if (!panel) {
        panel = new MediaPanel(this.context, key, media[key], this.views[key] || {});
        panel.onChange = () => this.saveState();
        this.panels.set(key, panel);
        // Keep panels in order as new keys arrive.
        const order = byKindThenKey(media, kindOrder);
        const next = [...this.panels.keys()].filter((k) => order(k, key) > 0).sort(order)[0];
        this.mediaList.insertBefore(panel.element, next ? this.panels.get(next).element : null);
        tasks.push(panel.start());
      } else {
        tasks.push(panel.update(media[key], running));
      }
    }
    await Promise.all(tasks);
    this.#updateStepAxis(keys.map((k) => media[k].steps));
  }

  /** The axes of this run: _step, and each step metric it declared (define_metric) and logged. */
  axes() {
    const declared = Object.values(this.data.info?.metrics || {}).map((m) => m?.step_metric);
    return ["_step", ...[...new Set(declared)].filter((a) => a && this.data.scalars?.[a]).sort()];
  }

  /** A panel's logged steps on the page's axis: [[x, step], ...] sorted by x. */
  #positions(steps) {
    return steps.map((s) => [xOf(this.data.scalars, this.axis, s), s]).filter(([x]) => x !== undefined)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /** The page slider over every media key's steps (on the axis); at the newest it follows new ones. */
  #updateStepAxis(lists) {
    const axes = this.axes();
    if (!axes.includes(this.axis)) this.axis = "_step";
    if (axes.join("\n") !== this.axesShown) {  // rebuilt only when they change: a live run polls every 0.5 s
      this.axesShown = axes.join("\n");
      replaceChildren(this.axisSelect, axes.map((a) => h("option", { value: a, selected: a === this.axis }, a === "_step" ? "step" : a)));
      this.axisSelect.hidden = axes.length < 2;
    }
    this.steps = unionSteps(lists.map((steps) => this.#positions(steps).map(([x]) => x)));
    this.stepBar.hidden = this.steps.length < 2;
    this.pageSlider.max = String(Math.max(0, this.steps.length - 1));
    const shown = this.pageStep ?? this.steps[this.steps.length - 1];
    const i = nearestIndex(this.steps, shown);
    this.pageSlider.value = String(Math.max(0, i));
    const name = this.axis === "_step" ? "step" : this.axis;
    this.pageStepLabel.textContent = shown === undefined ? "" : `${name} ${formatNumber(shown)} (${i + 1} of ${this.steps.length})`;
    this.root.dataset.step = String(shown ?? "");
  }

  /** Move every linked media panel to the page's `x` (each to its logged step nearest it on the axis). */
  async setStep(x) {
    if (x === undefined) return;
    const newest = x === this.steps[this.steps.length - 1];
    this.pageStep = newest ? null : x;  // the newest: follow new steps
    this.#updateStepAxis([...this.panels.values()].map((p) => p.steps));
    this.saveState();
    const name = this.axis === "_step" ? "step" : this.axis;
    await Promise.all([...this.panels.values()].map((p) => {
      const logged = this.#positions(p.steps);
      const nearest = logged[nearestIndex(logged.map(([at]) => at), x)];
      if (!nearest) return Promise.resolve();
      return p.showStep(nearest[1], nearest[0] === x ? null : `no media at ${name} ${formatNumber(x)}`, newest);
    }));
  }

  /** Put the page slider and the charts on `axis` (_step or a step metric), at its newest value. */
  async setAxis(axis) {
    this.axis = axis;
    this.pageStep = null;
    this.#renderCharts();
    this.#updateStepAxis([...this.panels.values()].map((p) => p.steps));
    await this.setStep(this.steps[this.steps.length - 1]);
  }

  /** Write the page's state into the URL (replacing the entry), so a copied link opens this view. */
  saveState() {
    if (this.stopped) return;
    const params = new URLSearchParams();
    if (this.axis !== "_step") params.set("x", this.axis);
    if (this.pageStep !== null) params.set("step", String(this.pageStep));
    const views = {};
    for (const [key, panel] of this.panels) {
      const state = panel.state();
      if (Object.keys(state).length) views[key] = state;
    }
    if (Object.keys(views).length) params.set("view", JSON.stringify(views));
    const { project, run } = this.context;
    const query = params.toString();
    history.replaceState(null, "", `#/run/${encodeURIComponent(project)}/${encodeURIComponent(run)}${query ? `?${query}` : ""}`);
  }

  move(delta) {
    const i = nearestIndex(this.steps, this.pageStep ?? this.steps[this.steps.length - 1]) + delta;
    return i >= 0 && i < this.steps.length ? this.setStep(this.steps[i]) : Promise.resolve();
  }

  #onKey(e) {
    if ((e.key !== "ArrowLeft" && e.key !== "ArrowRight") || keyOwnedByControl(e.target) || this.steps.length < 2) return;
    e.preventDefault();
    this.move(e.key === "ArrowLeft" ? -1 : 1);
  }

  #pendingItems() {
    return [...this.panels.values()].some((p) => p.a.pending || p.b?.pending);
  }

  #schedule() {
    if (this.stopped) return;
    const live = this.state === "running";
    if (!live && !this.#pendingItems()) return;
    // A long run's JSON costs the server more to build: wait at least twice
    // as long as the last answer took, so an open page never keeps it busy.
    const base = live ? LIVE_POLL_MS : PENDING_POLL_MS;
    this.timer = setTimeout(() => this.#poll(), Math.max(base, 2 * (this.lastPollMs || 0)));
  }

  async #poll() {
    if (this.stopped) return;
    if (document.hidden) {  // a background tab: check again later, fetch nothing
      this.#schedule();
      return;
    }
    try {
      const asked = performance.now();
      const data = await api.run(this.context.project, this.context.run);
      this.lastPollMs = performance.now() - asked;
      if (this.stopped) return;
      this.notice.hidden = true;
      const wasRunning = this.state === "running";
      await this.#apply(data);
      if (wasRunning && this.state !== "running") this.#refreshProject();
    } catch (error) {
      this.#notice(`lost contact with the server (${error.message}); retrying`);
    }
    this.#schedule();
  }

  async #refreshProject() {
    clearTimeout(this.projectTimer);
    if (this.stopped) return;
    try {
      this.projectRuns = (await api.runs(this.context.project)).runs || [];
      this.#renderHeader();
      this.#renderOverlayPicker();
      // Overlaid runs that are still running get their new steps too.
      for (const [path, other] of this.overlaid) {
        const r = this.projectRuns.find((x) => x.path === path);
        if (r?.state === "running") other.data = await api.run(r.project, r.run);
      }
      if (this.overlaid.size) this.#renderCharts();
    } catch { /* counts and overlays are extras: the next refresh tries again */ }
    if (this.state === "running" || this.projectRuns.some((r) => r.state === "running")) {
      this.projectTimer = setTimeout(() => this.#refreshProject(), PROJECT_POLL_MS);
    }
  }

  #notice(text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
  }

  dispose() {
    this.stopped = true;
    document.removeEventListener("keydown", this.onKey);
    clearTimeout(this.timer);
    clearTimeout(this.projectTimer);
    for (const panel of this.panels.values()) panel.dispose();
  }
}

// Media panels by their kind's panel order (pipeline/kinds.py: images first,
// what people look at most), then by key.
function byKindThenKey(media, kindOrder) {
  const rank = (key) => {
    const i = kindOrder.indexOf(media[key]?.kind);
    return i < 0 ? kindOrder.length : i;
  };
  return (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** A table of key/value pairs; nested objects flattened to dotted keys; media shown by kind and step. */
function keyValues(el, object) {
  const rows = [];
  const walk = (prefix, value) => {
    if (value && typeof value === "object" && !Array.isArray(value) && !value._type) {
      const entries = Object.entries(value);
      if (entries.length === 0) rows.push([prefix, "{}"]);
      for (const [k, v] of entries) walk(prefix ? `${prefix}.${k}` : k, v);
    } else {
      rows.push([prefix, describe(value)]);
    }
  };
  walk("", object);
  replaceChildren(el, rows.length
    ? h("table", { class: "kv-table" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)))))
    : h("span", { class: "muted" }, "none"));
}

function describe(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "object" && value._type === "media-ref") {
    return `${value.kind}${value.list ? ` ×${value.count}` : ""} at step ${value.step}`;
  }
  if (typeof value === "object" && value._type === "histogram") return `histogram (${(value.values || []).length} bins)`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
