// One media item as the page shows it: a <figure> holding the media for its
// kind (or its error, or a placeholder while it converts), its caption and its
// measurements.  Each kind's renderer is the module pipeline/kinds.py names
// (served at /api/kinds, loaded by media_item.js when a kind is first shown),
// so a page of images loads only what images need, and a new kind needs no
// change here.

import { h } from "./dom.js";
import { loadRenderer, loadedRenderer, measurementText } from "./media_item.js";

/**
 * Render `item` (a media item from /media or a table cell).
 * Returns {element, ready: Promise, dispose()}; `ready` settles once the media is drawn.
 * `context`: {project, run, overlay (OverlayState), maxSize}.
 * Draws at once when the kind's renderer is loaded (`loadRenderers`), else once it is.
 */
export function renderItem(item, context) {
  const status = item.status;
  const figure = h("figure", {
    class: `item item-${status}`,
    dataset: { kind: item.kind, status, step: item.step, index: item.index, key: item.key },
  });
  let view = { element: null, ready: Promise.resolve(), dispose() {} };
  if (status === "failed") {
    const error = item.error || {};
    view.element = h("div", { class: "failed", role: "alert" },
      h("strong", {}, `failed${error.code ? ` (${error.code})` : ""}: `),
      error.message || "conversion failed (no message)");
  } else if (status !== "ok" || !item.url) {
    view.element = h("div", { class: "pending", role: "status" }, "converting…");
  } else {
    const render = loadedRenderer(item.kind);
    view = render ? render(item, context) : whenLoaded(item, context);
  }
  figure.append(view.element);
  const caption = captionOf(item);
  if (caption) figure.append(caption);
  // A file that does not load (deleted, a dropped connection) shows why where
  // the media would be; it never becomes an unhandled rejection.
  const ready = view.ready.then(() => { figure.dataset.ready = "1"; }, (error) => {
    figure.dataset.status = "unloadable";
    view.element?.replaceWith(h("div", { class: "failed", role: "alert" }, `could not show this item: ${error.message}`));
  });
  return { element: figure, ready, dispose: () => view.dispose() };
}

/** A holder that the kind's renderer fills once its module has loaded. */
function whenLoaded(item, context) {
  const holder = h("div", { class: "lazy-view" });
  let view = null;
  const ready = loadRenderer(item.kind).then(async (render) => {
    view = render(item, context);
    holder.append(view.element);
    await view.ready;
  });
  return { element: holder, ready, dispose: () => view?.dispose() };
}

function captionOf(item) {
  const meta = measurementText(item);
  const warnings = item.warnings || [];
  if (!item.caption && !meta && warnings.length === 0) return null;
  return h("figcaption", {},
    item.caption ? h("span", { class: "caption" }, item.caption) : null,
    meta ? h("span", { class: "meta" }, meta) : null,
    warnings.length ? h("span", { class: "warnings", title: warnings.join("\n") }, `⚠ ${warnings.length}`) : null);
}
