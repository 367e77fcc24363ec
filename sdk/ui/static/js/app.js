// The viewer's entry point: a hash router (#/, #/project/<p>, #/run/<p>/<r>,
// #/compare?runs=<p>/<r>,...),
// so a run's page has a URL one can bookmark or send, and the server serves
// one page for all of them.  Only the router and the API client load before
// the first request: a run's JSON is asked for while the rest of the page's
// modules are still arriving (index.html preloads them in parallel).

import { h, replaceChildren } from "./dom.js";
import { api } from "./api.js";

const root = document.getElementById("app");
let current = null;
let generation = 0;

async function route() {
  current?.dispose();
  current = null;
  const mine = ++generation;
  const [where, search = ""] = window.location.hash.split("?");
  const parts = where.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  let page;
  if (parts[0] === "compare" && parts.length === 1) {
    document.title = "compare · darkroom";
    // The runs' JSON and both modules at once: the page's first paint waits for all of them.
    const params = new URLSearchParams(search);
    const first = (params.get("runs") || "").split(",").map((path) => {
      const [project, run] = path.split("/");
      const asked = project && run ? api.run(project, run) : null;
      asked?.catch(() => {});  // ComparePage reports a failure
      return asked;
    });
    const [{ ComparePage }] = await Promise.all([import("./compare_page.js"), import("./compare_panel.js")]);
    page = new ComparePage(root, params, first);
  } else if (parts[0] === "run" && parts.length === 3) {
    document.title = `${parts[1]}/${parts[2]} · darkroom`;
    const first = api.run(parts[1], parts[2]);
    first.catch(() => {});  // RunPage reports a failure; no unhandled rejection meanwhile
    const { RunPage } = await import("./run_page.js");
    page = new RunPage(root, parts[1], parts[2], first, new URLSearchParams(search));
  } else if ((parts[0] === "project" && parts.length === 2) || parts.length === 0) {
    document.title = parts.length ? `${parts[1]} · darkroom` : "darkroom";
    const { RunsList } = await import("./runs_list.js");
    page = new RunsList(root, parts[1] || "");
  } else {
    replaceChildren(root, h("p", {}, `no page at #${window.location.hash.slice(1)} · `, h("a", { href: "#/" }, "all runs")));
    return;
  }
  if (mine !== generation) return;  // the hash changed again while modules loaded
  current = page;
  window.scrollTo(0, 0);
  current.start();
}

window.addEventListener("hashchange", route);
route();
