"""darkroom.pipeline.kinds: the one table of media kinds, and every kind list that derives from it."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

import darkroom.ui
from darkroom._cli import main
from darkroom.pipeline import kinds
from darkroom.pipeline.messages import KINDS, ConvertRequest
from darkroom.pipeline.queue import QUEUES, make_celery, queue_for
from darkroom.pipeline.reprocess import chunks
from darkroom.pipeline.settings import Settings
from darkroom.workers.converters import converter_for

STATIC_JS = Path(darkroom.ui.__file__).resolve().parent / "static" / "js"


def test_the_messages_kinds_are_the_tables_rows_in_order():
    assert KINDS == tuple(spec.name for spec in kinds.TABLE)
    enum = ConvertRequest.model_json_schema(by_alias=True)["properties"]["kind"]["enum"]
    assert enum == list(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_converter_module_exposing_its_converter_with_the_tables_options_model(kind):
    spec = kinds.spec(kind)
    module = importlib.import_module(spec.converter)
    assert module.CONVERTER is converter_for(kind)
    assert module.CONVERTER.name == kind
    assert module.CONVERTER.options_model is getattr(module, spec.options_model)
    assert module.CONVERTER.options_model.__name__ == spec.options_model


def test_every_queue_of_the_table_is_declared_by_make_celery_and_nothing_else_is():
    app = make_celery(Settings(broker_url="redis://127.0.0.1:1/0"))
    declared = {q.name for q in app.conf.task_queues}
    assert declared == {spec.queue for spec in kinds.TABLE} == set(QUEUES)
    assert all(queue_for(spec.name) == spec.queue for spec in kinds.TABLE)


def test_an_unknown_kind_names_the_kinds():
    with pytest.raises(KeyError, match="kind 'gizmo' is not a kind; kinds: image, video, audio, table, html, "
                                       "molecule, object3d, plot, chart, plotly"):
        queue_for("gizmo")


def test_reprocess_chunks_each_kind_by_the_tables_chunk_size():
    from darkroom.pipeline.messages import Item, Source

    source = Source(uri="s3://b/raw/x", sha256="0" * 64, bytes=1, media_type="application/x-npy", ext="npy")
    for spec in kinds.TABLE:
        requests = [ConvertRequest(project="p", run="r", step=s, key="k", kind=spec.name,
                                   items=[Item(index=0, source=source)]) for s in range(spec.chunk_items + 1)]
        assert [len(c) for c in chunks(requests)] == [spec.chunk_items, 1]


def test_the_clis_kind_choices_and_worker_queues_are_the_tables():
    reprocess = main.get_command(None, "reprocess")
    kind = next(p for p in reprocess.params if p.name == "kind")
    assert tuple(kind.type.choices) == KINDS
    worker = main.get_command(None, "worker")
    queues = next(p for p in worker.params if p.name == "queues")
    assert {f"darkroom.{q}" for q in queues.default.split(",")} == set(QUEUES)
    result = CliRunner().invoke(main, ["reprocess", "vision", "--kind", "gizmo"])
    assert result.exit_code == 2 and "'gizmo' is not one of 'image', 'video'" in result.output


def test_the_viewer_reads_the_table_from_the_api_in_panel_order(tmp_path):
    from darkroom.ui.app import make_app

    client = TestClient(make_app(f"file://{tmp_path}"), base_url="http://127.0.0.1:8765")
    response = client.get("/api/kinds")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    served = response.json()["kinds"]
    assert [k["kind"] for k in served] == ["image", "video", "audio", "plot", "table", "molecule", "object3d",
                                           "html", "chart", "plotly"]
    assert {k["kind"]: (k["renderer"], k["measurements"]) for k in served} == {
        s.name: (s.viewer.renderer, list(s.viewer.measurements)) for s in kinds.TABLE}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kinds_viewer_renderer_is_a_module_of_the_page_that_exports_render(kind):
    renderer = STATIC_JS / kinds.spec(kind).viewer.renderer
    assert renderer.is_file(), renderer
    assert re.search(r"^export function render\(item, context\)", renderer.read_text(), re.M)


def test_every_measurement_placeholder_names_a_format_the_viewer_knows():
    formats = set(re.findall(r'^\s+(\w+): ', _between(STATIC_JS / "media_item.js", "const FORMATS = {", "};"),
                             re.M))
    for spec in kinds.TABLE:
        for text in spec.viewer.measurements:
            for _, fmt in re.findall(r"\{(\w+)(?::(\w+))?\}", text):
                assert fmt == "" or fmt in formats, (spec.name, text)


def _between(path: Path, start: str, end: str) -> str:
    text = path.read_text()
    i = text.index(start)
    return text[i:text.index(end, i)]
