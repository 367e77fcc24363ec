// One media key on the compare page: for each run, its items at the step the
// page (or this panel, when unlinked) shows, side by side, with the overlay
// toggles shared by all; for images, a difference view (|A - B| per pixel),
// a swipe view and a blink view of two runs; and zoom and pan (wheel, drag,
// double-click to reset) linked across every image of the panel.

import { h, replaceChildren, formatNumber } from "./dom.js";
import { OverlayState, OverlayControls } from "./overlays.js";
import { renderItem } from "./items.js";
import { loadRenderers } from "./media_item.js";
import { loadImage } from "./image_view.js";
import { nearestIndex } from "./steps.js";
import { Zoom, isZoomable, zoomableItem } from "./zoom.js";
import { applyToggles, togglesOf } from "./view_state.js";

export const MODES = ["side by side", "difference", "swipe", "blink"];
const BLINK_MS = 600;

/** Pixels of an image URL: {width, height, data (RGBA)}. */
async function pixelsOf(url) {
  const img = await loadImage(url);
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [img.naturalWidth, img.naturalHeight];
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  return { img, width: canvas.width, height: canvas.height, data: ctx.getImageData(0, 0, canvas.width, canvas.height).data };
}

export class ComparePanel {
  /**
   * @param page  the ComparePage: its runs [{path, project, run, label, colour, data}] and its step
   * @param key   the media key
   * @param view  this panel's state from the URL: {step?, mode?, a?, b?, zoom?, swipe?, toggles?}
   */
  constructor(page, key, view = {}) {
    this.page = page;
    this.key = key;
    this.kind = page.runs.map((r) => r.data.media?.[key]?.kind).find(Boolean);
    this.linked = view.step === undefined;
    this.ownStep = view.step ?? null;
    this.mode = MODES.includes(view.mode) ? view.mode : MODES[0];
    this.pair = [view.a ?? 0, view.b ?? Math.min(1, page.runs.length - 1)];
    this.swipe = view.swipe ?? 50;
    this.zoom = new Zoom(view.zoom);
    this.zoom.addEventListener("change", () => { this.#applyZoom(); this.page.saveState(); });
    this.overlay = new OverlayState();
    this.controls = new OverlayControls(this.overlay);
    this.toggles = view.toggles || null;  // the URL's toggles: applied as their groups appear
    this.overlay.addEventListener("change", () => { this.toggles = togglesOf(this.overlay); this.page.saveState(); });
    this.cells = new Map();  // run path -> {element, body, label, views, step, request}
    this.blinkTimer = 0;
    this.generation = 0;
    const steps = page.positions(key);  // on the page's x-axis: steps, or a step metric's values
    this.steps = steps;
    this.linkBox = h("input", { type: "checkbox", class: "link-toggle", checked: this.linked, onchange: (e) => this.setLinked(e.target.checked) });
    this.slider = h("input", { type: "range", class: "panel-step", min: 0, max: Math.max(0, steps.length - 1), hidden: this.linked,
      "aria-label": `${key} step`, oninput: () => { this.ownStep = this.steps[Number(this.slider.value)]; this.show(); } });
    this.modeBar = h("span", { class: "compare-modes" });
    this.body = h("div", { class: "compare-cells" });
    // 3-D views share one camera: a run's view moved by the user moves the others (scene3d.js's events).
    this.body.addEventListener("darkroom-camera", (e) => {
      for (const canvas of this.body.querySelectorAll("canvas.scene-canvas")) {
        if (canvas !== e.target) canvas.dispatchEvent(new CustomEvent("darkroom-set-camera", { detail: e.detail }));
      }
    });
    this.element = h("section", { class: "panel compare-panel", dataset: { key, kind: this.kind || "", mode: this.mode } },
      h("header", { class: "panel-header" }, h("h3", {}, key), h("span", { class: "kind" }, this.kind || ""),
        h("label", { class: "link", title: "follow the page's step slider" }, this.linkBox, "linked"), this.slider,
        this.modeBar),
      this.controls.element, this.body);
    this.#drawModeBar();
  }

  /** The step this panel is at: the page's, or its own when unlinked. */
  get step() {
    return this.linked ? this.page.step : this.ownStep;
  }

  setLinked(on) {
    this.linked = on;
    this.linkBox.checked = on;
    if (!on) this.ownStep = this.page.step;
    this.slider.hidden = on;
    this.slider.value = String(Math.max(0, nearestIndex(this.steps, this.step)));
    this.page.saveState();
    return this.show();
  }

  /** The panel's state for the URL (only what differs from the defaults). */
  state() {
    const out = {};
    if (!this.linked) out.step = this.ownStep;
    if (this.mode !== MODES[0]) Object.assign(out, { mode: this.mode, a: this.pair[0], b: this.pair[1], swipe: this.swipe });
    if (this.zoom.scale !== 1) out.zoom = [this.zoom.scale, Math.round(this.zoom.x), Math.round(this.zoom.y)];
    if (this.toggles) out.toggles = this.toggles;
    return out;
  }

  /** Show every run's items at the panel's step (each run: its logged step nearest it). */
  async show() {
    const mine = ++this.generation;
    const step = this.step;
    this.element.dataset.step = String(step);
    delete this.element.dataset.painted;
    const runs = this.page.runs;
    const shown = await Promise.all(runs.map((r) => this.#showRun(r, step)));
    if (mine !== this.generation) return;
    if (this.mode !== MODES[0] && this.kind === "image") await this.#drawMode(shown);
    if (mine !== this.generation) return;
    this.#syncPlayers();
    this.element.dataset.painted = "1";
  }

  /** Videos and audio of the panel play, pause and seek together: one run's player drives the others. */
  #syncPlayers() {
    this.synced ??= new WeakSet();
    this.expected ??= new WeakMap();  // player -> events the panel caused (not the user's: not followed)
    const players = () => [...this.body.querySelectorAll("video, audio")];
    const drive = (player, event, act) => {
      if (!this.expected.has(player)) this.expected.set(player, new Set());
      this.expected.get(player).add(event);
      act();
    };
    for (const player of players()) {
      if (this.synced.has(player)) continue;
      this.synced.add(player);
      const on = (event, follow) => player.addEventListener(event, () => {
        if (this.expected.get(player)?.delete(event)) return;
        for (const other of players()) if (other !== player) follow(other);
      });
      on("play", (o) => {
        if (Math.abs(o.currentTime - player.currentTime) > 0.05) drive(o, "seeked", () => { o.currentTime = player.currentTime; });
        if (o.paused) drive(o, "play", () => o.play().catch(() => this.expected.get(o)?.delete("play")));
      });
      on("pause", (o) => { if (!o.paused) drive(o, "pause", () => o.pause()); });
      on("seeked", (o) => {
        if (Math.abs(o.currentTime - player.currentTime) > 0.05) drive(o, "seeked", () => { o.currentTime = player.currentTime; });
      });
    }
  }

  async #showRun(r, step) {
    let cell = this.cells.get(r.path);
    if (!cell) {
      cell = { label: h("span", { class: "cell-step" }), body: h("div", { class: "cell-body" }), views: [], step: null, items: [] };
      cell.element = h("div", { class: "compare-cell", dataset: { run: r.path }, style: { borderColor: r.colour } },
        h("div", { class: "cell-run", style: { color: r.colour } }, h("span", { class: "swatch", style: { background: r.colour } }), r.label, " ", cell.label),
        cell.body);
      this.cells.set(r.path, cell);
      this.body.append(cell.element);
    }
    // `step` is a position on the page's x-axis; each run shows its logged step nearest it.
    const logged = this.page.runPositions(r, this.key);  // [[x, step], ...] sorted by x
    const nearest = logged[nearestIndex(logged.map(([x]) => x), step)];
    if (nearest === undefined) {
      cell.label.textContent = "no such key";
      this.#clear(cell);
      cell.element.dataset.step = "";
      return { r, items: [] };
    }
    const [x, at] = nearest;
    const axis = this.page.axis === "_step" ? "" : ` · ${this.page.axis} ${formatNumber(x)}`;
    const where = this.page.axis === "_step" ? `step ${step}` : `${this.page.axis} ${formatNumber(step)}`;
    cell.label.textContent = `step ${at}${axis}${x === step ? "" : ` · no media at ${where}`}`;
    cell.element.classList.toggle("off-step", x !== step);
    if (cell.step === at && cell.items.length) return { r, items: cell.items };  // unchanged
    const request = {};  // this ask's token: an answer to an older ask is dropped
    cell.request = request;
    let items;
    try {
      items = (await this.page.media(r, this.key, at)).items || [];
      if (cell.request !== request) return { r, items: cell.items };  // a newer step was asked for meanwhile
      await loadRenderers(items);
    } catch (error) {
      if (cell.request !== request) return { r, items: cell.items };
      replaceChildren(cell.body, h("div", { class: "failed", role: "alert" }, `could not load step ${at}: ${error.message}`));
      return { r, items: [] };
    }
    if (cell.request !== request) return { r, items: cell.items };
    if (this.overlay.absorb(items)) {
      if (this.toggles) applyToggles(this.overlay, this.toggles);
      this.controls.update();
    }
    this.#clear(cell);
    // Runs side by side, each run's items in a grid of at most 2 columns.
    const size = items.length <= 1 ? (this.page.runs.length <= 2 ? 384 : 256) : items.length <= 4 ? 192 : 128;
    cell.body.style.gridTemplateColumns = `repeat(${Math.min(2, Math.max(1, items.length))}, auto)`;
    for (const item of items) {
      const view = renderItem(item, { project: r.project, run: r.run, overlay: this.overlay, maxSize: size });
      cell.views.push(view);
      cell.body.append(isZoomable(item) ? zoomableItem(view.element, this.zoom, () => this.openFull(item, r))
        : h("div", { class: "cell-item" }, view.element));
    }
    cell.step = at;
    cell.items = items;
    this.#applyZoom();
    await Promise.all(cell.views.map((v) => v.ready));
    cell.element.dataset.step = String(at);
    return { r, items };
  }

  /** `item` of run `r` at full resolution over the page (`full_view.js`, loaded when first used). */
  async openFull(item, r) {
    const { openFullView } = await import("./full_view.js");
    return openFullView(item, this.overlay, r.label);
  }

  #clear(cell) {
    for (const v of cell.views) v.dispose();
    cell.views = [];
    cell.items = [];
    cell.step = null;
    cell.body.replaceChildren();
  }

  #applyZoom() {
    this.zoom.applyTo(this.element);
  }

  #drawModeBar() {
    if (this.kind !== "image" || this.page.runs.length < 2) return;
    const runChoice = (side) => h("select", { class: `mode-run-${side ? "b" : "a"}`, hidden: this.mode === MODES[0],
      onchange: (e) => { this.pair[side] = Number(e.target.value); this.page.saveState(); this.show(); } },
    this.page.runs.map((r, i) => h("option", { value: String(i), selected: i === this.pair[side] }, r.label)));
    replaceChildren(this.modeBar,
      h("select", { class: "compare-mode", "aria-label": "view", onchange: (e) => this.setMode(e.target.value) },
        MODES.map((m) => h("option", { value: m, selected: m === this.mode }, m))),
      runChoice(0), runChoice(1));
  }

  setMode(mode) {
    this.mode = mode;
    this.element.dataset.mode = mode;
    this.#drawModeBar();
    this.page.saveState();
    return this.show();
  }

  /** The difference, swipe or blink view of the pair's first images, above the cells. */
  async #drawMode(shown) {
    clearInterval(this.blinkTimer);
    this.element.querySelector(".compare-mode-view")?.remove();
    const [a, b] = this.pair.map((i) => shown[i]?.items.find((item) => item.status === "ok" && item.url));
    const holder = h("div", { class: "compare-mode-view" });
    this.body.before(holder);
    if (!a || !b) {
      holder.append(h("p", { class: "muted" }, "both runs need an image at this step"));
      return;
    }
    const [pa, pb] = await Promise.all([pixelsOf(a.url), pixelsOf(b.url)]);
    const canvas = h("canvas", { class: "mode-canvas", width: Math.max(pa.width, pb.width), height: Math.max(pa.height, pb.height) });
    const ctx = canvas.getContext("2d");
    const size = Math.min(512, Math.max(canvas.width, canvas.height) * 4);
    const k = Math.max(1, Math.floor(size / Math.max(canvas.width, canvas.height)));
    Object.assign(canvas.style, { width: `${canvas.width * k}px`, height: `${canvas.height * k}px` });
    const viewport = this.zoom.wrap(canvas);
    const names = this.pair.map((i) => this.page.runs[i].label);
    if (this.mode === "difference") {
      if (pa.width !== pb.width || pa.height !== pb.height) {
        holder.append(h("p", { class: "muted" }, `the images differ in size (${pa.width}×${pa.height}, ${pb.width}×${pb.height}): no difference`));
        return;
      }
      const out = ctx.createImageData(pa.width, pa.height);
      for (let i = 0; i < out.data.length; i += 4) {
        for (let c = 0; c < 3; c++) out.data[i + c] = Math.abs(pa.data[i + c] - pb.data[i + c]);
        out.data[i + 3] = 255;
      }
      ctx.putImageData(out, 0, 0);
      holder.append(h("div", { class: "muted" }, `|${names[0]} − ${names[1]}|`), viewport);
    } else if (this.mode === "swipe") {
      const draw = () => {
        const split = Math.round(canvas.width * this.swipe / 100);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(pb.img, 0, 0);
        ctx.save();
        ctx.beginPath();
        ctx.rect(0, 0, split, canvas.height);
        ctx.clip();
        ctx.drawImage(pa.img, 0, 0);
        ctx.restore();
      };
      const range = h("input", { type: "range", class: "swipe-position", min: 0, max: 100, value: this.swipe,
        oninput: (e) => { this.swipe = Number(e.target.value); draw(); this.page.saveState(); } });
      draw();
      holder.append(h("div", { class: "muted" }, `${names[0]} ◀ `, range, ` ▶ ${names[1]}`), viewport);
    } else {
      let showingA = true;
      const label = h("span", { class: "blink-label" });
      const draw = () => {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(showingA ? pa.img : pb.img, 0, 0);
        label.textContent = showingA ? names[0] : names[1];
        canvas.dataset.showing = showingA ? "a" : "b";
      };
      draw();
      this.blinkTimer = setInterval(() => { showingA = !showingA; draw(); }, BLINK_MS);
      holder.append(h("div", { class: "muted" }, "blink: ", label), viewport);
    }
    this.#applyZoom();
  }

  dispose() {
    this.generation++;
    clearInterval(this.blinkTimer);
    for (const cell of this.cells.values()) {
      cell.request = null;
      this.#clear(cell);
    }
  }
}
