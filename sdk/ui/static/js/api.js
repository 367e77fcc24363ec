// The viewer's only way to the server: the JSON routes of `darkroom ui` and
// the file URLs they hand out.  A token given in the page's URL (?token=...)
// rides along on every request, as a query parameter, because <img>, <video>
// and <iframe> cannot send headers; the server also sets a cookie from it.

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

/** `url` with the page's token added (relative URLs stay relative to this origin). */
export function withToken(url) {
  if (!url || !token) return url;
  const parsed = new URL(url, window.location.href);
  if (parsed.origin !== window.location.origin) return url;  // never hand the token elsewhere
  if (!parsed.searchParams.has("token")) parsed.searchParams.set("token", token);
  return parsed.pathname + parsed.search + parsed.hash;
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
  const url = withToken(path + query(params));
  const response = await fetch(url, { signal, headers: { Accept: "application/json" }, cache: "no-store" });
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
  runs: (project, opts) => getJSON("/api/runs", { project }, opts),
  run: (project, run, opts) => getJSON(runBase(project, run), null, opts),
  /** One step's items of one key: the page never asks for a whole run's media. */
  media: (project, run, key, step, opts) => getJSON(`${runBase(project, run)}/media`, { key, step }, opts),
  table: (project, run, key, step, index, opts) =>
    getJSON(`${runBase(project, run)}/table`, { key, step, index }, opts),
  /** A file URL the JSON gave us (artifact, related, table cell), fetched as JSON or bytes. */
  fileJSON: async (url, opts) => (await fetchFile(url, opts)).json(),
  fileBytes: async (url, opts) => (await fetchFile(url, opts)).arrayBuffer(),
};

async function fetchFile(url, { signal } = {}) {
  const response = await fetch(withToken(url), { signal });
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`, url);
  return response;
}
