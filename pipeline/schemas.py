"""The published JSON Schemas of the queue message and the manifest.

``python -m darkroom.pipeline.schemas docs/schema`` writes them; a test checks
that the committed files match the models, so non-Python readers can rely on
docs/schema/*.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from darkroom.pipeline.manifest import Manifest
from darkroom.pipeline.messages import ConvertRequest

SCHEMAS = {
    "convert-request.schema.json": ConvertRequest,
    "manifest.schema.json": Manifest,
}


def render() -> dict[str, str]:
    """File name -> JSON Schema text, as the models define them today."""
    return {name: json.dumps(model.model_json_schema(by_alias=True), indent=2, sort_keys=True) + "\n"
            for name, model in SCHEMAS.items()}


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (folder / name).write_text(text)


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema"))
