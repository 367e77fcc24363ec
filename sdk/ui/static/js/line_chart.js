// A line chart of one scalar key over steps, on a canvas: one line per run
// (this run first, then any overlaid runs), axes with round ticks, and on
// hover the value of every line at the nearest logged step.

import { h, sizedCanvas, formatNumber } from "./dom.js";

const MARGIN = { left: 52, right: 12, top: 10, bottom: 26 };

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** The index of the point whose step is nearest `step` (points sorted by step). */
function nearest(points, step) {
  let lo = 0, hi = points.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < step) lo = mid; else hi = mid;
  }
  return Math.abs(points[lo][0] - step) <= Math.abs(points[hi][0] - step) ? lo : hi;
}

export class LineChart {
  constructor(key, { width = 380, height = 210 } = {}) {
    this.key = key;
    this.width = width;
    this.height = height;
    this.series = [];
    this.hover = null;
    this.canvas = h("canvas", { class: "chart-canvas" });
    this.tooltip = h("div", { class: "chart-tooltip", hidden: true });
    this.element = h("figure", { class: "chart", dataset: { key } },
      h("figcaption", {}, key),
      h("div", { class: "chart-area" }, this.canvas, this.tooltip));
    this.canvas.addEventListener("mousemove", (e) => this.#onHover(e));
    this.canvas.addEventListener("mouseleave", () => { this.hover = null; this.tooltip.hidden = true; this.draw(); });
  }

  /** series: [{label, colour, points: [[step, value or null], ...]}] */
  setSeries(series) {
    this.series = series.map((s) => ({ ...s, points: s.points.filter((p) => p[1] !== null && Number.isFinite(p[1])) }));
    this.draw();
    // A run overlaid (or new values polled) under a resting pointer shows in the tooltip at once.
    if (this.hover !== null) this.#showValues(this.hover);
  }

  #extent() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of this.series) {
      for (const [x, y] of s.points) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    if (!Number.isFinite(x0)) return null;
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
    const pad = (y1 - y0) * 0.05;
    return { x0, x1, y0: y0 - pad, y1: y1 + pad };
  }

  draw() {
    const ctx = sizedCanvas(this.canvas, this.width, this.height);
    const { width: w, height: hgt } = this;
    ctx.clearRect(0, 0, w, hgt);
    const extent = this.#extent();
    if (!extent) {
      ctx.fillStyle = "#888";
      ctx.fillText("no values", w / 2 - 24, hgt / 2);
      return;
    }
    this.extent = extent;
    const px = (x) => MARGIN.left + ((x - extent.x0) / (extent.x1 - extent.x0)) * (w - MARGIN.left - MARGIN.right);
    const py = (y) => hgt - MARGIN.bottom - ((y - extent.y0) / (extent.y1 - extent.y0)) * (hgt - MARGIN.top - MARGIN.bottom);
    this.px = px;
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#e5e7eb";
    ctx.fillStyle = "#6b7280";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of ticks(extent.y0, extent.y1, 4)) {
      const y = Math.round(py(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(MARGIN.left, y); ctx.lineTo(w - MARGIN.right, y); ctx.stroke();
      ctx.fillText(formatNumber(t), MARGIN.left - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of ticks(extent.x0, extent.x1, 5).filter(Number.isInteger)) {
      ctx.fillText(String(t), px(t), hgt - MARGIN.bottom + 6);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(MARGIN.left, MARGIN.top, w - MARGIN.left - MARGIN.right, hgt - MARGIN.top - MARGIN.bottom);
    ctx.clip();
    ctx.lineWidth = 1.5;
    // Overlaid runs first, this run (series 0) on top.
    for (const s of [...this.series].reverse()) {
      ctx.strokeStyle = s.colour;
      ctx.beginPath();
      s.points.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
      ctx.stroke();
      if (s.points.length === 1) {
        ctx.fillStyle = s.colour;
        ctx.beginPath(); ctx.arc(px(s.points[0][0]), py(s.points[0][1]), 2.5, 0, 2 * Math.PI); ctx.fill();
      }
    }
    if (this.hover !== null) {
      const x = px(this.hover);
      ctx.strokeStyle = "#9ca3af";
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, hgt - MARGIN.bottom); ctx.stroke();
      for (const s of this.series) {
        const i = nearest(s.points, this.hover);
        if (i < 0) continue;
        ctx.fillStyle = s.colour;
        ctx.beginPath(); ctx.arc(px(s.points[i][0]), py(s.points[i][1]), 3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    ctx.restore();
  }

  #onHover(event) {
    if (!this.extent) return;
    const rect = this.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const { x0, x1 } = this.extent;
    const step = x0 + ((x - MARGIN.left) / (this.width - MARGIN.left - MARGIN.right)) * (x1 - x0);
    const main = this.series[0]?.points || [];
    const i = nearest(main.length ? main : this.series.find((s) => s.points.length)?.points || [], step);
    if (i < 0) return;
    const snapped = (main.length ? main : this.series.find((s) => s.points.length).points)[i][0];
    this.hover = snapped;
    this.draw();
    this.#showValues(snapped);
  }

  /** The tooltip: the value of every line at the logged step nearest `snapped`. */
  #showValues(snapped) {
    const lines = this.series.map((s) => {
      const j = nearest(s.points, snapped);
      if (j < 0) return null;
      const [stepAt, value] = s.points[j];
      return h("div", {}, h("span", { class: "swatch", style: { background: s.colour } }),
        `${s.label}: ${formatNumber(value)}${stepAt !== snapped ? ` (step ${stepAt})` : ""}`);
    });
    this.tooltip.replaceChildren(h("div", { class: "tooltip-step" }, `step ${snapped}`), ...lines.filter(Boolean));
    this.tooltip.hidden = false;
    const left = Math.min(this.px(snapped) + 10, this.width - 150);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${MARGIN.top}px`;
  }
}
