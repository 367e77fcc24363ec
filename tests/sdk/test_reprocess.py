"""`darkroom reprocess` with the embedded default: plan, convert here, new revisions, idempotence."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image as PILImage

import darkroom
from darkroom._cli import main
from darkroom.pipeline import paths


def cli(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def reprocess_json(*args: str) -> dict[str, Any]:
    return json.loads(cli("reprocess", *args, "--json").output)


@pytest.fixture
def run(embedded_env: dict[str, str]) -> Any:
    """3 steps of one image under "img" and one under "other", converted."""
    r = darkroom.init(project="vision")
    for step in range(3):
        r.log({"img": darkroom.Image(np.full((6, 8, 3), 40 * step, np.uint8), caption=f"s{step}"),
               "other": darkroom.Image(np.full((4, 4), step, np.uint8))})
    report = r.finish(quiet=True)
    assert report.converted == 6
    return r


def newest(run: Any, key: str) -> list[dict[str, Any]]:
    return darkroom.Api().run(run.path).manifests(key=key)


def test_new_options_make_revision_2_and_revision_1_stays_readable(run: Any) -> None:
    out = reprocess_json("vision", "--key", "img", "--set", "file_type=jpg")
    assert out["plan"]["items"] == 3 and out["plan"]["kinds"] == {"image": 3}
    assert out["outcome"] == {"converted": 3, "failed": 0, "not_sent": 0}
    reader = darkroom.Api().run(run.path)
    for m in newest(run, "img"):
        assert (m["revision"], m["artifact"]["format"], m["batch"]) == (2, "jpg", out["plan"]["batch"])
        assert m["caption"] == f"s{m['step']}"
        pixels = np.asarray(PILImage.open(io.BytesIO(reader.read(m))))
        assert pixels.shape == (6, 8, 3) and abs(int(pixels.mean()) - 40 * m["step"]) <= 2
    revisions = reader.revisions(1, "img", 0)
    assert [(r["revision"], r["artifact"]["format"]) for r in revisions] == [(1, "png"), (2, "jpg")]
    # The other key was not touched.
    assert [m["revision"] for m in newest(run, "other")] == [1, 1, 1]


def test_the_same_reprocess_again_sends_nothing_and_adds_no_revision(run: Any) -> None:
    reprocess_json("vision/" + run.id, "--set", "file_type=jpg")
    again = reprocess_json("vision/" + run.id, "--set", "file_type=jpg")
    assert again["plan"]["items"] == 0 and again["plan"]["unchanged"] == 6 and "sent" not in again
    assert {m["revision"] for m in newest(run, "img") + newest(run, "other")} == {2}
    assert len(darkroom.Api().run(run.path).revisions(0, "img", 0)) == 2
    # --force converts them again: a third revision.
    forced = reprocess_json("vision", "--key", "img", "--set", "file_type=jpg", "--force")
    assert forced["plan"]["items"] == 3
    assert [m["revision"] for m in newest(run, "img")] == [3, 3, 3]


def test_a_dry_run_prints_the_plan_and_writes_nothing(run: Any, embedded_env: dict[str, str]) -> None:
    root = Path(embedded_env["DARKROOM_STORAGE_URL"].removeprefix("file://"))
    before = sorted(p for p in root.rglob("*") if p.is_file())
    out = cli("reprocess", "vision", "--steps", "1:", "--set", "file_type=jpg", "--dry-run").output
    assert "4 item(s) to convert (image 4) -- dry run, nothing sent" in out
    assert sorted(p for p in root.rglob("*") if p.is_file()) == before


def test_steps_key_and_kind_select_items(run: Any) -> None:
    plan = reprocess_json("vision", "--key", "o*", "--steps", "1:2", "--kind", "image", "--set",
                          "normalize=false", "--dry-run")["plan"]
    assert plan["items"] == 1 and list(plan["runs"].values()) == [1]
    assert reprocess_json("vision", "--kind", "video", "--dry-run")["plan"]["items"] == 0


def test_options_a_converter_refuses_stop_everything_and_name_the_option(run: Any) -> None:
    result = cli("reprocess", "vision", "--set", "file_type=tiff", ok=False)
    assert result.exit_code != 0
    assert "image converter refuses" in result.output and "file_type" in result.output
    assert newest(run, "img")[0]["revision"] == 1
    result = cli("reprocess", "vision", "--set", "fps", ok=False)
    assert "is not OPTION=VALUE" in result.output
    result = cli("reprocess", "nothing-here", ok=False)
    assert "no run matches 'nothing-here'" in result.output


def test_status_failed_retries_only_failed_items_and_skips_what_would_fail_the_same(embedded_env, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not a png")
    r = darkroom.init(project="retry")
    r.log({"img": darkroom.Image(np.zeros((4, 4), np.uint8)), "bad": darkroom.Image(str(bad))})
    assert len(r.finish(quiet=True).failed) == 1
    plan = reprocess_json("retry", "--status", "failed")["plan"]
    # Same converter version, same options: it would fail the same way.
    assert (plan["items"], plan["unchanged"]) == (0, 1)
    forced = reprocess_json("retry", "--status", "failed", "--force")
    assert forced["plan"]["items"] == 1 and forced["outcome"]["failed"] == 1
    (m,) = newest(r, "bad")
    assert (m["revision"], m["status"], m["batch"]) == (2, "failed", forced["plan"]["batch"])
    assert newest(r, "img")[0]["revision"] == 1


def test_an_item_whose_raw_payload_was_purged_is_reported_and_the_rest_converts(run: Any,
                                                                                  embedded_env) -> None:
    storage = darkroom.Api().storage
    gone = newest(run, "img")[1]["source"]["uri"]
    storage.delete(storage.key_of(gone))
    out = reprocess_json("vision", "--key", "img", "--set", "file_type=jpg")
    (lost,) = out["plan"]["unbuildable"]
    assert (lost["step"], lost["key"], lost["index"]) == (1, "img", 0)
    assert "is no longer in storage" in lost["reason"] and gone in lost["reason"]
    assert out["outcome"]["converted"] == 2
    assert [m["revision"] for m in newest(run, "img")] == [2, 1, 2]


def test_status_shows_the_batch_with_its_counts(run: Any) -> None:
    batch = reprocess_json("vision", "--set", "file_type=jpg")["plan"]["batch"]
    status = json.loads(cli("status", "vision", "--json").output)
    (r,) = status["runs"]
    (b,) = r["batches"]
    assert b["batch"] == batch
    assert {k: b[k] for k in ("items", "converted", "failed", "pending", "superseded")} == {
        "items": 6, "converted": 6, "failed": 0, "pending": 0, "superseded": 0}
    # A later batch over the same items supersedes it.
    reprocess_json("vision", "--key", "img", "--set", "file_type=png", "--set", "normalize=false")
    (r,) = json.loads(cli("status", "vision", "--json").output)["runs"]
    first = next(b for b in r["batches"] if b["batch"] == batch)
    assert (first["converted"], first["superseded"]) == (3, 3)


def test_a_video_is_re_encoded_as_webm_at_8_fps(embedded_env: dict[str, str]) -> None:
    import av

    frames = np.random.default_rng(0).integers(0, 255, (6, 3, 32, 32), dtype=np.uint8)
    r = darkroom.init(project="clips")
    r.log({"clip": darkroom.Video(frames, fps=4)})
    assert r.finish(quiet=True).converted == 1
    out = reprocess_json("clips", "--kind", "video", "--set", "format=webm", "--set", "fps=8")
    assert out["outcome"]["converted"] == 1
    reader = darkroom.Api().run(r.path)
    (m,) = reader.manifests(key="clip")
    assert (m["revision"], m["artifact"]["format"]) == (2, "webm")
    with av.open(io.BytesIO(reader.read(m))) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert decoded == 6 and float(stream.average_rate or stream.guessed_rate) == 8.0


def test_items_logged_before_the_index_existed_are_listed(run: Any) -> None:
    """A run whose index is removed (as one written by an older darkroom) still plans from its manifests."""
    storage = darkroom.Api().storage
    for key in list(storage.list(paths.index_prefix("vision", run.id))):
        storage.delete(key)
    assert reprocess_json("vision", "--set", "file_type=jpg", "--dry-run")["plan"]["items"] == 6
