"""The template library that ships with Madoguchi: realistic procedures written for this product, one
portable file each (procedures/portable.py) in template_library/, loaded into a council's library."""

import json
from pathlib import Path

from madoguchi.procedures import services

LIBRARY_DIR = Path(__file__).resolve().parent / "template_library"


def library_documents() -> list[tuple[str, dict]]:
    """(file name, document) of every bundled template, in file-name order."""
    return [
        (path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(LIBRARY_DIR.glob("*.json"))
    ]


def load_library(*, council) -> int:
    """Add the bundled templates to the council's library, or bring them up to date (keyed by title).

    Returns the number of templates. Raises DefinitionError if a bundled file is broken.
    """
    documents = library_documents()
    for _name, document in documents:
        services.save_library_template(council=council, document=document, organization=council.secretariat)
    return len(documents)
