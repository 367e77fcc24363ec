// One image at full resolution, over the page: one canvas pixel per image
// pixel (more for a small image, so it can be seen), its overlays as its
// panel shows them (the same toggles, which still work), zoom and pan of its
// own, and its metadata: where it was logged, its file, its boxes and masks.
// Escape, the close button or a click outside closes it.

import { h, formatNumber, formatTime } from "./dom.js";
import { ImageView } from "./image_view.js";
import { OverlayControls } from "./overlays.js";
import { Zoom } from "./zoom.js";

/** Rows of the metadata table of `item` (a media item) logged in `run` (a label). */
function metadata(item, run) {
  const a = item.artifact || {};
  const boxes = Object.entries(item.boxes || {}).map(([name, g]) => `${name}: ${(g.box_data || []).length}`);
  return [
    ["run", run], ["key", item.key], ["step", item.step], ["index", item.index],
    ["caption", item.caption], ["size", a.width && a.height ? `${a.width} × ${a.height}` : null],
    ["format", a.format], ["bytes", a.bytes === undefined ? null : formatNumber(a.bytes)], ["sha256", a.sha256],
    ["boxes", boxes.join(", ") || null], ["masks", Object.keys(item.masks || {}).join(", ") || null],
    ["converter", item.converter ? `${item.converter.name} ${item.converter.version}` : null],
    ["converted", item.created_at ? formatTime(item.created_at) : null],
    ["warnings", (item.warnings || []).join("; ") || null],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
}

/** Open `item` at full resolution; `overlay` is its panel's OverlayState.  Returns {element, ready, close}. */
export function openFullView(item, overlay, run) {
  const a = item.artifact || {};
  const side = Math.max(a.width || 0, a.height || 0) || 4096;
  const view = new ImageView(item, overlay, Math.max(side, 256));  // whole pixels: never shrunk
  const zoom = new Zoom();
  const viewport = zoom.wrap(view.element);
  viewport.classList.add("full-viewport");
  zoom.addEventListener("change", () => zoom.applyTo(dialog));
  const controls = new OverlayControls(overlay);
  const close = () => {
    document.removeEventListener("keydown", onKey, true);
    view.dispose();
    dialog.remove();
  };
  const onKey = (e) => { if (e.key === "Escape") { e.stopPropagation(); close(); } };
  const dialog = h("div", { class: "full-view", role: "dialog", "aria-label": `${item.key} step ${item.step} at full resolution`,
    onclick: (e) => { if (e.target === dialog) close(); } },
  h("div", { class: "full-view-box" },
    h("header", { class: "panel-header" }, h("h3", {}, `${item.key} · step ${item.step}`),
      h("span", { class: "muted" }, run), h("button", { type: "button", class: "full-close", onclick: close }, "close ✕")),
    controls.element,
    h("div", { class: "full-view-body" }, viewport,
      h("table", { class: "kv-table full-meta" }, h("tbody", {}, metadata(item, run).map(([k, v]) =>
        h("tr", { dataset: { field: k } }, h("th", {}, k), h("td", {}, String(v)))))))));
  document.addEventListener("keydown", onKey, true);
  document.body.append(dialog);
  zoom.applyTo(dialog);
  return { element: dialog, ready: view.load(), close };
}
