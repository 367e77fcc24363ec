// Zoom and pan of images, shared by every image of a panel (a run's panel,
// a compare panel, the full-resolution view): the wheel zooms about the
// pointer (1x to 64x), a drag pans, a double-click resets.  Each image sits in
// a viewport (`.zoom-viewport`, clipping) around a content box (`.zoom-content`)
// that the owner transforms (`zoom.transform`) when the zoom changes.

import { h } from "./dom.js";

const MAX_SCALE = 64;

export class Zoom extends EventTarget {
  /** @param state [scale, x, y] (from a URL), or null for the whole image */
  constructor(state = null) {
    super();
    [this.scale, this.x, this.y] = Array.isArray(state) && state.length === 3 && state.every(Number.isFinite) ? state : [1, 0, 0];
  }

  set(scale, x, y) {
    [this.scale, this.x, this.y] = [Math.min(MAX_SCALE, Math.max(1, scale)), x, y];
    if (this.scale === 1) [this.x, this.y] = [0, 0];
    this.dispatchEvent(new Event("change"));
  }

  reset() { this.set(1, 0, 0); }

  get transform() { return `translate(${this.x}px, ${this.y}px) scale(${this.scale})`; }

  /** Apply the zoom to every content box inside `root`; its `data-zoom` says the scale. */
  applyTo(root) {
    for (const content of root.querySelectorAll(".zoom-content")) content.style.transform = this.transform;
    root.dataset.zoom = String(this.scale);
  }

  /** `element` in a viewport that zooms and pans with this zoom; returns the viewport. */
  wrap(element) {
    const content = h("div", { class: "zoom-content", style: { transform: this.transform } }, element);
    const viewport = h("div", { class: "zoom-viewport" }, content);
    this.attach(viewport);
    return viewport;
  }

  /** Make `viewport` zoom on the wheel (about the pointer), pan on a drag, and reset on a double-click. */
  attach(viewport) {
    viewport.addEventListener("wheel", (e) => {
      e.preventDefault();
      const box = viewport.getBoundingClientRect();
      const [px, py] = [e.clientX - box.left, e.clientY - box.top];
      const scale = Math.min(MAX_SCALE, Math.max(1, this.scale * Math.exp(-e.deltaY * 0.002)));
      const k = scale / this.scale;  // the point under the pointer stays put
      this.set(scale, px - k * (px - this.x), py - k * (py - this.y));
    }, { passive: false });
    viewport.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      const start = [e.clientX, e.clientY, this.x, this.y];
      viewport.setPointerCapture?.(e.pointerId);
      const move = (m) => this.set(this.scale, start[2] + m.clientX - start[0], start[3] + m.clientY - start[1]);
      const up = () => { viewport.removeEventListener("pointermove", move); viewport.removeEventListener("pointerup", up); };
      viewport.addEventListener("pointermove", move);
      viewport.addEventListener("pointerup", up);
    });
    viewport.addEventListener("dblclick", () => this.reset());
  }
}

/** Whether `item` is an image the page can zoom and open at full resolution. */
export function isZoomable(item) {
  return item.kind === "image" && item.status === "ok" && Boolean(item.url);
}

/** A rendered item (its <figure>) with its media in `zoom`'s viewport (the caption stays as it is),
 * and a "full size" button calling `openFull()`.  Returns the figure. */
export function zoomableItem(figure, zoom, openFull) {
  const media = figure.firstElementChild;
  if (media) {
    const content = h("div", { class: "zoom-content", style: { transform: zoom.transform } });
    const viewport = h("div", { class: "zoom-viewport" }, content);
    media.replaceWith(viewport);
    content.append(media);
    zoom.attach(viewport);
  }
  figure.append(h("button", {
    type: "button", class: "full-open", title: "full resolution, with its overlays and metadata", onclick: openFull,
  }, "⤢ full size"));
  return figure;
}
