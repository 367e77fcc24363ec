// The compare page (#/compare?runs=p/r1,p/r2,...): the runs side by side.
// Each run keeps one colour everywhere on the page (its chip, its cells'
// borders, its chart lines).  One step slider for the page (and ←/→) moves
// every media panel to the step nearest it in each run; a panel can be
// unlinked to keep its own step.  The axis is the step, or a step metric the
// runs declared (define_metric(key, step_metric="epoch")): then the slider
// moves over that metric's values, and each run shows its step nearest one.  Scalars are overlaid, one chart per key.
// The URL holds the page's state (runs, axis, step, the keys shown, each
// panel's step, view, zoom and toggles), so a copied link opens the same view.

import { h, replaceChildren, formatNumber } from "./dom.js";
import { api } from "./api.js";
import { runColour } from "./palette.js";
import { LineChart } from "./line_chart.js";
import { loadKinds } from "./media_item.js";
import { ComparePanel } from "./compare_panel.js";
import { keyOwnedByControl, nearestIndex, xOf } from "./steps.js";

export class ComparePage {
  /**
   * @param params URLSearchParams of the hash: runs (paths, comma-separated), step, view (JSON by key)
   * @param first  the runs' JSON, already asked for in that order (app.js starts them before this module loads)
   */
  constructor(root, params, first = []) {
    this.root = root;
    this.first = first;
    this.paths = (params.get("runs") || "").split(",").map((p) => p.trim()).filter(Boolean);
    this.initialStep = params.has("step") ? Number(params.get("step")) : null;
    try {
      this.views = JSON.parse(params.get("view") || "{}") || {};
    } catch {
      this.views = {};
    }
    this.axis = params.get("x") || "_step";
    this.chosenKeys = params.getAll("key");  // the media keys shown; none named: every shared key  // the page's x-axis: _step, or a step metric (define_metric)
    this.runs = [];
    this.panels = new Map();
    this.charts = [];
    this.steps = [];
    this.step = null;
    this.stopped = false;
    this.onKey = (e) => this.#onKey(e);
  }

  async start() {
    replaceChildren(this.root, h("p", { class: "loading" }, "loading runs…"));
    if (this.paths.length < 1) {
      replaceChildren(this.root, h("p", {}, "no runs to compare: tick runs in ", h("a", { href: "#/" }, "the runs list")));
      return;
    }
    loadKinds().catch(() => {});
    let answers;
    try {
      answers = await Promise.all(this.paths.map((path, i) => {
        if (this.first[i]) return this.first[i];
        const [project, run] = path.split("/");
        if (!project || !run) throw new Error(`${path} is not project/run`);
        return api.run(project, run);
      }));
    } catch (error) {
      replaceChildren(this.root, h("div", { class: "failed", role: "alert" }, `could not open the runs: ${error.message}`),
        h("p", {}, h("a", { href: "#/" }, "all runs")));
      return;
    }
    if (this.stopped) return;
    this.runs = answers.map((data, i) => ({
      path: this.paths[i], project: data.project, run: data.run, data, colour: runColour(i),
      label: data.info?.name && data.info.name !== data.run ? data.info.name : data.run,
    }));
    if (!this.axes().includes(this.axis)) this.axis = "_step";
    this.#skeleton();
    this.#charts();
    await this.#panels();
    document.addEventListener("keydown", this.onKey);
  }

  #skeleton() {
    this.slider = h("input", { type: "range", class: "page-step", min: 0, max: 0, value: 0, "aria-label": "step",
      oninput: () => this.setStep(this.steps[Number(this.slider.value)]) });
    this.stepLabel = h("span", { class: "page-step-label" });
    const axes = this.axes();
    this.axisSelect = h("select", { class: "page-axis", "aria-label": "x-axis", hidden: axes.length < 2,
      onchange: (e) => this.setAxis(e.target.value) },
    axes.map((a) => h("option", { value: a, selected: a === this.axis }, a === "_step" ? "step" : a)));
    this.chartGrid = h("div", { class: "chart-grid" });
    this.panelList = h("div", { class: "panel-list" });
    this.keyPicker = h("div", { class: "key-picker" });
    replaceChildren(this.root,
      h("nav", { class: "breadcrumbs" }, h("a", { href: "#/" }, "runs"), " / compare"),
      h("div", { class: "compare-runs" }, this.runs.map((r) => h("a", {
        class: "run-chip", dataset: { run: r.path }, style: { borderColor: r.colour },
        href: `#/run/${encodeURIComponent(r.project)}/${encodeURIComponent(r.run)}`,
      }, h("span", { class: "swatch", style: { background: r.colour } }), r.label))),
      h("div", { class: "page-step-bar" },
        h("button", { type: "button", class: "step-prev", title: "previous step (←)", onclick: () => this.move(-1) }, "‹"),
        this.slider,
        h("button", { type: "button", class: "step-next", title: "next step (→)", onclick: () => this.move(1) }, "›"),
        this.stepLabel, this.axisSelect),
      h("section", { class: "media", dataset: { section: "media" } }, h("h2", {}, "Media"), this.keyPicker, this.panelList),
      h("section", { class: "charts", dataset: { section: "charts" } }, h("h2", {}, "Scalars"), this.chartGrid));
  }

  /** The x-axes the runs offer: _step, and each step metric a run declared (define_metric) and logged. */
  axes() {
    const declared = new Set(this.runs.flatMap((r) => Object.values(r.data.info?.metrics || {}).map((m) => m?.step_metric)));
    return ["_step", ...[...declared].filter((a) => a && this.runs.some((r) => r.data.scalars?.[a])).sort()];
  }

  /** The x-axis value of `step` in run `r` (steps.js `xOf`). */
  xOf(r, step) {
    return xOf(r.data.scalars, this.axis, step);
  }

  /** Run `r`'s logged steps of `key` as [[x, step], ...], sorted by x (steps with no x left out). */
  runPositions(r, key) {
    return (r.data.media?.[key]?.steps || []).map((s) => [this.xOf(r, s), s]).filter(([x]) => x !== undefined)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /** Every run's x positions of `key`, sorted, once each. */
  positions(key) {
    return [...new Set(this.runs.flatMap((r) => this.runPositions(r, key).map(([x]) => x)))].sort((a, b) => a - b);
  }

  #charts() {
    const keys = [...new Set(this.runs.flatMap((r) => Object.keys(r.data.scalars || {})))].sort();
    this.chartGrid.closest("section").hidden = keys.length === 0;
    for (const key of keys) {
      let chart = this.charts.find((c) => c.key === key);
      if (!chart) {
        chart = new LineChart(key);
        this.charts.push(chart);
        this.chartGrid.append(chart.element);
      }
      chart.setSeries(this.runs.filter((r) => r.data.scalars?.[key]).map((r) => ({
        label: r.label, colour: r.colour,
        points: this.axis === "_step" ? r.data.scalars[key]
          : r.data.scalars[key].map(([s, v]) => [this.xOf(r, s), v]).filter(([x]) => x !== undefined && x !== null)
            .sort((a, b) => a[0] - b[0]),
      })));
    }
  }

  /** Put the page on x-axis `axis`: the charts, the slider and every panel re-laid on it. */
  async setAxis(axis) {
    if (axis === this.axis) return;
    this.axis = axis;
    this.#charts();
    this.step = null;
    this.initialStep = null;
    this.views = {};  // panels' steps and zoom were on the other axis
    await this.#rebuild();
  }

  /** Show the media keys ticked in the key picker (all: `chosenKeys` empty). */
  async setKeys(keys) {
    this.chosenKeys = keys.length === this.sharedKeys.length ? [] : keys;
    this.initialStep = this.step;
    for (const [key, panel] of this.panels) this.views[key] = panel.state();
    await this.#rebuild();
  }

  async #rebuild() {
    for (const panel of this.panels.values()) {
      panel.dispose();
      panel.element.remove();
    }
    this.panels.clear();
    delete this.root.dataset.painted;
    await this.#panels();
    this.saveState();
  }

  async #panels() {
    // The keys at least two runs logged (every key when one run is shown), in the kinds' panel order.
    const count = new Map();
    for (const r of this.runs) {
      for (const [key, info] of Object.entries(r.data.media || {})) {
        if (!key.startsWith("_") && info.steps?.length) count.set(key, (count.get(key) || 0) + 1);
      }
    }
    const kindOrder = (await loadKinds().catch(() => [])).map((k) => k.kind);
    const kindOf = (key) => this.runs.map((r) => r.data.media?.[key]?.kind).find(Boolean);
    const rank = (key) => { const i = kindOrder.indexOf(kindOf(key)); return i < 0 ? kindOrder.length : i; };
    this.sharedKeys = [...count.keys()].filter((k) => count.get(k) >= Math.min(2, this.runs.length))
      .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    const chosen = this.chosenKeys.filter((k) => this.sharedKeys.includes(k));
    const keys = chosen.length ? this.sharedKeys.filter((k) => chosen.includes(k)) : this.sharedKeys;
    this.panelList.closest("section").hidden = this.sharedKeys.length === 0;
    replaceChildren(this.keyPicker, this.sharedKeys.length < 2 ? null : [h("span", { class: "muted" }, "keys: "),
      this.sharedKeys.map((k) => h("label", { class: "key-choice", dataset: { key: k } },
        h("input", { type: "checkbox", checked: keys.includes(k), onchange: () => this.setKeys(
          [...this.keyPicker.querySelectorAll("label.key-choice")].filter((l) => l.querySelector("input").checked)
            .map((l) => l.dataset.key)) }), k))]);
    this.steps = [...new Set(keys.flatMap((k) => this.positions(k)))].sort((a, b) => a - b);
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    const wanted = this.initialStep ?? this.steps[this.steps.length - 1];
    this.step = this.steps[Math.max(0, nearestIndex(this.steps, wanted))] ?? null;
    this.#showStep();
    for (const key of keys) {
      const panel = new ComparePanel(this, key, this.views[key] || {});
      this.panels.set(key, panel);
      this.panelList.append(panel.element);
    }
    await Promise.all([...this.panels.values()].map((p) => p.show()));
    if (!this.stopped) {
      this.root.dataset.painted = "1";
      performance.mark("darkroom:compare-painted");
    }
  }

  #showStep() {
    const i = nearestIndex(this.steps, this.step);
    this.slider.value = String(Math.max(0, i));
    const name = this.axis === "_step" ? "step" : this.axis;
    this.stepLabel.textContent = this.step === null ? "no media" : `${name} ${formatNumber(this.step)} (${i + 1} of ${this.steps.length})`;
    this.root.dataset.step = String(this.step ?? "");
  }

  /**
   * One step's items of `key` in run `r`.  The panels ask in the same turn of the event loop
   * when the step moves; the asks are sent together, one /media/many request per run.
   */
  media(r, key, step) {
    if (!this.batch) {
      this.batch = new Map();
      queueMicrotask(() => this.#sendBatch());
    }
    if (!this.batch.has(r.path)) this.batch.set(r.path, { r, asks: [] });
    return new Promise((resolve, reject) => this.batch.get(r.path).asks.push({ key, step, resolve, reject }));
  }

  #sendBatch() {
    const batch = this.batch;
    this.batch = null;
    for (const { r, asks } of batch.values()) {
      for (let i = 0; i < asks.length; i += 64) {  // the server's bound on pairs a request
        const part = asks.slice(i, i + 64);
        api.mediaMany(r.project, r.run, part.map((a) => [a.key, a.step])).then((answer) => {
          part.forEach((a, j) => {
            const one = answer.answers[j];
            if (one?.error) a.reject(new Error(one.error)); else a.resolve(one);
          });
        }, (error) => part.forEach((a) => a.reject(error)));
      }
    }
  }

  /** Move every linked panel to `step`. */
  async setStep(step) {
    if (step === undefined || step === this.step) return;
    this.step = step;
    this.#showStep();
    this.saveState();
    await Promise.all([...this.panels.values()].filter((p) => p.linked).map((p) => p.show()));
  }

  move(delta) {
    const i = nearestIndex(this.steps, this.step) + delta;
    if (i >= 0 && i < this.steps.length) return this.setStep(this.steps[i]);
    return Promise.resolve();
  }

  #onKey(e) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    if (keyOwnedByControl(e.target)) return;  // a slider, a menu or a text box keeps its own arrows
    e.preventDefault();
    this.move(e.key === "ArrowLeft" ? -1 : 1);
  }

  /** Write the page's state into the URL (replacing the entry: no history per slider move). */
  saveState() {
    if (this.stopped) return;
    const params = new URLSearchParams({ runs: this.paths.join(",") });
    if (this.axis !== "_step") params.set("x", this.axis);
    for (const key of this.chosenKeys) params.append("key", key);
    if (this.step !== null) params.set("step", String(this.step));
    const views = {};
    for (const [key, panel] of this.panels) {
      const state = panel.state();
      if (Object.keys(state).length) views[key] = state;
    }
    if (Object.keys(views).length) params.set("view", JSON.stringify(views));
    history.replaceState(null, "", `#/compare?${params}`);
  }

  dispose() {
    this.stopped = true;
    document.removeEventListener("keydown", this.onKey);
    for (const panel of this.panels.values()) panel.dispose();
  }
}
