"""The viewer's ES modules: their import graph has no cycle, and none reaches a view through items.js."""

from __future__ import annotations

import re
from pathlib import Path

import darkroom.ui

STATIC_JS = Path(darkroom.ui.__file__).resolve().parent / "static" / "js"
# Every module path written in a module: its static imports, and the paths it
# imports later (`import("./x.js")`, or handed to a function that does).
_IMPORT = re.compile(r"""["']\./(\w+\.js)["']""")


def imports() -> dict[str, set[str]]:
    return {path.name: set(_IMPORT.findall(path.read_text())) for path in STATIC_JS.glob("*.js")}


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for nxt in graph.get(name, ()):
            if nxt == start:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_every_import_names_a_module_of_the_page():
    graph = imports()
    assert "media_item.js" in graph and "items.js" in graph
    missing = {(name, target) for name, targets in graph.items() for target in targets if target not in graph}
    assert missing == set()


def test_the_viewers_modules_import_each_other_without_a_cycle():
    graph = imports()
    cycles = [c for c in (cycle_from(graph, name) for name in sorted(graph)) if c]
    assert cycles == [], " ; ".join(" -> ".join(c) for c in cycles)


def test_items_js_names_no_renderer_and_the_renderers_share_media_item_js():
    from darkroom.pipeline.kinds import TABLE

    graph = imports()
    renderers = {spec.viewer.renderer for spec in TABLE}
    assert graph["items.js"] == {"dom.js", "media_item.js"}  # renderers come by name, from /api/kinds
    assert {r for r in renderers if "items.js" in graph[r]} == {"table_view.js"}  # a table's cells are items
    assert not graph["media_item.js"] & renderers
