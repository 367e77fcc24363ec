"""Tests of darkroom.pipeline.paths: the storage layout and the encoding of user names into it."""

from __future__ import annotations

import pytest

from darkroom.pipeline import paths
from darkroom.pipeline.errors import InvalidInput, UnsafeKey

SHA = "ab" * 32


def _assert_one_safe_segment(seg: str) -> None:
    assert seg not in ("", ".", "..")
    assert "/" not in seg and "\\" not in seg
    assert not seg.startswith(".")
    assert seg.isascii() and seg.isprintable()
    assert len(seg) <= 160


@pytest.mark.parametrize(
    "key",
    ["val/examples", "driving scene", "..", ".", "../../etc/passwd", "a/../b", "ünïcødé/图像", "~home", "%2F"],
)
def test_any_user_key_is_encoded_into_one_safe_segment(key: str) -> None:
    seg = paths.segment(key)
    _assert_one_safe_segment(seg)
    assert paths.check_storage_key(f"runs/p/r/manifests/0/{seg}/0.json")


def test_segment_keeps_plain_characters_and_escapes_the_rest() -> None:
    assert paths.segment("loss_1.2-a") == "loss_1.2-a"
    assert paths.segment("val/examples") == "val%2Fexamples"
    assert paths.segment("driving scene") == "driving%20scene"
    assert paths.segment("..") == "%2E."
    assert paths.segment("é") == "%C3%A9"


def test_distinct_keys_get_distinct_segments() -> None:
    keys = ["a/b", "a%2Fb", "a b", "a_b", "..", "%2E.", ".a", "a.", "é", "%C3%A9"]
    segments = [paths.segment(k) for k in keys]
    assert len(set(segments)) == len(keys)


def test_a_long_key_is_shortened_with_a_hash_and_stays_distinct() -> None:
    first = "x" * 300 + "1"
    second = "x" * 300 + "2"
    a, b = paths.segment(first), paths.segment(second)
    _assert_one_safe_segment(a)
    assert len(a) == 160
    assert a != b
    assert a.startswith("x" * 100)
    assert a == paths.segment(first)  # deterministic: the same key lands on the same object


def test_a_shortened_key_cannot_collide_with_a_short_key_that_looks_like_it() -> None:
    short = paths.segment("y" * 400)
    prefix, tilde, digest = short.rpartition("~")
    assert tilde and len(digest) == 16
    # A key typed to look like a shortened one has its "~" escaped, so it lands elsewhere.
    assert paths.segment(f"{'y' * 20}~{digest}") == f"{'y' * 20}%7E{digest}"
    assert paths.segment(short) != short


def test_a_key_with_dotdot_cannot_escape_the_run_prefix() -> None:
    key = paths.manifest_key("demo", "run1", 3, "../../../raw", 0)
    assert key.startswith("runs/demo/run1/manifests/3/")
    assert paths.check_storage_key(key) == key
    assert key == "runs/demo/run1/manifests/3/%2E.%2F..%2F..%2Fraw/0.json"


@pytest.mark.parametrize("key", ["val/examples", "a b", "..", "é" * 256])
def test_check_user_key_accepts_slashes_spaces_dotdot_and_unicode(key: str) -> None:
    assert paths.check_user_key(key) is key


def test_check_user_key_refuses_a_control_character_and_says_where_it_is() -> None:
    with pytest.raises(InvalidInput) as info:
        paths.check_user_key("loss\nval")
    assert info.value.code == "invalid_key"
    assert info.value.message == (
        "log key 'loss\\nval' has a control character ('\\n' at 4); "
        "accepted: printable text (/, spaces and .. are fine)"
    )


def test_check_user_key_refuses_an_empty_key() -> None:
    with pytest.raises(InvalidInput, match="log keys must not be empty") as info:
        paths.check_user_key("")
    assert info.value.code == "invalid_key"


@pytest.mark.parametrize("key", [3, None, b"bytes", ("a",)])
def test_check_user_key_refuses_what_is_not_a_str_and_names_its_type(key: object) -> None:
    with pytest.raises(InvalidInput) as info:
        paths.check_user_key(key)
    assert info.value.message == f"log keys must be str; got {type(key).__name__} {key!r}"


def test_check_user_key_refuses_a_key_over_the_bound_and_names_the_bound() -> None:
    with pytest.raises(InvalidInput) as info:
        paths.check_user_key("k" * (paths.MAX_KEY_CHARS + 1))
    assert info.value.message == f"log key of 257 characters; at most {paths.MAX_KEY_CHARS} are accepted"


@pytest.mark.parametrize("name", ["demo", "run_1", "a.b-c", "9lives", "x" * 128])
def test_check_name_accepts_plain_project_and_run_names(name: str) -> None:
    assert paths.check_name("project", name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "-flag", "a/b", "..", "a b", "é", "x" * 129, None, 5])
def test_check_name_refuses_other_names_and_says_what_is_accepted(name: object) -> None:
    with pytest.raises(InvalidInput) as info:
        paths.check_name("run", name)
    assert info.value.code == "invalid_name"
    assert info.value.message == (
        f"run name {name!r} is not accepted; use 1-128 letters, digits, '_', '.' or '-', "
        "not starting with '.' or '-'"
    )


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "a/../b", "..", "./a", "a//b", "a/", "a\\b", "a\x00b", "a\x7fb", "a/\nb", None],
)
def test_check_storage_key_refuses_keys_that_could_escape_the_root(key: object) -> None:
    with pytest.raises(UnsafeKey) as info:
        paths.check_storage_key(key)  # type: ignore[arg-type]
    assert info.value.code == "unsafe_key"
    assert info.value.message == f"storage key {key!r} is not a clean relative path"


def test_the_layout_matches_the_design() -> None:
    assert paths.raw_key(SHA, "npy") == f"raw/{SHA}.npy"
    assert paths.media_key("image", SHA, "png") == f"media/image/{SHA}.png"
    assert paths.run_json_key("demo", "3k2j9x") == "runs/demo/3k2j9x/run.json"
    assert paths.summary_key("demo", "3k2j9x") == "runs/demo/3k2j9x/summary.json"
    assert paths.history_chunk_key("demo", "3k2j9x", 42) == "runs/demo/3k2j9x/history/0000000042.jsonl"
    assert paths.history_chunk_key("demo", "r", 42).startswith(paths.history_prefix("demo", "r"))
    assert paths.manifest_key("demo", "3k2j9x", 12, "val/examples", 0) == (
        "runs/demo/3k2j9x/manifests/12/val%2Fexamples/0.json"
    )


def test_a_reprocessed_manifest_gets_a_revision_name_beside_the_first() -> None:
    first = paths.manifest_key("p", "r", 1, "k", 2)
    second = paths.manifest_key("p", "r", 1, "k", 2, revision=2)
    assert first == "runs/p/r/manifests/1/k/2.json"
    assert second == "runs/p/r/manifests/1/k/2.r2.json"


def test_history_chunk_keys_sort_in_sequence_order() -> None:
    keys = [paths.history_chunk_key("p", "r", seq) for seq in (10, 9, 100, 0)]
    assert sorted(keys) == [paths.history_chunk_key("p", "r", s) for s in (0, 9, 10, 100)]


@pytest.mark.parametrize("digest", ["AB" * 32, "ab" * 31, "../" + "a" * 61, "g" * 64])
def test_a_raw_key_needs_a_lowercase_sha256_digest(digest: str) -> None:
    with pytest.raises(UnsafeKey, match="is not a sha256 hex digest"):
        paths.raw_key(digest, "npy")


@pytest.mark.parametrize("ext", ["", "PNG", "png/..", "a" * 11, "../x", "tar.gz.bz2"])
def test_a_raw_key_needs_a_plain_extension(ext: str) -> None:
    with pytest.raises(UnsafeKey, match="is not a file extension"):
        paths.raw_key(SHA, ext)


def test_a_two_part_extension_is_accepted() -> None:
    assert paths.raw_key(SHA, "tar.gz") == f"raw/{SHA}.tar.gz"


def test_key_in_uri_finds_the_layout_key_at_the_end_of_any_root() -> None:
    sha = "0f" * 32
    assert paths.key_in_uri(f"file:///home/me/media/raw/{sha}.npy") == f"raw/{sha}.npy"
    assert paths.key_in_uri(f"s3://bucket/team/media/image/{sha}.png") == f"media/image/{sha}.png"
    assert paths.key_in_uri(f"s3://bucket/{sha}/media/object3d/{sha}.pts.json") == f"media/object3d/{sha}.pts.json"
    for uri in [f"raw/{sha}.npy", "file:///etc/passwd", f"s3://b/runs/p/r/{sha}.json", f"s3://b/raw/{sha}",
                f"s3://b/raw/{sha}.NPY", None, 7]:
        assert paths.key_in_uri(uri) is None
