// A histogram key: its bars at one step (a slider picks the step) and a
// heatmap of its bins over every step (columns are steps, rows are values,
// darker is more; each step scaled to its own largest bin).  Histograms
// travel inline in the run's JSON: no media request is needed.

import { h, sizedCanvas, formatNumber } from "./dom.js";
import { rampColour } from "./palette.js";
import { ticks } from "./line_chart.js";

const W = 380, H = 170, ROWS = 64;
const M = { left: 44, right: 10, top: 8, bottom: 24 };

export class HistogramView {
  constructor(key) {
    this.key = key;
    this.entries = [];
    this.index = -1;
    this.following = true;  // at the newest step: new steps move the slider along
    this.slider = h("input", { type: "range", min: 0, max: 0, value: 0, "aria-label": `${key} step`,
      oninput: () => { this.index = Number(this.slider.value); this.following = this.index === this.entries.length - 1; this.draw(); } });
    this.label = h("span", { class: "step-label" });
    this.bars = h("canvas", { class: "histogram-bars" });
    this.heatmap = h("canvas", { class: "histogram-heatmap", title: "bins over steps; click a column to show that step" });
    this.heatmap.addEventListener("click", (e) => this.#pick(e));
    this.element = h("section", { class: "panel histogram-panel", dataset: { key, kind: "histogram" } },
      h("header", { class: "panel-header" }, h("h3", {}, key), h("span", { class: "kind" }, "histogram")),
      h("div", { class: "step-controls" }, "step ", this.slider, this.label),
      h("div", { class: "histogram-canvases" }, this.bars, this.heatmap));
  }

  /** entries: [{step, bins: edges, counts}] in step order. */
  update(entries) {
    this.entries = entries.filter((e) => Array.isArray(e.bins) && Array.isArray(e.counts) && e.bins.length === e.counts.length + 1);
    const last = this.entries.length - 1;
    this.slider.max = String(Math.max(0, last));
    if (this.following || this.index > last || this.index < 0) this.index = last;
    this.slider.value = String(this.index);
    this.draw();
  }

  draw() {
    const entry = this.entries[this.index];
    this.label.textContent = entry ? `${entry.step} (${this.index + 1} of ${this.entries.length})` : "";
    this.element.dataset.step = entry ? String(entry.step) : "";
    this.#drawBars(entry);
    this.#drawHeatmap();
  }

  #drawBars(entry) {
    const ctx = sizedCanvas(this.bars, W, H);
    ctx.clearRect(0, 0, W, H);
    if (!entry) return;
    const { bins, counts } = entry;
    const x0 = bins[0], x1 = bins[bins.length - 1] === x0 ? x0 + 1 : bins[bins.length - 1];
    const top = Math.max(1, ...counts);
    const px = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
    const py = (c) => H - M.bottom - (c / top) * (H - M.top - M.bottom);
    ctx.fillStyle = "#3b82f6";
    counts.forEach((c, i) => {
      const a = px(bins[i]), b = px(bins[i + 1]);
      ctx.fillRect(a, py(c), Math.max(1, b - a - 0.5), H - M.bottom - py(c));
    });
    axes(ctx, x0, x1, 0, top, px, py);
  }

  #drawHeatmap() {
    const ctx = sizedCanvas(this.heatmap, W, H);
    ctx.clearRect(0, 0, W, H);
    const entries = this.entries;
    if (!entries.length) return;
    let lo = Infinity, hi = -Infinity;
    for (const e of entries) {
      lo = Math.min(lo, e.bins[0]);
      hi = Math.max(hi, e.bins[e.bins.length - 1]);
    }
    if (!(hi > lo)) hi = lo + 1;
    const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
    const colW = plotW / entries.length, rowH = plotH / ROWS;
    entries.forEach((e, col) => {
      // Spread each bin's count over the heatmap rows it overlaps.
      const rows = new Float64Array(ROWS);
      e.counts.forEach((c, i) => {
        const a = ((e.bins[i] - lo) / (hi - lo)) * ROWS, b = ((e.bins[i + 1] - lo) / (hi - lo)) * ROWS;
        const width = Math.max(b - a, 1e-9);
        for (let r = Math.max(0, Math.floor(a)); r < Math.min(ROWS, Math.ceil(b)); r++) {
          rows[r] += (c * (Math.min(b, r + 1) - Math.max(a, r))) / width;
        }
      });
      const top = Math.max(...rows) || 1;
      rows.forEach((v, r) => {
        const [red, green, blue] = rampColour(v / top);
        ctx.fillStyle = `rgb(${red}, ${green}, ${blue})`;
        ctx.fillRect(M.left + col * colW, H - M.bottom - (r + 1) * rowH, Math.ceil(colW), Math.ceil(rowH));
      });
    });
    if (this.index >= 0) {
      ctx.strokeStyle = "#f97316";
      ctx.lineWidth = 2;
      ctx.strokeRect(M.left + this.index * colW, M.top, Math.max(2, colW), plotH);
    }
    const first = entries[0].step, last = entries[entries.length - 1].step;
    const px = (s) => M.left + ((s - first) / (last - first || 1)) * (plotW - colW) + colW / 2;
    const py = (v) => H - M.bottom - ((v - lo) / (hi - lo)) * plotH;
    axes(ctx, first, last, lo, hi, px, py, true);
  }

  #pick(event) {
    const rect = this.heatmap.getBoundingClientRect();
    const x = event.clientX - rect.left - M.left;
    const col = Math.floor((x / (W - M.left - M.right)) * this.entries.length);
    if (col < 0 || col >= this.entries.length) return;
    this.index = col;
    this.following = col === this.entries.length - 1;
    this.slider.value = String(col);
    this.draw();
  }
}

function axes(ctx, x0, x1, y0, y1, px, py, stepsOnX = false) {
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of ticks(x0, x1, 4)) {
    if (stepsOnX && !Number.isInteger(t)) continue;
    ctx.fillText(stepsOnX ? String(t) : formatNumber(t), px(t), H - M.bottom + 5);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of ticks(y0, y1, 3)) ctx.fillText(formatNumber(t), M.left - 5, py(t));
}
