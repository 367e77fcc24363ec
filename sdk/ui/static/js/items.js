// One media item as the page shows it: a <figure> holding the media for its
// kind (or its error, or a placeholder while it converts), its caption and its
// measurements.  The 3-D and table views are imported when first needed, so
// a page of images loads only what images need.

import { h, formatNumber, formatDuration } from "./dom.js";
import { ImageView } from "./image_view.js";

/**
 * Render `item` (a media item from /media or a table cell).
 * Returns {element, ready: Promise, dispose()}; `ready` settles once the media is drawn.
 * `context`: {project, run, overlay (OverlayState), maxSize}.
 */
export function renderItem(item, context) {
  const status = item.status || "pending";
  const figure = h("figure", {
    class: `item item-${status}`,
    dataset: { kind: item.kind || "", status, step: item.step ?? "", index: item.index ?? 0, key: item.key ?? "" },
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
    const render = RENDERERS[item.kind] || renderDownload;
    view = render(item, context);
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

function captionOf(item) {
  const meta = measurements(item);
  const warnings = item.warnings || [];
  if (!item.caption && !meta && warnings.length === 0) return null;
  return h("figcaption", {},
    item.caption ? h("span", { class: "caption" }, item.caption) : null,
    meta ? h("span", { class: "meta" }, meta) : null,
    warnings.length ? h("span", { class: "warnings", title: warnings.join("\n") }, `⚠ ${warnings.length}`) : null);
}

function measurements(item) {
  const a = item.artifact || item.meta || {};
  const parts = [];
  switch (item.kind) {
    case "image":
      if (a.width) parts.push(`${a.width}×${a.height}`);
      break;
    case "video":
      if (a.width) parts.push(`${a.width}×${a.height}`);
      if (a.frames) parts.push(`${a.frames} frames`);
      if (a.fps) parts.push(`${formatNumber(a.fps)} fps`);
      if (a.duration !== undefined) parts.push(formatDuration(a.duration));
      if (a.format) parts.push(a.format);
      break;
    case "audio":
      if (a.sample_rate) parts.push(`${a.sample_rate.toLocaleString("en-US")} Hz`);
      if (a.channels) parts.push(a.channels === 1 ? "mono" : `${a.channels} channels`);
      if (a.duration !== undefined) parts.push(formatDuration(a.duration));
      break;
    case "molecule":
      if (a.atoms !== undefined) parts.push(`${a.atoms} atoms`);
      if (a.bonds !== undefined) parts.push(`${a.bonds} bonds`);
      if (a.format) parts.push(a.format);
      break;
    case "object3d":
      if (a.points !== undefined) parts.push(`${a.points.toLocaleString("en-US")} points`);
      if (a.vertices !== undefined) parts.push(`${a.vertices.toLocaleString("en-US")} vertices`);
      if (a.faces !== undefined) parts.push(`${a.faces.toLocaleString("en-US")} faces`);
      break;
    case "table":
      if (a.rows !== undefined) parts.push(`${a.rows} rows × ${a.columns} columns`);
      break;
    default:
      break;
  }
  return parts.join(" · ");
}

/** The URL of a related file by role, or null. */
export function relatedUrl(item, role) {
  const related = item.related || {};
  if (Array.isArray(related)) return related.find((r) => r.role === role)?.url ?? null;
  const value = related[role];
  return typeof value === "string" ? value : value?.url ?? null;
}

function renderImage(item, context) {
  const view = new ImageView(item, context.overlay, context.maxSize);
  return { element: view.element, ready: view.load(), dispose: () => view.dispose() };
}

function renderVideo(item) {
  const format = item.artifact?.format || item.meta?.format;
  if (format === "gif") {
    // A GIF is an image to the browser: it loops by itself.
    const img = h("img", { class: "video-gif", src: item.url, alt: item.caption || "video" });
    return { element: img, ready: img.decode().catch(() => {}), dispose() {} };
  }
  const video = h("video", {
    controls: true, muted: true, loop: true, playsInline: true, preload: "metadata", src: item.url,
  });
  return { element: video, ready: mediaReady(video), dispose: () => video.pause() };
}

function renderAudio(item) {
  const audio = h("audio", { controls: true, preload: "metadata", src: item.url });
  return { element: audio, ready: mediaReady(audio), dispose: () => audio.pause() };
}

function mediaReady(el) {
  return new Promise((resolve) => {
    el.addEventListener("loadedmetadata", resolve, { once: true });
    el.addEventListener("error", resolve, { once: true });
  });
}

function renderHtml(item) {
  // Logged HTML is untrusted: it runs in a sandbox with an opaque origin
  // (allow-scripts without allow-same-origin), so it can read neither this
  // page, its cookie nor the API; the server adds a CSP sandbox header too.
  const frame = h("iframe", {
    class: "html-frame", sandbox: "allow-scripts", referrerpolicy: "no-referrer",
    src: item.url, title: item.caption || "logged HTML",
  });
  const ready = new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  return { element: frame, ready, dispose() {} };
}

function renderPlot(item, context) {
  const img = h("img", { class: "plot", src: item.url, alt: item.caption || "plot" });
  const points = h("details", { class: "plot-points" }, h("summary", {}, "points behind the plot"));
  const url = relatedUrl(item, "table");
  const element = h("div", { class: "plot-view" }, img, url ? points : null);
  let table = null;
  if (url) {
    points.addEventListener("toggle", async () => {
      if (!points.open || table) return;
      const { TableView } = await import("./table_view.js");
      table = new TableView(context, { url });
      points.append(table.element);
      await table.load();
    });
  }
  return { element, ready: img.decode().catch(() => {}), dispose: () => table?.dispose() };
}

function lazyView(modulePath, className) {
  return (item, context) => {
    const holder = h("div", { class: `lazy-view ${className}` });
    let view = null;
    const ready = import(modulePath).then(async (module) => {
      view = new module[className](item, context);
      holder.append(view.element);
      await view.load();
    }).catch((error) => {
      holder.append(h("div", { class: "failed", role: "alert" }, `could not show this item: ${error.message}`));
    });
    return { element: holder, ready, dispose: () => view?.dispose?.() };
  };
}

function renderDownload(item) {
  const link = h("a", { href: item.url, download: "" }, `download ${item.kind || "file"}`);
  return { element: link, ready: Promise.resolve(), dispose() {} };
}

const RENDERERS = {
  image: renderImage,
  video: renderVideo,
  audio: renderAudio,
  html: renderHtml,
  plot: renderPlot,
  table: lazyView("./table_view.js", "TableItemView"),
  molecule: lazyView("./molecule_view.js", "MoleculeView"),
  object3d: lazyView("./object3d_view.js", "Object3DView"),
};
