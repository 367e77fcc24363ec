// Colours: one per class id (boxes, masks, point categories) and one per run
// in an overlaid chart.  Fixed, so a class keeps its colour across steps,
// images and box groups, and a test can name the colour it expects.

const CLASS_COLOURS = [
  "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
  "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
  "#808000", "#ffd8b1", "#000075", "#a9a9a9",
];

const RUN_COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d"];

/** The colour of class `id` (any integer) as "#rrggbb". */
export function classColour(id) {
  const n = CLASS_COLOURS.length;
  return CLASS_COLOURS[((Number(id) % n) + n) % n];
}

/** The colour of the i-th run in a chart. */
export function runColour(i) {
  return RUN_COLOURS[i % RUN_COLOURS.length];
}

/** "#rrggbb" -> [r, g, b]. */
export function rgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

// Point-cloud categories 1..14 (MEDIA_TYPES.md, Object3D) use the class colours.
export const categoryColour = (category) => rgb(classColour(category));

/** A value in 0..1 to a colour of a light-to-dark blue ramp (histogram heatmaps). */
export function rampColour(t) {
  const x = Math.min(1, Math.max(0, t));
  const r = Math.round(247 - x * (247 - 8));
  const g = Math.round(251 - x * (251 - 48));
  const b = Math.round(255 - x * (255 - 107));
  return [r, g, b];
}
