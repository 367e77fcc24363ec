// The viewer's only way to the server: the JSON routes of `darkroom ui` and
// the file URLs they hand out.  No secret ever goes into a URL: logged HTML
// runs in a frame whose own address it can read and send anywhere.  The
// server sets an HttpOnly cookie when the page is first opened with ?token=,
// and that cookie authenticates every <img>, <video>, <audio> and <iframe>
// file URL; the page's own fetches also send the token as a header.

const TOKEN_KEY = "darkroom-token";

function pageToken() {
  const fromUrl = new URLSearchParams(window.location.search).get("token");
  try {
    if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl || sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return fromUrl;  // storage disabled: the URL's token (and the cookie) still work
  }
}

const token = pageToken();

/** Headers of the page's own requests: the token, when the page was given one. */
function authHeaders(headers = {}) {
  return token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
}

export class ApiError extends Error {
  constructor(status, message, url) {
    super(message);
    this.status = status;
    this.url = url;
  }
}

const enc = encodeURIComponent;

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** GET a JSON route; throws ApiError with the server's message on a non-2xx answer. */
export async function getJSON(path, params, { signal } = {}) {
  const url = path + query(params);
  const response = await fetch(url, { signal, headers: authHeaders({ Accept: "application/json" }), cache: "no-store" });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = body.error?.message || body.error || body.detail || body.message || message;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(response.status, String(message), url);
  }
  return response.json();
}

export const runBase = (project, run) => `/api/runs/${enc(project)}/${enc(run)}`;

export const api = {
  /** The media kinds and how the page shows each (pipeline/kinds.py), in panel order. */
  kinds: (opts) => getJSON("/api/kinds", null, opts),
  runs: (project, opts) => getJSON("/api/runs", { project }, opts),
  run: (project, run, opts) => getJSON(runBase(project, run), null, opts),
  /** One step's items of one key: the page never asks for a whole run's media. */
  media: (project, run, key, step, opts) => getJSON(`${runBase(project, run)}/media`, { key, step }, opts),
  table: (project, run, key, step, index, opts) =>
    getJSON(`${runBase(project, run)}/table`, { key, step, index }, opts),
  /** Several (key, step) pairs' items at once: `pairs` [[key, step], ...]; answers in order, each
   * {key, step, items} or {key, step, error}. */
  mediaMany: (project, run, pairs, opts) => {
    const search = new URLSearchParams();
    for (const [key, step] of pairs) {
      search.append("key", key);
      search.append("step", String(step));
    }
    return getJSON(`${runBase(project, run)}/media/many?${search}`, null, opts);
  },
  /** One page of a table item, sorted and filtered by the server; `filters` are "column:op:value" texts. */
  tablePage: (project, run, { key, step, index, offset, limit, sort, descending, filters }, opts) => {
    const search = new URLSearchParams({ key, step, index: index ?? 0, offset, limit });
    if (sort !== null && sort !== undefined) {
      search.set("sort", String(sort));
      search.set("order", descending ? "desc" : "asc");
    }
    for (const f of filters || []) search.append("filter", f);
    return getJSON(`${runBase(project, run)}/table/page?${search}`, null, opts);
  },
  /** A file URL the JSON gave us (artifact, related, table cell), fetched as JSON or bytes. */
  fileJSON: async (url, opts) => (await fetchFile(url, opts)).json(),
  fileBytes: async (url, opts) => (await fetchFile(url, opts)).arrayBuffer(),
};

async function fetchFile(url, { signal } = {}) {
  const response = await fetch(url, { signal, headers: authHeaders() });
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`, url);
  return response;
}
