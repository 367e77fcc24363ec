// Html items: logged HTML is untrusted.  It runs in a sandbox with an opaque
// origin (allow-scripts without allow-same-origin), so it can read neither
// this page, its cookie nor the API; the server's CSP for the file adds the
// sandbox too and forbids every network request.  Its URL carries no token
// (the cookie authenticates it): the frame can read its own address.

import { h } from "./dom.js";

export function render(item, context) {
  const frame = h("iframe", {
    class: "html-frame", sandbox: "allow-scripts", referrerpolicy: "no-referrer",
    src: item.url, title: item.caption || "logged HTML",
  });
  const ready = new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  return { element: frame, ready, dispose() {} };
}
