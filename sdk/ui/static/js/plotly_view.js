// Plotly items: the stored figure JSON, drawn by the plotly.js shipped with
// the viewer (static/vendor/plotly) inside a sandboxed frame, as logged HTML
// is: an opaque origin (allow-scripts without allow-same-origin), so the
// figure can read neither this page, its cookie nor the API.  The page fetches
// the JSON and posts it in; the frame answers once it has drawn.

import { h } from "./dom.js";
import { api } from "./api.js";

const FRAME = new URL("../plotly_frame.html", import.meta.url).href;

export function render(item, context) {
  const frame = h("iframe", {
    class: "plotly-frame", sandbox: "allow-scripts", referrerpolicy: "no-referrer", src: FRAME,
    title: item.caption || "Plotly figure", style: { width: "min(720px, 90vw)", height: "420px", border: "1px solid #ddd" },
  });
  const element = h("div", { class: "plotly-view" }, frame);
  const controller = new AbortController();
  let onMessage = null;
  const ready = new Promise((resolve, reject) => {
    const figure = api.fileJSON(item.url, { signal: controller.signal });
    figure.catch(reject);
    onMessage = (event) => {
      if (event.source !== frame.contentWindow || !event.data?.darkroomPlotly) return;
      if (event.data.loaded) {
        figure.then((body) => frame.contentWindow.postMessage({ figure: body }, "*"));
      } else if (event.data.drawn) {
        element.dataset.traces = String(event.data.traces);
        resolve();
      } else if (event.data.error) {
        reject(new Error(event.data.error));
      }
    };
    window.addEventListener("message", onMessage);
  });
  return { element, ready, dispose() { controller.abort(); window.removeEventListener("message", onMessage); } };
}
