// One panel per media key: a step slider (and "compare": a second slider, two
// steps side by side), the overlay controls its images share, and the items
// of the chosen step.  While "linked", the run page's step slider moves it to
// its logged step nearest the page's; moving its own slider unlinks it.  A panel asks the server for one step's items at a
// time, never for the whole run: a run of 1,000 steps costs one request.

import { h, replaceChildren } from "./dom.js";
import { api } from "./api.js";
import { OverlayState, OverlayControls } from "./overlays.js";
import { renderItem } from "./items.js";
import { loadRenderers } from "./media_item.js";
import { nearestIndex } from "./steps.js";
import { Zoom, isZoomable, zoomableItem } from "./zoom.js";
import { applyToggles, togglesOf } from "./view_state.js";

let firstPaintMarked = false;

/** Marks the first media panel painted (bench/ui_latency.py reads this mark). */
function markFirstPaint() {
  if (firstPaintMarked) return;
  firstPaintMarked = true;
  performance.mark("darkroom:media-painted");
}

function signature(item) {
  return [item.status, item.url, item.revision, item.created_at, item.error?.message].join("|");
}

/** The largest side of an image in a grid of `count` items (CSS pixels). */
function itemSize(count, compare) {
  const size = count <= 1 ? 512 : count <= 4 ? 256 : 192;
  return compare ? Math.min(size, 320) : size;
}

class StepView {
  constructor(panel, side) {
    this.panel = panel;
    this.side = side;
    this.index = -1;
    this.step = null;
    this.views = [];       // [{signature, view}]
    this.request = null;   // the AbortController of the fetch in flight
    this.timer = 0;
    this.slider = h("input", {
      type: "range", min: 0, max: 0, value: 0, class: "step-slider", dataset: { side },
      "aria-label": `${panel.key} step${side === "b" ? " (compare)" : ""}`,
      oninput: () => this.#onSlide(),
    });
    this.label = h("span", { class: "step-label" });
    this.grid = h("div", { class: "item-grid" });
    this.element = h("div", { class: "step-view", dataset: { side } },
      h("div", { class: "step-controls" },
        h("button", { type: "button", class: "step-prev", title: "previous step", onclick: () => this.move(-1) }, "‹"),
        this.slider,
        h("button", { type: "button", class: "step-next", title: "next step", onclick: () => this.move(1) }, "›"),
        this.label),
      this.grid);
  }

  get steps() {
    return this.panel.steps;
  }

  #onSlide() {
    this.index = Number(this.slider.value);
    if (this.side === "a") {
      this.panel.following = this.index === this.steps.length - 1;
      if (this.panel.linked) this.panel.setLinked(false);  // its own step now: the page's slider leaves it
      else this.panel.onChange();
    }
    this.#showLabel();
    // Dragging the slider fires many events: fetch once it rests.
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), 60);
  }

  move(delta) {
    const index = Math.min(this.steps.length - 1, Math.max(0, this.index + delta));
    if (index === this.index) return;
    this.slider.value = String(index);
    this.#onSlide();
  }

  /** Show the step at `index` of the panel's steps. */
  show(index) {
    this.index = index;
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.slider.value = String(index);
    this.#showLabel();
    return this.load();
  }

  syncRange() {
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.slider.value = String(this.index);
    this.#showLabel();
  }

  #showLabel() {
    const step = this.steps[this.index];
    const note = this.side === "a" && this.panel.linked ? this.panel.pageNote : null;
    const off = note ? ` · ${note}` : "";
    this.label.textContent = step === undefined ? "" : `step ${step} (${this.index + 1} of ${this.steps.length})${off}`;
    this.element.classList.toggle("off-step", Boolean(off));
  }

  /** Fetch the items of the current step and draw those that changed. */
  async load() {
    const step = this.steps[this.index];
    if (step === undefined) return;
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    const { project, run } = this.panel.context;
    let data;
    try {
      data = await api.media(project, run, this.panel.key, step, { signal: request.signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      this.#clear();
      replaceChildren(this.grid, h("div", { class: "failed", role: "alert" }, `could not load step ${step}: ${error.message}`));
      this.step = null;
      return;
    }
    await loadRenderers(data.items || []);  // its kinds' modules, so the step draws at once
    if (this.request !== request) return;
    this.request = null;
    await this.#render(step, data.items || []);
  }

  async #render(step, items) {
    const panel = this.panel;
    if (panel.overlay.absorb(items)) {
      if (panel.toggles) applyToggles(panel.overlay, panel.toggles);  // the URL's, as their groups appear
      panel.controls.update();
    }
    const sameStep = this.step === step && this.views.length === items.length;
    this.step = step;
    this.element.dataset.step = String(step);
    this.pending = items.some((i) => i.status !== "ok" && i.status !== "failed");
    this.itemCount = items.length;
    const size = itemSize(items.length, panel.comparing);
    const ready = [];
    if (!sameStep) {
      this.#clear();
      this.grid.classList.toggle("single", items.length === 1);
    }
    items.forEach((item, i) => {
      const sig = signature(item);
      if (sameStep && this.views[i].signature === sig) return;  // unchanged: no flicker
      const view = renderItem(item, { ...panel.context, overlay: panel.overlay, maxSize: size });
      ready.push(view.ready);
      // An image zooms and pans with the panel's other images, and opens at full resolution.
      const element = isZoomable(item) ? zoomableItem(view.element, panel.zoom, () => panel.openFull(item)) : view.element;
      if (sameStep) {
        this.views[i].view.dispose();
        this.views[i].element.replaceWith(element);
        this.views[i] = { signature: sig, view, element };
      } else {
        this.views.push({ signature: sig, view, element });
        this.grid.append(element);
      }
    });
    await Promise.all(ready);
    if (this.step === step && items.length) {
      this.element.dataset.painted = "1";
      markFirstPaint();
    }
  }

  #clear() {
    for (const { view } of this.views) view.dispose();
    this.views = [];
    this.grid.replaceChildren();
    delete this.element.dataset.painted;
  }

  dispose() {
    this.request?.abort();
    clearTimeout(this.timer);
    this.#clear();
  }
}

export class MediaPanel {
  /**
   * @param context {project, run}
   * @param key     the media key
   * @param info    {kind, steps: [step, ...]} from the run's JSON
   * @param view    its state from the URL: {step (unlinked), zoom, toggles}
   */
  constructor(context, key, info, view = {}) {
    this.context = context;
    this.key = key;
    this.kind = info.kind;
    this.steps = [...info.steps];
    this.following = true;  // at the newest step: new steps move slider A along
    this.comparing = false;
    this.overlay = new OverlayState();
    this.controls = new OverlayControls(this.overlay);
    this.zoom = new Zoom(view.zoom);
    this.zoom.addEventListener("change", () => { this.zoom.applyTo(this.element); this.onChange(); });
    this.toggles = view.toggles || null;
    this.overlay.addEventListener("change", () => { this.toggles = togglesOf(this.overlay); this.onChange(); });
    this.view = view;
    this.onChange = () => {};  // the page's: write the URL
    this.a = new StepView(this, "a");
    this.b = null;
    this.sides = h("div", { class: "step-views" }, this.a.element);
    this.compareBox = h("input", { type: "checkbox", class: "compare-toggle", onchange: (e) => this.setCompare(e.target.checked) });
    this.linked = true;     // follows the page's step slider
    this.pageNote = null;   // what the page's step slider says of this panel ("no media at step 7")
    this.linkBox = h("input", { type: "checkbox", class: "link-toggle", checked: true, onchange: (e) => this.setLinked(e.target.checked) });
    this.element = h("section", { class: "panel media-panel", dataset: { key, kind: info.kind } },
      h("header", { class: "panel-header" },
        h("h3", {}, key),
        h("span", { class: "kind" }, info.kind),
        h("label", { class: "link", title: "follow the page's step slider" }, this.linkBox, "linked"),
        h("label", { class: "compare", title: "two steps side by side" }, this.compareBox, "compare")),
      this.controls.element,
      this.sides);
    this.element.dataset.zoom = String(this.zoom.scale);
  }

  /** Show the newest step (or, unlinked by the URL, the step nearest its own). */
  start() {
    if (this.view.step !== undefined) {
      this.setLinked(false);
      const index = nearestIndex(this.steps, this.view.step);
      this.following = index === this.steps.length - 1;
      return this.a.show(index);
    }
    return this.a.show(this.steps.length - 1);
  }

  /** The panel's state for the URL (only what differs from the defaults). */
  state() {
    const out = {};
    const own = this.steps[this.a.index];
    if (!this.linked && own !== undefined) out.step = own;
    if (this.zoom.scale !== 1) out.zoom = [this.zoom.scale, Math.round(this.zoom.x), Math.round(this.zoom.y)];
    if (this.toggles) out.toggles = this.toggles;
    return out;
  }

  /** `item` at full resolution over the page (`full_view.js`, loaded when first used). */
  async openFull(item) {
    const { openFullView } = await import("./full_view.js");
    return openFullView(item, this.overlay, this.context.run);
  }

  setLinked(on) {
    this.linked = on;
    this.linkBox.checked = on;
    this.element.dataset.linked = on ? "1" : "0";
    if (!on) this.pageNote = null;
    this.onChange();
  }

  /**
   * The page's slider moved: show logged step `step` (the page chose it: the nearest on its axis),
   * with `note` under it when it is not the page's ("no media at step 7"); `follow`: the page is at
   * its newest step, so this panel follows new ones.  Nothing when unlinked.
   */
  showStep(step, note = null, follow = false) {
    if (!this.linked) return Promise.resolve();
    this.pageNote = note;
    const index = nearestIndex(this.steps, step);
    this.following = follow && index === this.steps.length - 1;
    if (index === this.a.index) {
      this.a.syncRange();  // the same step: only its label (the page's step) changes
      return Promise.resolve();
    }
    return this.a.show(index);
  }

  setCompare(on) {
    this.comparing = on;
    this.compareBox.checked = on;
    this.element.classList.toggle("comparing", on);
    if (on && !this.b) {
      this.b = new StepView(this, "b");
      this.sides.append(this.b.element);
      this.b.show(Math.max(0, this.a.index - 1));
      this.a.load();  // redrawn at the compare size
    } else if (!on && this.b) {
      this.b.dispose();
      this.b.element.remove();
      this.b = null;
      this.a.load();
    }
  }

  /**
   * New run JSON arrived (live): take new steps, follow the newest step if the
   * slider was there, and re-fetch a shown step whose items may still change.
   */
  update(info, running) {
    const grew = info.steps.length !== this.steps.length || info.steps.some((s, i) => s !== this.steps[i]);
    if (grew) {
      this.steps = [...info.steps];
      for (const side of [this.a, this.b]) side?.syncRange();
    }
    const last = this.steps.length - 1;
    const tasks = [];
    if (this.following && this.a.index !== last) {
      tasks.push(this.a.show(last));
    }
    for (const side of [this.a, this.b]) {
      if (!side || (tasks.length && side === this.a)) continue;
      // Ask again only when something can have changed: a pending item may
      // have converted, or the step now holds more items than are shown (the
      // run's JSON counts them; without counts, the newest step of a live run).
      const count = info.counts?.[side.index];
      const changed = count === undefined ? running && side.index === last : count !== side.itemCount;
      if (side.pending || side.step === null || changed) tasks.push(side.load());
    }
    return Promise.all(tasks);
  }

  dispose() {
    this.a.dispose();
    this.b?.dispose();
  }
}
