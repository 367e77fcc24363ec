import io

import pytest

import darkroom


def _log(value):
    run = darkroom.init(project="html")
    run.log({"page": value})
    report = run.finish(quiet=True)
    reader = darkroom.Api().run(run.path)
    return report, reader, reader.manifests(key="page")[0]


def test_a_string_of_html_is_stored_with_the_stylesheet_and_marked_untrusted(embedded_env):
    report, reader, m = _log(darkroom.Html("<html><head><title>t</title></head><body><b>hi</b></body></html>"))
    assert report.converted == 1 and m["status"] == "ok" and m["untrusted"] is True
    body = reader.read(m).decode()
    assert body.startswith("<html><head><style data-darkroom>") and "<b>hi</b>" in body
    assert "http" not in body.split("</style>")[0]  # no external URL


def test_inject_false_stores_the_document_as_given(embedded_env):
    html = "<p>plain</p>"
    _, reader, m = _log(darkroom.Html(html, inject=False))
    assert reader.read(m) == html.encode()


def test_an_open_file_and_a_path_are_accepted(embedded_env, tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<h1>from a file</h1>")
    _, reader, m = _log(darkroom.Html(str(path), inject=False))
    assert reader.read(m) == b"<h1>from a file</h1>"
    _, reader, m = _log(darkroom.Html(io.StringIO("<i>io</i>"), inject=False))
    assert reader.read(m) == b"<i>io</i>"


def test_markup_that_ends_in_a_file_name_is_html_not_a_path(embedded_env):
    _, reader, m = _log(darkroom.Html("<p>see index.html", inject=False))
    assert reader.read(m) == b"<p>see index.html"


def test_bytes_that_are_not_utf8_become_a_failed_manifest(embedded_env, tmp_path):
    path = tmp_path / "bad.html"
    path.write_bytes(b"\xff\xfe\x00binary")
    report, _, m = _log(darkroom.Html(path))
    assert m["status"] == "failed" and m["error"]["code"] == "invalid_html"
    assert "not UTF-8" in m["error"]["message"] and report.failed


def test_wrong_arguments_are_refused_at_construction(tmp_path):
    with pytest.raises(TypeError, match="accepted: a str of HTML, an open file, or a path to a .html file"):
        darkroom.Html(42)
    with pytest.raises(FileNotFoundError, match="missing.html"):
        darkroom.Html(str(tmp_path / "missing.html"))
