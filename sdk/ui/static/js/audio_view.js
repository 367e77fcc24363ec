// Audio items: an <audio> player.

import { h } from "./dom.js";
import { mediaReady } from "./media_item.js";

export function render(item, context) {
  const audio = h("audio", { controls: true, preload: "metadata", src: item.url });
  return { element: audio, ready: mediaReady(audio), dispose: () => audio.pause() };
}
