// The sandboxed frame's side of drawing a logged Plotly figure: the run page
// posts {figure} (the stored JSON); this draws it with plotly.js and answers
// {drawn, traces} or {error}.  It draws only in an opaque origin (the page's
// sandboxed frame): opened any other way, or framed without the sandbox,
// it draws nothing, so a figure can never run in the viewer's own origin.
"use strict";

(function () {
  const sandboxed = window.origin === "null";
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data || typeof event.data !== "object") return;
    const reply = (body) => window.parent.postMessage({ darkroomPlotly: true, ...body }, "*");
    if (!sandboxed) { reply({ error: "refused: this frame draws figures only when sandboxed" }); return; }
    const figure = event.data.figure;
    if (!figure || !Array.isArray(figure.data)) { reply({ error: "not a Plotly figure: no data list" }); return; }
    const layout = Object.assign({ autosize: true }, figure.layout || {});
    // A figure's own links and images stay inside the frame: no network is allowed anyway.
    window.Plotly.newPlot("figure", figure.data, layout, { responsive: true, displaylogo: false })
      .then(() => reply({ drawn: true, traces: figure.data.length }),
            (error) => reply({ error: String(error && error.message || error) }));
  });
  window.parent.postMessage({ darkroomPlotly: true, loaded: true, sandboxed }, "*");
}());
