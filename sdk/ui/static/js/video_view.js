// Video items: a looping <video>, or an <img> for a GIF (the browser loops it by itself).

import { h } from "./dom.js";
import { mediaReady } from "./media_item.js";

export function render(item, context) {
  if (item.artifact?.format === "gif") {
    const img = h("img", { class: "video-gif", src: item.url, alt: item.caption || "video" });
    return { element: img, ready: img.decode().catch(() => {}), dispose() {} };
  }
  const video = h("video", {
    controls: true, muted: true, loop: true, playsInline: true, preload: "metadata", src: item.url,
  });
  return { element: video, ready: mediaReady(video), dispose: () => video.pause() };
}
