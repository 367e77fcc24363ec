// What the media views share: the kinds the server serves (pipeline/kinds.py,
// through /api/kinds), each kind's renderer module, the measurements shown
// under an item, and helpers over an item as sdk/ui/run_json.py sends it.
// It imports no view, so every view may import it.

import { api } from "./api.js";
import { formatNumber, formatDuration } from "./dom.js";

let kindList = null;  // [{kind, panel_order, renderer, measurements}], once loaded
let kindsLoading = null;

/** The kinds in panel order (fetched once; a failed fetch is tried again next time). */
export function loadKinds() {
  kindsLoading ??= api.kinds().then((body) => { kindList = body.kinds; return kindList; }, (error) => {
    kindsLoading = null;
    throw error;
  });
  return kindsLoading;
}

/** A kind's row as the server sent it, or null (before `loadKinds` settles, or an unknown kind). */
export function kindInfo(kind) {
  return kindList?.find((k) => k.kind === kind) ?? null;
}

const renderers = new Map();  // kind -> its module's render(item, context), once loaded
const loadingRenderers = new Map();  // kind -> Promise of the same

/** Load `kind`'s renderer module (named by the server's table); resolves to its render function. */
export function loadRenderer(kind) {
  if (!loadingRenderers.has(kind)) {
    const loading = loadKinds().then(() => {
      const info = kindInfo(kind);
      if (!info) throw new Error(`this viewer knows no kind ${JSON.stringify(kind)}`);
      // Only a module of this page, by its file name: never a path or another origin.
      if (!/^[a-z0-9_]+\.js$/.test(info.renderer)) throw new Error(`renderer ${info.renderer} is not a page module`);
      return import(`./${info.renderer}`);
    }).then((module) => {
      renderers.set(kind, module.render);
      return module.render;
    });
    loading.catch(() => loadingRenderers.delete(kind));
    loadingRenderers.set(kind, loading);
  }
  return loadingRenderers.get(kind);
}

/** The render function of `kind` if its module is loaded already, else null. */
export function loadedRenderer(kind) {
  return renderers.get(kind) ?? null;
}

/** Load the renderers of these items' kinds, so they draw at once; never rejects. */
export function loadRenderers(items) {
  const kinds = new Set(items.map((item) => item.kind));
  return Promise.all([...kinds].map((kind) => loadRenderer(kind).catch(() => null)));
}

// How a measurement placeholder ({field:format}) is shown; pipeline/kinds.py's
// Viewer.measurements names these.
const FORMATS = {
  number: (value) => formatNumber(value),
  grouped: (value) => value.toLocaleString("en-US"),
  duration: (value) => formatDuration(value),
  channels: (value) => (value === 1 ? "mono" : `${value} channels`),
};

/** The item's measurements as its kind's row lists them ("96×96 · 16 frames"), or "". */
export function measurementText(item) {
  const artifact = item.artifact || {};
  const parts = [];
  for (const text of kindInfo(item.kind)?.measurements || []) {
    let complete = true;
    const part = text.replace(/\{(\w+)(?::(\w+))?\}/g, (_, field, format) => {
      const value = artifact[field];
      if (value === undefined || value === null || value === "") {
        complete = false;
        return "";
      }
      return format ? FORMATS[format](value) : String(value);
    });
    if (complete) parts.push(part);
  }
  return parts.join(" · ");
}

/** The URL of an item's related file by role (``related`` is {role: url}), or null. */
export function relatedUrl(item, role) {
  return item.related?.[role] ?? null;
}

/** Settles once a <video> or <audio> knows its metadata (or cannot load). */
export function mediaReady(el) {
  return new Promise((resolve) => {
    el.addEventListener("loadedmetadata", resolve, { once: true });
    el.addEventListener("error", resolve, { once: true });
  });
}
