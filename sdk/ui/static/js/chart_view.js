// Custom charts (W&B's plot.line, scatter, bar, histogram, line_series and
// plot_table presets): the table the worker stored, drawn on a canvas from the
// spec in the manifest (`item.chart`: type, fields, title).  A legend names
// each line (or point colour); on hover the tooltip gives the values under
// the pointer.  No chart library: the same canvas code as the run's charts.

import { h, sizedCanvas, formatNumber } from "./dom.js";
import { api } from "./api.js";
import { ticks } from "./line_chart.js";
import { runColour } from "./palette.js";

const W = 420, H = 240;
const M = { left: 52, right: 12, top: 10, bottom: 40 };
const HISTOGRAM_BINS = 20;  // as W&B's histogram preset
const MAX_BARS = 200;  // bars beyond these are summarised in the legend, not drawn unreadably thin
const CUSTOM_ROWS = 50;  // rows of a custom spec's table shown (its data is stored whole)

/** A chart of a Vega spec of the user's own: no Vega runtime here, so its spec name and its data. */
function customTable(table, spec) {
  const rows = (table.data || []).slice(0, CUSTOM_ROWS);
  const more = (table.data || []).length - rows.length;
  return h("div", { class: "custom-chart-table" },
    h("p", { class: "muted" }, `Vega spec ${spec.vega_spec_name || "(custom)"}: darkroom draws W&B's preset charts; its data:`),
    h("table", { class: "data-table" },
      h("thead", {}, h("tr", {}, ...table.columns.map((c) => h("th", {}, c)))),
      h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((cell) => h("td", {}, cell === null ? "" : formatNumber(cell))))))),
    more > 0 ? h("p", { class: "muted" }, `${more} more rows`) : null);
}

/** The chart's marks from its table and spec: {series: [{label, colour, points: [[x, y, text]]}], kind}. */
export function marks(table, spec) {
  const col = (field) => table.columns.indexOf(spec.fields[field]);
  const rows = table.data || [];
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  if (spec.type === "line" || spec.type === "scatter" || spec.type === "line_series") {
    const [xi, yi, si] = spec.type === "line_series" ? [col("step"), col("lineVal"), col("lineKey")]
      : [col("x"), col("y"), spec.fields.stroke ? col("stroke") : -1];
    const groups = new Map();
    for (const row of rows) {
      const x = num(row[xi]), y = num(row[yi]);
      if (x === null || y === null) continue;
      const key = si >= 0 ? String(row[si]) : spec.fields.y || "value";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push([x, y]);
    }
    const series = [...groups].map(([label, points], i) => ({
      label, colour: runColour(i), points: spec.type === "scatter" ? points : points.sort((a, b) => a[0] - b[0]),
    }));
    return { kind: spec.type === "scatter" ? "points" : "lines", series };
  }
  if (spec.type === "bar") {
    const li = col("label"), vi = col("value");
    const points = rows.filter((r) => num(r[vi]) !== null).slice(0, MAX_BARS)
      .map((r, i) => [i, r[vi], String(r[li])]);
    return { kind: "bars", series: [{ label: spec.fields.value, colour: runColour(0), points }], hidden: rows.length - points.length };
  }
  const values = rows.map((r) => num(r[col("value")])).filter((v) => v !== null);
  const lo = Math.min(...values), hi = Math.max(...values);
  const width = hi > lo ? (hi - lo) / HISTOGRAM_BINS : 1;
  const counts = new Array(values.length ? HISTOGRAM_BINS : 0).fill(0);
  for (const v of values) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((v - lo) / width))] += 1;
  const points = counts.map((c, i) => [lo + i * width, c, `${formatNumber(lo + i * width)} – ${formatNumber(lo + (i + 1) * width)}`]);
  return { kind: "bins", series: [{ label: spec.fields.value, colour: runColour(0), points, width }] };
}

function extent(m) {
  const all = m.series.flatMap((s) => s.points);
  if (!all.length) return null;
  let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(0, ...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
  if (m.kind === "lines" || m.kind === "points") y0 = Math.min(...all.map((p) => p[1]));
  if (m.kind === "bars") { x0 = -0.5; x1 = all.length - 0.5; }
  if (m.kind === "bins") x1 += m.series[0].width;
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
  return { x0, x1, y0, y1: y1 + (y1 - y0) * 0.05 };
}

class ChartCanvas {
  constructor(spec, m) {
    this.spec = spec;
    this.m = m;
    this.box = extent(m);
    this.canvas = h("canvas", { class: "chart-canvas" });
    this.tooltip = h("div", { class: "chart-tooltip", hidden: true });
    this.canvas.addEventListener("mousemove", (e) => this.hoverAt(e.offsetX, e.offsetY));
    this.canvas.addEventListener("mouseleave", () => { this.tooltip.hidden = true; this.draw(null); });
  }

  px(x) { return M.left + ((x - this.box.x0) / (this.box.x1 - this.box.x0)) * (W - M.left - M.right); }
  py(y) { return H - M.bottom - ((y - this.box.y0) / (this.box.y1 - this.box.y0)) * (H - M.top - M.bottom); }

  draw(hit) {
    const ctx = sizedCanvas(this.canvas, W, H);
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif";
    if (!this.box) { ctx.fillStyle = "#888"; ctx.fillText("no values", W / 2 - 24, H / 2); return; }
    ctx.strokeStyle = "#e5e7eb"; ctx.fillStyle = "#6b7280"; ctx.lineWidth = 1;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of ticks(this.box.y0, this.box.y1, 4)) {
      const y = Math.round(this.py(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(M.left, y); ctx.lineTo(W - M.right, y); ctx.stroke();
      ctx.fillText(formatNumber(t), M.left - 6, y);
    }
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    if (this.m.kind !== "bars") {
      for (const t of ticks(this.box.x0, this.box.x1, 5)) ctx.fillText(formatNumber(t), this.px(t), H - M.bottom + 6);
    }
    const xname = this.spec.string_fields?.["x-axis-title"] || this.spec.string_fields?.xname || this.spec.fields.x || this.spec.fields.step || this.spec.fields.value || "";
    ctx.fillText(xname, (M.left + W - M.right) / 2, H - 14);
    for (const s of this.m.series) {
      ctx.strokeStyle = ctx.fillStyle = s.colour;
      ctx.lineWidth = 1.5;
      if (this.m.kind === "lines") {
        ctx.beginPath();
        s.points.forEach(([x, y], i) => (i ? ctx.lineTo(this.px(x), this.py(y)) : ctx.moveTo(this.px(x), this.py(y))));
        ctx.stroke();
      } else if (this.m.kind === "points") {
        for (const [x, y] of s.points) { ctx.beginPath(); ctx.arc(this.px(x), this.py(y), 2.5, 0, 2 * Math.PI); ctx.fill(); }
      } else {
        const wide = this.m.kind === "bins" ? s.width : 0.8;
        for (const [x, y] of s.points) {
          const left = this.m.kind === "bins" ? x : x - wide / 2;
          ctx.fillRect(this.px(left) + 0.5, this.py(y), Math.max(1, this.px(left + wide) - this.px(left) - 1), this.py(this.box.y0 < 0 ? 0 : this.box.y0) - this.py(y));
        }
      }
    }
    if (hit) {
      ctx.fillStyle = "#111";
      ctx.beginPath(); ctx.arc(this.px(hit.point[0]), this.py(hit.point[1]), 3.5, 0, 2 * Math.PI); ctx.fill();
    }
  }

  /** The mark nearest the pointer at canvas position (cx, cy): {series, point}, or null. */
  nearest(cx, cy) {
    let best = null, bestD = Infinity;
    const byX = this.m.kind !== "points";  // lines, bars and bins: the nearest x; points: the nearest in the plane
    for (const series of this.m.series) {
      for (const point of series.points) {
        const centre = this.m.kind === "bins" ? point[0] + series.width / 2 : point[0];
        const dx = this.px(centre) - cx, dy = this.py(point[1]) - cy;
        const d = byX ? Math.abs(dx) + Math.abs(dy) * 1e-3 : dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = { series, point }; }
      }
    }
    return best;
  }

  hoverAt(cx, cy) {
    if (!this.box) return null;
    const hit = this.nearest(cx, cy);
    this.draw(hit);
    if (!hit) return null;
    const { fields } = this.spec;
    const [x, y, text] = hit.point;
    const lines = this.m.kind === "bars" ? [`${fields.label} ${text}`, `${fields.value}: ${formatNumber(y)}`]
      : this.m.kind === "bins" ? [`${fields.value} ${text}`, `count: ${y}`]
      : [`${fields.x || fields.step}: ${formatNumber(x)}`, `${fields.y || fields.lineVal}: ${formatNumber(y)}`];
    const label = this.m.series.length > 1 ? h("div", {}, h("span", { class: "swatch", style: { background: hit.series.colour } }), hit.series.label) : null;
    this.tooltip.replaceChildren(...[label, ...lines.map((t) => h("div", {}, t))].filter(Boolean));
    this.tooltip.hidden = false;
    this.tooltip.style.left = `${Math.max(0, Math.min(cx + 10, W - 160))}px`;
    this.tooltip.style.top = `${M.top}px`;
    return lines;
  }
}

export function render(item, context) {
  const spec = item.chart || { type: "line", fields: {} };
  const title = spec.title || spec.string_fields?.title || item.key;
  const area = h("div", { class: "chart-area" });
  const legend = h("div", { class: "chart-legend", style: { display: "flex", flexWrap: "wrap", gap: "8px", fontSize: "12px" } });
  const element = h("figure", { class: "chart custom-chart", dataset: { chart: spec.type } }, h("figcaption", {}, title), area, legend);
  const controller = new AbortController();
  const ready = api.fileJSON(item.url, { signal: controller.signal }).then((table) => {
    if (spec.type === "custom") {
      area.append(customTable(table, spec));
      element.dataset.points = String((table.data || []).length);
      return;
    }
    const m = marks(table, spec);
    const chart = new ChartCanvas(spec, m);
    area.append(chart.canvas, chart.tooltip);
    chart.draw(null);
    element.chartCanvas = chart;  // for tests and the page: hoverAt(x, y) shows what a pointer there would
    const named = m.kind === "lines" || m.kind === "points" ? m.series : [];
    legend.replaceChildren(...named.map((s) => h("span", { class: "legend-entry" }, h("span", { class: "swatch", style: { background: s.colour } }), s.label)));
    if (m.hidden) legend.append(h("span", {}, `${m.hidden} more bars not drawn`));
    element.dataset.series = String(m.series.length);
    element.dataset.points = String(m.series.reduce((n, s) => n + s.points.length, 0));
  });
  return { element, ready, dispose: () => controller.abort() };
}
