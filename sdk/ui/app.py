"""The viewer's ASGI app (Starlette): the page, its static files, and a JSON API over `darkroom.Api`.

Routes (JSON unless said otherwise; errors are ``{"error": "..."}`` with 400 or 404):

    GET /                                         the page (static/index.html)
    GET /static/{path}                            the page's files
    GET /api/kinds                                the media kinds and how the page shows each (pipeline/kinds.py)
    GET /api/runs?project=P                       runs, newest first, with state and counts
    GET /api/runs/{project}/{run}                 info, config, summary, scalar/histogram series, media keys
    GET /api/runs/{project}/{run}/media?key=&step=           one step's items of a key, with file URLs
    GET /api/runs/{project}/{run}/media/many?key=&step=&key=&step=...   several (key, step) pairs' items at once
    GET /api/runs/{project}/{run}/file?key=&step=&index=&role=   the bytes (HTTP ranges)
    GET /api/runs/{project}/{run}/table?key=&step=&index=    a table (or a plot's points) with media cells
    GET /api/runs/{project}/{run}/table/page?key=&step=&index=&offset=&limit=&sort=&order=&filter=
                                                  one page of a table, sorted and filtered on the server

Every route reads through one `darkroom.Api`; files are found through their
item's manifest, so no request names a storage path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from darkroom._api import Api
from darkroom.pipeline import kinds as media_kinds
from darkroom.pipeline.errors import DarkroomError, InvalidInput, NotFound, StorageUnavailable
from darkroom.pipeline.reader import RunReader
from darkroom.pipeline.table_store import Filter
from darkroom.ui import run_json
from darkroom.ui.auth import TokenGate
from darkroom.ui.files import file_response

STATIC = Path(__file__).resolve().parent / "static"
# ES modules need a JavaScript type; Python's mimetypes varies by version and by /etc/mime.types.
_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8", ".json": "application/json",
    ".svg": "image/svg+xml", ".png": "image/png", ".wasm": "application/wasm", ".map": "application/json",
}
MAX_FILTERS = 16
MAX_PAIRS = 64  # (key, step) pairs in one /media/many request
WHOLE_TABLE_ROWS = 10_000  # /table sends a whole table up to this; bigger ones are read by the page
_API_HEADERS = {"Cache-Control": "no-store"}  # live: a poll must see new steps and items
# The page loads nothing from elsewhere (no CDN) and runs no inline script, so
# the browser can hold it to that: a caption or key rendered by mistake as
# markup cannot run, and no other site can frame the viewer.  Logged HTML
# lives in frames of this origin's file URLs, sandboxed by their own header.
PAGE_HEADERS = {
    "Content-Security-Policy": "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "media-src 'self' blob:", "connect-src 'self'", "worker-src 'self' blob:",
        "frame-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ]),
    "Referrer-Policy": "no-referrer",  # the token in the page's URL goes nowhere
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def make_app(storage_url: str | None = None, token: str | None = None,
             crashed_after_s: float = run_json.CRASHED_AFTER_S, api: Api | None = None) -> Starlette:
    """The viewer over the storage at `storage_url` (default: as `darkroom.Api`).

    Parameters
    ----------
    token: required on every request when given (see `darkroom.ui.auth`); without
        one, only requests to a loopback Host name are answered.
    crashed_after_s: a running run silent this long is shown as crashed (`run_json.CRASHED_AFTER_S`).
    api: an `Api` to read through instead of opening `storage_url`.

    Raises
    ------
    ValueError: a token that cannot be one (`darkroom.ui.auth.check_token`).
    ConfigError: an unknown storage scheme.
    """
    api = api or Api(storage_url)

    def index(request: Request) -> Response:
        page = STATIC / "index.html"
        if not page.is_file():
            raise NotFound("the viewer's page is not installed (darkroom/ui/static/index.html is missing)")
        return FileResponse(page, media_type=_STATIC_TYPES[".html"], headers=PAGE_HEADERS)

    def kinds(request: Request) -> Response:
        return _json({"kinds": media_kinds.viewer_table()})

    def runs(request: Request) -> Response:
        project = request.query_params.get("project") or None
        if project is not None:
            _check_name("project", project)
        return _json({"runs": run_json.runs_list(api, project, crashed_after_s)})

    def run(request: Request) -> Response:
        return _json(run_json.run_detail(_reader(api, request), crashed_after_s))

    def media(request: Request) -> Response:
        reader = _reader(api, request)
        key, step = _param(request, "key"), _int(request, "step")
        return _json(run_json.step_media(reader, key, step))

    def media_many(request: Request) -> Response:
        reader = _reader(api, request)
        keys, steps = request.query_params.getlist("key"), request.query_params.getlist("step")
        if not keys or len(keys) != len(steps) or len(keys) > MAX_PAIRS:
            raise InvalidInput("invalid_parameter", f"{len(keys)} key and {len(steps)} step parameters; accepted: "
                               f"1 to {MAX_PAIRS} pairs, key=K&step=S each")
        for step in steps:
            if not step.isdigit() or len(step) > 12:
                raise InvalidInput("invalid_parameter", f"step={step!r:.40}; accepted: a whole number >= 0")
        return _json({"answers": run_json.many_steps_media(reader, list(zip(keys, map(int, steps))))})

    def file(request: Request) -> Response:
        reader = _reader(api, request)
        manifest = _manifest(reader, request)
        role = request.query_params.get("role") or None
        if role is not None and not any(f.get("role") == role for f in manifest.get("related", [])):
            roles = ", ".join(f["role"] for f in manifest.get("related", [])) or "none"
            raise NotFound(f"{manifest['key']!r} step {manifest['step']} has no file with role {role!r}; "
                           f"roles: {roles}")
        return file_response(reader, manifest, role, request.headers.get("range"),
                             request.headers.get("if-none-match"), head=request.method == "HEAD")

    def table(request: Request) -> Response:
        reader = _reader(api, request)
        manifest = _manifest(reader, request)
        if manifest["kind"] == "plot":  # a plot's points: its related table
            return _json(run_json.json_safe(json.loads(reader.read(manifest, "table"))))
        if manifest["kind"] != "table":
            raise InvalidInput("not_a_table", f"{manifest['key']!r} step {manifest['step']} is a "
                               f"{manifest['kind']}, not a table or plot")
        if int(manifest["artifact"].get("rows", 0)) > WHOLE_TABLE_ROWS:
            raise InvalidInput("too_large", f"{manifest['key']!r} step {manifest['step']} has "
                               f"{manifest['artifact']['rows']} rows; this route sends at most {WHOLE_TABLE_ROWS}: "
                               "ask /table/page for a page")
        return _json(run_json.table_json(reader, manifest))

    def table_page(request: Request) -> Response:
        reader = _reader(api, request)
        manifest = _manifest(reader, request)
        if manifest["kind"] != "table":
            raise InvalidInput("not_a_table", f"{manifest['key']!r} step {manifest['step']} is a "
                               f"{manifest['kind']}, not a table")
        order = request.query_params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise InvalidInput("invalid_parameter", f"order={order!r:.40}; accepted: asc or desc")
        sort = _int(request, "sort") if request.query_params.get("sort") not in (None, "") else None
        filters = [Filter.parse(text) for text in request.query_params.getlist("filter")]
        if len(filters) > MAX_FILTERS:
            raise InvalidInput("invalid_parameter", f"{len(filters)} filters; accepted: at most {MAX_FILTERS}")
        return _json(run_json.table_page(reader, manifest, _int(request, "offset", 0), _int(request, "limit", 25),
                                         sort, order == "desc", filters))

    run_path = "/api/runs/{project}/{run}"
    routes = [
        Route("/", index),
        Route("/favicon.ico", lambda request: Response(status_code=204)),  # browsers ask; nothing to show
        Mount("/static", app=_StaticFiles(directory=STATIC, check_dir=False), name="static"),
        Route("/api/kinds", kinds),
        Route("/api/runs", runs),
        Route(run_path, run),
        Route(run_path + "/media", media),
        Route(run_path + "/media/many", media_many),
        Route(run_path + "/file", file),
        Route(run_path + "/table", table),
        Route(run_path + "/table/page", table_page),
    ]
    handlers = {HTTPException: _http_error, DarkroomError: _darkroom_error, Exception: _internal_error}
    return Starlette(routes=routes, middleware=[Middleware(TokenGate, token=token)],
                     exception_handlers=handlers)  # type: ignore[arg-type]


class _StaticFiles(StaticFiles):
    """The page's files with the types ES modules need, revalidated on every load (no stale page)."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Any, status_code: int = 200) -> Response:
        from starlette.datastructures import Headers

        media_type = _STATIC_TYPES.get(Path(full_path).suffix.lower())
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result,
                                media_type=media_type, headers={"Cache-Control": "no-cache",
                                                                "X-Content-Type-Options": "nosniff"})
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


# -- request parameters ----------------------------------------------------------------------


def _reader(api: Api, request: Request) -> RunReader:
    project = _check_name("project", request.path_params["project"])
    run = _check_name("run", request.path_params["run"])
    return api.reader(f"{project}/{run}")


def _check_name(what: str, name: str) -> str:
    from darkroom.pipeline import paths

    try:
        return paths.check_name(what, name)
    except InvalidInput:
        # A name that cannot exist (``..``, a slash, a control character) is simply not there.
        raise NotFound(f"no {what} {name!r}") from None


def _manifest(reader: RunReader, request: Request) -> dict[str, Any]:
    key, step, index = _param(request, "key"), _int(request, "step"), _int(request, "index", 0)
    manifest = reader.manifest(step, key, index)
    if manifest is None:
        raise NotFound(f"run {reader.path} has no converted item {key!r} step {step} index {index} "
                       "(never logged, or not converted yet)")
    if manifest["status"] != "ok" or not manifest.get("artifact"):
        error = (manifest.get("error") or {}).get("message", manifest["status"])
        raise NotFound(f"{key!r} step {step} index {index} failed: {error}")
    return manifest


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None or value == "":
        raise InvalidInput("missing_parameter", f"query parameter {name!r} is required")
    return value


def _int(request: Request, name: str, default: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit() or len(text) > 12:
        raise InvalidInput("invalid_parameter", f"query parameter {name}={text!r}; accepted: a whole number >= 0")
    return int(text)


# -- responses ---------------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=_API_HEADERS)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail)
    return JSONResponse({"error": f"{message}: {request.url.path}"}, status_code=exc.status_code,
                        headers={**(exc.headers or {}), **_API_HEADERS})


async def _darkroom_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, StorageUnavailable):
        status = 503
    elif isinstance(exc, InvalidInput):
        status = 404 if exc.code in ("no_artifact", "unsafe_key") else 400
    else:
        status = 500
    return _json({"error": str(exc)}, status)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # The server's log has the traceback (uvicorn prints it); the page gets one line.
    return _json({"error": f"internal error: {type(exc).__name__}: {exc}"[:500]}, 500)
