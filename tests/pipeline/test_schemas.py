from pathlib import Path

from darkroom.pipeline import schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schema"


def test_the_published_json_schemas_match_the_models():
    for name, text in schemas.render().items():
        published = (SCHEMA_DIR / name).read_text()
        assert published == text, f"docs/schema/{name} is stale: run python -m darkroom.pipeline.schemas docs/schema"


def test_the_manifest_schema_names_the_fields_readers_rely_on():
    import json

    schema = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    for field in ("schema", "project", "run", "step", "key", "index", "kind", "revision", "status",
                  "error", "warnings", "caption", "source", "artifact", "related", "boxes", "converter"):
        assert field in schema["properties"], field
