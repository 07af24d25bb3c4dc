"""The official AsyncAPI 3.0 JSON Schema, and a validator of documents against it.

The schema comes from the npm package ``@asyncapi/specs`` (the AsyncAPI Initiative's own), kept
in a cache folder between runs: ``.ci/run`` installs it there, and the first test that needs it
does if it is missing.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from . import npm

SPECS_VERSION = "6.11.1"
"""``@asyncapi/specs`` release whose ``schemas/3.0.0-without-$id.json`` is the reference (.ci/run reads it here)."""

SPECS_DIR = Path(
    os.environ.get(
        "ASYNCAPI_SPECS_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "asyncapi-specs"
    )
)
"""npm prefix holding ``node_modules/@asyncapi/specs``; ``.ci/run`` sets and fills the same folder."""


def asyncapi_schema_file() -> Path:
    """The AsyncAPI 3.0.0 JSON Schema, installed with npm into ``SPECS_DIR`` on first use."""
    package = npm.installed("@asyncapi/specs", SPECS_VERSION, SPECS_DIR)
    return package / "schemas" / "3.0.0-without-$id.json"


@functools.cache
def asyncapi_validator() -> Draft7Validator:
    """A Draft 7 validator of the AsyncAPI 3.0.0 schema, formats checked."""
    schema = json.loads(asyncapi_schema_file().read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/schema")
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def errors(document: dict[str, Any]) -> list[str]:
    """Where and how ``document`` breaks the AsyncAPI 3.0 schema; empty when it is valid."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in asyncapi_validator().iter_errors(document)
    ]
