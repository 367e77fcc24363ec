"""The write-ahead spool: entries on disk until delivered, payloads until no entry needs them."""

from __future__ import annotations

import json

from darkroom._spool import Spool


def entry(name: str, *payloads: str) -> dict:
    return {"type": "convert", "request": {"key": name}, "payloads": [{"name": p, "media_type": "x"} for p in payloads]}


def files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_entries_come_back_in_order_with_their_sequence_numbers(tmp_path):
    spool = Spool(tmp_path / "spool")
    seqs = [spool.append(entry(f"k{i}"), {}) for i in range(3)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert [(e["seq"], e["request"]["key"]) for e in spool.pending()] == list(zip(seqs, ["k0", "k1", "k2"]))
    assert len(spool) == 3


def test_entries_and_payloads_survive_reopening_the_spool(tmp_path):
    spool = Spool(tmp_path / "spool")
    first = spool.append(entry("a", "p1.npy"), {"p1.npy": b"one"})
    second = spool.append({"type": "history", "row": {"_step": 0, "x": 1}}, {})
    del spool

    again = Spool(tmp_path / "spool")
    assert [e["seq"] for e in again.pending()] == [first, second]
    assert again.pending()[1]["row"] == {"_step": 0, "x": 1}
    assert again.payload("p1.npy") == b"one"


def test_sequence_numbers_after_reopening_never_reuse_a_pending_one(tmp_path):
    spool = Spool(tmp_path / "spool")
    old = [spool.append(entry(f"k{i}"), {}) for i in range(3)]
    spool.done(old[0])
    again = Spool(tmp_path / "spool")
    new = again.append(entry("new"), {})
    assert new > max(old)
    assert [e["request"]["key"] for e in Spool(tmp_path / "spool").pending()] == ["k1", "k2", "new"]


def test_done_removes_the_entry_file_and_its_payload(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    seq = spool.append(entry("a", "p1.npy"), {"p1.npy": b"one"})
    assert files(root) == {f"{seq:012d}.json", "payloads/p1.npy"}
    spool.done(seq)
    assert files(root) == set() and len(spool) == 0
    assert Spool(root).pending() == []


def test_a_payload_named_by_another_pending_entry_is_kept_until_that_one_is_done(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    a = spool.append(entry("a", "shared.npy", "only-a.npy"), {"shared.npy": b"s", "only-a.npy": b"a"})
    b = spool.append(entry("b", "shared.npy"), {"shared.npy": b"s"})
    spool.done(a)
    assert files(root) == {f"{b:012d}.json", "payloads/shared.npy"}
    spool.done(b)
    assert files(root) == set()


def test_payload_references_are_counted_again_after_reopening(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    a = spool.append(entry("a", "shared.npy"), {"shared.npy": b"s"})
    b = spool.append(entry("b", "shared.npy"), {"shared.npy": b"s"})
    again = Spool(root)
    again.done(a)
    assert (root / "payloads" / "shared.npy").read_bytes() == b"s"
    again.done(b)
    assert not (root / "payloads" / "shared.npy").exists()


def test_done_twice_or_for_an_unknown_sequence_number_changes_nothing(tmp_path):
    spool = Spool(tmp_path / "spool")
    keep = spool.append(entry("keep", "p.npy"), {"p.npy": b"p"})
    gone = spool.append(entry("gone"), {})
    spool.done(gone)
    spool.done(gone)
    spool.done(12345)
    assert [e["seq"] for e in spool.pending()] == [keep]
    assert spool.payload("p.npy") == b"p"


def test_a_torn_or_garbage_entry_file_is_ignored_and_the_others_are_read(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    good = spool.append(entry("good"), {})
    (root / f"{good + 1:012d}.json").write_text('{"type": "convert", "request": {"ke')  # torn
    (root / f"{good + 2:012d}.json").write_bytes(b"\x00\xff garbage")
    (root / f"{good + 3:012d}.json").write_text("null")  # valid JSON, but no entry
    (root / f"{good + 4:012d}.json").write_text("[1, 2]")
    (root / ".tmp-abc123").write_text("{}")  # an atomic write that never got its name
    again = Spool(root)
    assert [e["request"]["key"] for e in again.pending()] == ["good"]
    assert again.append(entry("next"), {}) > good


def test_an_entry_is_written_atomically_as_json_naming_its_payloads(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    seq = spool.append(entry("a", "p.npy"), {"p.npy": b"data"})
    on_disk = json.loads((root / f"{seq:012d}.json").read_text())
    assert on_disk == {**entry("a", "p.npy"), "seq": seq}
    assert not list(root.glob(".tmp-*"))


def test_a_stray_json_file_that_is_not_named_by_a_sequence_number_is_ignored(tmp_path):
    root = tmp_path / "spool"
    spool = Spool(root)
    good = spool.append(entry("good"), {})
    (root / "notes.json").write_text('{"type": "convert"}')
    (root / f"{good + 1:012d}.json").write_text('{"no": "type"}')
    assert [e["seq"] for e in Spool(root).pending()] == [good]
