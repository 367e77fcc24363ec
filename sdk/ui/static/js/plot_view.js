// Plot items: the picture the worker drew, and the points behind it as a
// table (related role "table"), loaded when first opened.

import { h } from "./dom.js";
import { relatedUrl } from "./media_item.js";

export function render(item, context) {
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
