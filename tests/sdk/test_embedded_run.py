"""Embedded runs end to end: log -> sender -> spool -> local worker processes -> storage -> Api.

No broker: storage is a folder under tmp_path and conversions run in the
run's own worker processes (DESIGN.md, Two deployments).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import darkroom
from darkroom.pipeline.errors import InvalidInput, NotFound
from waiting import wait_for


def decode(reader, manifest: dict, role: str | None = None) -> np.ndarray:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(reader.read(manifest, role))) as image:
        assert image.format == {"png": "PNG", "jpg": "JPEG"}[manifest["artifact"]["format"] if role is None else "png"]
        return np.array(image)


def files_under(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def box(min_x, max_x, min_y, max_y, class_id=1, **extra):
    return {"position": {"minX": min_x, "maxX": max_x, "minY": min_y, "maxY": max_y}, "class_id": class_id, **extra}


# -- one run with every dtype, lists, boxes and masks, and bad items among good ones --------------


def test_a_run_converts_every_item_and_each_png_decodes_to_the_expected_pixels(embedded_env):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    unit = rng.random((8, 6))
    signed = rng.uniform(-1, 1, (5, 4, 3))
    signed[0, 0, 0] = -1.0
    flags = rng.random((5, 7)) > 0.5
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    examples, masks = [], []
    for i in range(4):
        mask = np.zeros((8, 6), np.uint8)
        mask[i : i + 3, 1:4] = i + 1
        masks.append(mask)
        examples.append(darkroom.Image(
            np.full((8, 6, 3), 40 * i, np.uint8), caption=f"example {i}",
            masks={"truth": {"mask_data": mask, "class_labels": {i + 1: f"thing {i}"}}},
            boxes={"pred": {"box_data": [box(1, 4, 2, 6, class_id=i, domain="pixel", scores={"p": 0.5}),
                                         box(0.5, 1.5, 0.25, 0.75, class_id=2, box_caption="partly out")],
                            "class_labels": {0: "zero"}}},
        ))
    nan = np.zeros((4, 4))
    nan[2, 1] = np.nan
    mixed = [
        darkroom.Image(np.full((4, 4), 9, np.uint8)),
        darkroom.Image(nan),
        darkroom.Image(np.zeros((4, 4), np.uint8), masks={"m": {"mask_data": np.zeros((3, 4), np.uint8)}}),
        darkroom.Image(np.zeros((4, 4), np.uint8), boxes={"b": {"box_data": [box(1.5, 2.0, 0.1, 0.2)]}}),
    ]

    run = darkroom.init(project="e2e", config={"lr": 0.1})
    run.log({"rgb": darkroom.Image(rgb), "unit": darkroom.Image(unit), "signed": darkroom.Image(signed),
             "flags": darkroom.Image(flags), "jpeg": darkroom.Image(rgba, file_type="jpg"), "loss": 0.5})
    run.log({"examples": examples})
    run.log({"mixed": mixed}, step=2)
    report = run.finish(quiet=True)

    assert (report.converted, report.pending, report.spooled) == (5 + 4 + 1, 0, 0)
    assert not report.ok
    assert [(f.key, f.step, f.index, f.code) for f in report.failed] == [
        ("mixed", 2, 1, "non_finite"), ("mixed", 2, 2, "invalid_mask"), ("mixed", 2, 3, "invalid_boxes")]
    nan_failure, mask_failure, box_failure = report.failed
    assert "1 NaN or infinite values (first at (2, 1))" in nan_failure.message
    assert "mask 'm' is 4x3 (WxH) but the image is 4x4" in mask_failure.message
    assert "boxes['b'].box_data[0] lies entirely outside the image (4x4)" in box_failure.message
    assert str(nan_failure).startswith("'mixed' step 2 [1]: image has 1 NaN")

    reader = darkroom.Api().run(run.path)
    assert reader.info["config"] == {"lr": 0.1} and reader.info["state"] == "finished"
    rows = list(reader.scan_history())
    assert [r["_step"] for r in rows] == [0, 1, 2]
    first = rows[0]
    assert first["loss"] == 0.5
    np.testing.assert_array_equal(decode(reader, first["rgb"]), rgb)
    np.testing.assert_array_equal(decode(reader, first["unit"]), np.rint(unit * 255).astype(np.uint8))
    np.testing.assert_array_equal(decode(reader, first["signed"]), np.rint((signed + 1) * 127.5).astype(np.uint8))
    np.testing.assert_array_equal(decode(reader, first["flags"]), flags.astype(np.uint8) * 255)
    assert (first["unit"]["artifact"]["mode"], first["rgb"]["artifact"]["mode"]) == ("L", "RGB")
    assert first["jpeg"]["artifact"]["format"] == "jpg" and decode(reader, first["jpeg"]).shape == (4, 4, 3)
    assert any("alpha channel dropped" in w for w in first["jpeg"]["warnings"])

    listed = rows[1]["examples"]
    assert [m["index"] for m in listed] == [0, 1, 2, 3] and {m["status"] for m in listed} == {"ok"}
    for i, manifest in enumerate(listed):
        assert manifest["caption"] == f"example {i}"
        assert (manifest["artifact"]["width"], manifest["artifact"]["height"]) == (6, 8)
        np.testing.assert_array_equal(decode(reader, manifest), np.full((8, 6, 3), 40 * i, np.uint8))
        np.testing.assert_array_equal(decode(reader, manifest, role="mask:truth"), masks[i])
        (related,) = manifest["related"]
        assert related["role"] == "mask:truth" and related["classes_present"] == [0, i + 1]
        assert related["class_labels"] == {str(i + 1): f"thing {i}", "0": "class_0"}
        pred = manifest["boxes"]["pred"]
        pixel_box, clipped_box = pred["box_data"]
        assert pixel_box["position"] == pytest.approx({"minX": 1 / 6, "maxX": 4 / 6, "minY": 2 / 8, "maxY": 6 / 8})
        assert pixel_box["scores"] == {"p": 0.5} and pixel_box["class_id"] == i
        assert clipped_box["position"] == pytest.approx({"minX": 0.5, "maxX": 1.0, "minY": 0.25, "maxY": 0.75})
        assert any("box_data[1] was partly outside the image" in w for w in manifest["warnings"])
        assert pred["class_labels"]["0"] == "zero" and pred["class_labels"]["2"] == "class_2"

    mixed_read = rows[2]["mixed"]
    assert [m["status"] for m in mixed_read] == ["ok", "failed", "failed", "failed"]
    np.testing.assert_array_equal(decode(reader, mixed_read[0]), np.full((4, 4), 9, np.uint8))
    assert mixed_read[1]["error"]["code"] == "non_finite"
    with pytest.raises(InvalidInput, match=r"'mixed' step 2 has no artifact: image has 1 NaN"):
        reader.read(mixed_read[1])


def test_history_rows_hold_references_that_the_reader_resolves_to_manifests(embedded_env):
    run = darkroom.init(project="e2e")
    run.log({"one": darkroom.Image(np.zeros((2, 2))), "many": [darkroom.Image(np.zeros((2, 2)))] * 2})
    run.finish(quiet=True)
    (raw,) = darkroom.Api().run(run.path).scan_history(resolve=False)
    assert raw["one"] == {"_type": "media-ref", "kind": "image", "step": 0, "key": "one", "count": 1, "list": False}
    assert raw["many"]["count"] == 2 and raw["many"]["list"] is True


def history_objects(run) -> list:
    from darkroom.pipeline import paths

    return sorted(darkroom.Api().storage.list(paths.history_prefix(run.project, run.id)))


def stored_steps(run) -> list[int]:
    """The steps of the run's history rows in storage so far."""
    try:
        return [r["_step"] for r in darkroom.Api().run(run.path).scan_history()]
    except NotFound:  # run.json not stored yet
        return []


def test_rows_between_media_share_one_history_object_and_all_read_back(embedded_env):
    run = darkroom.init(project="e2e")
    for step in range(30):  # media every step: rows and requests interleave in the spool
        run.log({"loss": 1.0 / (step + 1), "img": darkroom.Image(np.full((2, 2), step, np.uint8))})
        if step in (9, 19):  # rows sent in rounds while the run goes on: the open object is rewritten
            wait_for(lambda: len(stored_steps(run)) > step, f"row {step} in the stored history")
    run.finish(quiet=True)
    assert len(history_objects(run)) == 1
    rows = list(darkroom.Api().run(run.path).scan_history())
    assert [r["_step"] for r in rows] == list(range(30))
    assert [r["loss"] for r in rows] == [1.0 / (s + 1) for s in range(30)]
    assert all(r["img"]["status"] == "ok" for r in rows)


def test_a_full_history_object_is_sealed_and_the_next_rows_start_another(embedded_env, monkeypatch):
    from darkroom import _history

    monkeypatch.setattr(_history, "CHUNK_ROWS", 40)
    run = darkroom.init(project="e2e")
    for step in range(100):
        run.log({"x": step})
    run.finish(quiet=True)
    objects = history_objects(run)
    assert [o.rsplit("/", 1)[-1] for o in objects] == ["0000000000.jsonl", "0000000040.jsonl", "0000000080.jsonl"]
    reader = darkroom.Api().run(run.path)
    assert [r["x"] for r in reader.scan_history()] == list(range(100))
    assert reader.history_row(57)["x"] == 57 and reader.history_row(100) is None


# -- timing: media of an open row, and what finish waits for ---------------------------------------


def test_media_in_an_open_row_is_converted_before_the_row_closes(embedded_env):
    run = darkroom.init(project="e2e")
    run.log({"early": darkroom.Image(np.full((3, 3), 5, np.uint8))}, step=3)  # row 3 stays open

    def early_manifest() -> dict | None:
        try:
            return darkroom.Api().run(run.path).manifest(3, "early", 0)
        except NotFound:  # not stored yet
            return None

    try:
        manifest = wait_for(early_manifest, "the open row's image to be converted while the row is open")
        reader = darkroom.Api().run(run.path)
        assert manifest["status"] == "ok", "not converted while the row was open"
        assert list(reader.scan_history()) == []  # the row itself is not written yet
    finally:
        run.log({"late": 1}, step=3, commit=True)
        run.finish(quiet=True)
    (row,) = reader.scan_history()
    assert row["_step"] == 3 and row["late"] == 1 and row["early"]["status"] == "ok"


def test_the_context_manager_form_finishes_the_run_on_exit(embedded_env):
    with darkroom.init(project="e2e") as run:
        assert darkroom.run is run
        run.log({"img": darkroom.Image(np.full((2, 2), 3, np.uint8))})
    assert darkroom.run is None
    reader = darkroom.Api().run(run.path)
    assert reader.info["state"] == "finished"
    assert reader.manifest(0, "img", 0)["status"] == "ok"


def test_the_context_manager_finishes_the_run_when_the_block_raises(embedded_env):
    with pytest.raises(KeyError):
        with darkroom.init(project="e2e") as run:
            run.log({"a": 1}, commit=False)
            raise KeyError("boom")
    reader = darkroom.Api().run(run.path)
    assert reader.info["state"] == "finished"
    assert [r["a"] for r in reader.scan_history()] == [1]


def test_the_finish_report_line_names_counts_and_failures(embedded_env, capsys):
    run = darkroom.init(project="e2e")
    run.log({"good": darkroom.Image(np.zeros((2, 2))), "bad": darkroom.Image(np.full((2, 2), np.inf))})
    report = run.finish()
    err = capsys.readouterr().err
    assert f"darkroom: run {run.path}: 1 converted, 1 failed, 0 pending -> {embedded_env['DARKROOM_STORAGE_URL']}" in err
    assert "failed: 'bad' step 0 [0]: image has 4 NaN or infinite values (first at (0, 0))" in err
    assert report.failed[0].code == "non_finite"


# -- modes -----------------------------------------------------------------------------------------------


def test_a_disabled_run_logs_nothing_and_writes_no_file(embedded_env, tmp_path, recwarn):
    run = darkroom.init(project="e2e", mode="disabled")
    run.log({"img": darkroom.Image(np.zeros((2, 2))), "loss": 1.0})
    run.log({"x": 1}, step=5)
    report = run.finish()
    assert run.dir is None
    assert (report.converted, report.failed, report.pending, report.spooled) == (0, [], 0, 0) and report.ok
    assert files_under(tmp_path / "data") == [] and files_under(tmp_path / "runs") == []
    assert [w for w in recwarn if issubclass(w.category, darkroom.DarkroomWarning)] == []


def test_an_unknown_mode_is_refused_naming_the_accepted_ones(embedded_env):
    with pytest.raises(ValueError, match=r"^mode='cloud'; accepted: online, offline, disabled$"):
        darkroom.init(project="e2e", mode="cloud")


# -- the sender's memory bound -----------------------------------------------------------------------------


def test_a_tiny_send_buffer_makes_log_wait_and_keeps_every_item(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_SEND_BUFFER_BYTES", "1")
    run = darkroom.init(project="e2e")
    with pytest.warns(darkroom.DarkroomWarning, match=r"DARKROOM_SEND_BUFFER_BYTES=1\); log\(\) waits for the sender instead of dropping data"):
        for i in range(20):
            run.log({"img": darkroom.Image(np.full((16, 16, 3), i * 10, np.uint8)), "i": i})
    report = run.finish(quiet=True)
    assert (report.converted, report.failed, report.pending) == (20, [], 0)
    reader = darkroom.Api().run(run.path)
    rows = list(reader.scan_history())
    assert [r["i"] for r in rows] == list(range(20))
    for i, row in enumerate(rows):
        assert decode(reader, row["img"])[0, 0].tolist() == [i * 10] * 3


# -- files that go wrong after construction ------------------------------------------------------------------


def test_a_file_rewritten_each_step_logs_each_version(embedded_env, tmp_path):
    from PIL import Image as PILImage

    path, run = tmp_path / "loop.png", darkroom.init(project="e2e")
    for step in range(3):  # a loop that saves its plot or sample to one file and logs it
        PILImage.new("L", (step + 1, step + 1), color=step * 50).save(path)
        run.log({"sample": darkroom.Image(path)})
    run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    assert [decode(reader, reader.manifest(step, "sample", 0)).shape for step in range(3)] == [(1, 1), (2, 2), (3, 3)]


def test_a_large_file_changed_after_log_fails_as_file_changed_naming_the_way_out(embedded_env, tmp_path, monkeypatch):
    import darkroom._media
    from PIL import Image as PILImage

    monkeypatch.setattr(darkroom._media, "EAGER_FILE_BYTES", 0)  # every file is "large": read after log()
    path = tmp_path / "big.png"
    PILImage.new("RGB", (3, 3)).save(path)
    image = darkroom.Image(path)
    PILImage.new("RGB", (5, 5)).save(path)
    run = darkroom.init(project="e2e")
    run.log({"big": image})
    (failure,) = run.finish(quiet=True).failed
    assert failure.code == "file_changed"
    assert f"file {path} changed after its media object was made" in failure.message
    assert "write each step's file under a new name, or log its bytes" in failure.message


def test_a_file_removed_after_construction_becomes_a_failed_manifest_not_an_exception(embedded_env, tmp_path,
                                                                                      monkeypatch):
    import darkroom._media
    from PIL import Image as PILImage

    monkeypatch.setattr(darkroom._media, "EAGER_FILE_BYTES", 0)  # a file too big to read when logged
    path = tmp_path / "gone.png"
    PILImage.new("RGB", (3, 3)).save(path)
    image = darkroom.Image(path)
    path.unlink()
    run = darkroom.init(project="e2e")
    run.log({"gone": image, "kept": darkroom.Image(np.zeros((2, 2)))})
    report = run.finish(quiet=True)
    (failure,) = report.failed
    assert (failure.key, failure.step, failure.index, failure.code) == ("gone", 0, 0, "missing_file")
    assert f"file {path} was removed before it could be sent" in failure.message
    assert report.converted == 1
    manifest = darkroom.Api().run(run.path).manifest(0, "gone", 0)
    assert manifest["status"] == "failed" and manifest["error"]["code"] == "missing_file"


def test_an_array_over_the_payload_bound_fails_before_it_is_serialised(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_MAX_PAYLOAD_BYTES", "1000")
    run = darkroom.init(project="e2e")
    run.log({"big": darkroom.Image(np.zeros((100, 100, 3), np.uint8)), "small": darkroom.Image(np.zeros((4, 4)))})
    report = run.finish(quiet=True)
    (failure,) = report.failed
    assert (failure.key, failure.code) == ("big", "too_large") and report.converted == 1
    assert "array of 30000 bytes exceeds the bound of 1000 (DARKROOM_MAX_PAYLOAD_BYTES)" in failure.message


def test_a_text_file_named_png_becomes_a_failed_manifest_not_an_exception(embedded_env, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels")
    run = darkroom.init(project="e2e")
    run.log({"notes": [darkroom.Image(path), darkroom.Image(np.zeros((2, 2)))]})
    report = run.finish(quiet=True)
    (failure,) = report.failed
    assert (failure.key, failure.index, failure.code) == ("notes", 0, "unreadable_file")
    assert "is not an image Pillow can read (20 bytes, starts b'these ar')" in failure.message
    assert report.converted == 1


# -- many items under one key ----------------------------------------------------------------------------------


def test_more_than_fifty_images_under_one_key_warn_and_are_all_kept(embedded_env):
    run = darkroom.init(project="e2e")
    with pytest.warns(darkroom.DarkroomWarning, match=r"51 images under key 'many' at step 0; all are kept"):
        run.log({"many": [darkroom.Image(np.full((1, 1), i, np.uint8)) for i in range(51)]})
    report = run.finish(quiet=True)
    assert (report.converted, report.failed) == (51, [])


def test_items_beyond_the_configured_bound_are_refused_naming_the_setting(embedded_env, monkeypatch):
    monkeypatch.setenv("DARKROOM_MAX_ITEMS_PER_KEY", "3")
    run = darkroom.init(project="e2e")
    with pytest.warns(darkroom.DarkroomWarning, match=r"key 'many' at step 0 not logged: 4 items under one key; the bound is 3 \(DARKROOM_MAX_ITEMS_PER_KEY\)"):
        run.log({"many": [darkroom.Image(np.zeros((1, 1)))] * 4, "ok": 1})
    report = run.finish(quiet=True)
    assert (report.converted, report.pending) == (0, 0)
    assert [r["ok"] for r in darkroom.Api().run(run.path).scan_history()] == [1]
