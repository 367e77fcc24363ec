// One image with its overlays, drawn on one canvas: the image, each visible
// mask group coloured by class at the group's opacity, then the visible boxes
// with their captions.  Boxes are stored as fractions in min/max form
// (workers/converters/boxes.py), masks as a PNG of class values per group.

import { h, formatNumber } from "./dom.js";
import { classColour, rgb } from "./palette.js";
import { boxGroupsOf, maskGroupsOf } from "./overlays.js";

/** The image renderer of the kinds table (pipeline/kinds.py): one ImageView in the panel's overlay state. */
export function render(item, context) {
  const view = new ImageView(item, context.overlay, context.maxSize);
  return { element: view.element, ready: view.load(), dispose: () => view.dispose() };
}

/** Load an image URL; resolves once it is decoded. */
export function loadImage(url) {
  const img = new Image();
  img.decoding = "async";
  img.src = url;
  return img.decode().then(() => img, () => {
    throw new Error(`could not load image ${url}`);
  });
}

/** The class value of every pixel of a mask PNG (its first channel). */
async function maskValues(url) {
  const img = await loadImage(url);
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const values = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < values.length; i++) values[i] = rgba[4 * i];
  return { width: canvas.width, height: canvas.height, values };
}

/**
 * The size an image is shown at: at most `maxSize` CSS pixels a side; small
 * images are enlarged by a whole factor (at most 4) so their pixels stay square.
 */
export function displaySize(width, height, maxSize) {
  let scale = Math.min(maxSize / width, maxSize / height);
  if (scale >= 1) scale = Math.min(4, Math.floor(scale));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

export class ImageView {
  /**
   * @param item   a media item (manifest fields + url + related)
   * @param state  the panel's OverlayState
   * @param maxSize the largest side in CSS pixels
   */
  constructor(item, state, maxSize = 384) {
    this.item = item;
    this.state = state;
    this.maxSize = maxSize;
    this.masks = [];
    this.maskCanvases = new Map();  // group -> {key, canvas}
    this.canvas = h("canvas", { class: "image-canvas", dataset: { boxes: boxGroupsOf(item).length } });
    this.onChange = () => this.draw();
    state.addEventListener("change", this.onChange);
    this.element = this.canvas;
  }

  async load() {
    const [image, masks] = await Promise.all([
      loadImage(this.item.url),
      Promise.all(maskGroupsOf(this.item).map(async (g) => ({ ...g, ...(await maskValues(g.url)) }))),
    ]);
    this.image = image;
    this.masks = masks;
    this.draw();
    this.canvas.dataset.ready = "1";
  }

  dispose() {
    this.state.removeEventListener("change", this.onChange);
  }

  draw() {
    if (!this.image) return;
    const { naturalWidth: iw, naturalHeight: ih } = this.image;
    const [w, h_] = displaySize(iw, ih, this.maxSize);
    // The overlay is drawn in whole device pixels: a box edge at a fraction
    // lands on the pixel a test (or a person) expects, without smoothing.
    const ratio = window.devicePixelRatio || 1;
    const cw = Math.round(w * ratio), ch = Math.round(h_ * ratio);
    if (this.canvas.width !== cw || this.canvas.height !== ch) {
      this.canvas.width = cw;
      this.canvas.height = ch;
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h_}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = cw < iw;  // enlarge with square pixels, shrink smoothly
    ctx.clearRect(0, 0, cw, ch);
    ctx.drawImage(this.image, 0, 0, cw, ch);
    for (const mask of this.masks) this.#drawMask(ctx, mask, cw, ch);
    this.#drawBoxes(ctx, cw, ch, ratio);
  }

  #drawMask(ctx, mask, cw, ch) {
    const classes = this.state.maskClasses(mask.name);
    if (!classes || classes.size === 0) return;
    const key = [...classes].sort((a, b) => a - b).join(",");
    let cached = this.maskCanvases.get(mask.name);
    if (!cached || cached.key !== key) {
      const canvas = document.createElement("canvas");
      canvas.width = mask.width;
      canvas.height = mask.height;
      const mctx = canvas.getContext("2d");
      const data = mctx.createImageData(mask.width, mask.height);
      const lut = new Map([...classes].map((v) => [v, rgb(classColour(v))]));
      const px = data.data;
      for (let i = 0; i < mask.values.length; i++) {
        const colour = lut.get(mask.values[i]);
        if (!colour) continue;
        px[4 * i] = colour[0];
        px[4 * i + 1] = colour[1];
        px[4 * i + 2] = colour[2];
        px[4 * i + 3] = 255;
      }
      mctx.putImageData(data, 0, 0);
      cached = { key, canvas };
      this.maskCanvases.set(mask.name, cached);
    }
    ctx.save();
    ctx.globalAlpha = this.state.maskOpacity(mask.name);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cached.canvas, 0, 0, cw, ch);
    ctx.restore();
  }

  #drawBoxes(ctx, cw, ch, ratio) {
    const line = Math.max(2, Math.round(2 * ratio));
    ctx.font = `${Math.round(11 * ratio)}px system-ui, sans-serif`;
    ctx.textBaseline = "top";
    for (const [name, group] of boxGroupsOf(this.item)) {
      for (const box of group.box_data) {
        if (!this.state.boxVisible(name, box)) continue;
        const p = box.position;
        const x0 = Math.round(p.minX * cw), x1 = Math.round(p.maxX * cw);
        const y0 = Math.round(p.minY * ch), y1 = Math.round(p.maxY * ch);
        const colour = classColour(box.class_id);
        ctx.strokeStyle = colour;
        ctx.lineWidth = line;
        // An even line width on whole-pixel coordinates covers whole pixels.
        ctx.strokeRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
        this.#drawCaption(ctx, boxCaption(box, group), colour, x0, y0, y1, ratio, cw);
      }
    }
  }

  #drawCaption(ctx, text, colour, x0, y0, y1, ratio, cw) {
    if (!text) return;
    const pad = Math.round(2 * ratio);
    const height = Math.round(14 * ratio);
    const width = Math.min(cw, ctx.measureText(text).width + 2 * pad);
    // Above the box when there is room, else just inside its top edge.
    let y = y0 - height;
    if (y < 0) y = Math.min(y0 + Math.round(2 * ratio), Math.max(0, y1 - height));
    const x = Math.min(Math.max(0, x0 - Math.round(ratio)), cw - width);
    ctx.fillStyle = colour;
    ctx.fillRect(x, y, width, height);
    ctx.fillStyle = textColourOn(colour);
    ctx.fillText(text, x + pad, y + pad);
  }
}

function boxCaption(box, group) {
  const label = box.box_caption ?? group.class_labels?.[String(box.class_id)] ?? `class_${box.class_id}`;
  const scores = Object.entries(box.scores || {}).map(([k, v]) => `${k} ${formatNumber(Number(v))}`);
  return [label, ...scores].join(" ");
}

function textColourOn(hex) {
  const [r, g, b] = rgb(hex);
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111" : "#fff";
}
