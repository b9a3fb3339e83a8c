"""JSON Schemas of dataset records (``datasets/schema/*.json``); every record is validated on write."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from portkern.errors import PortkernError

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "datasets" / "schema"
RECORD_TYPES = ("translation", "repair", "optimization", "preference", "performance", "model_call")


class RecordSchemaError(PortkernError):
    cause = "schema"


@lru_cache(maxsize=1)
def _validators() -> dict[str, jsonschema.protocols.Validator]:
    if not SCHEMA_DIR.exists():
        raise RecordSchemaError(f"{SCHEMA_DIR}: dataset schemas not found",
                                hint="run from a portkern checkout (datasets/schema ships with the repository)")
    resources = {}
    for path in SCHEMA_DIR.glob("*.json"):
        resources[path.name] = Resource.from_contents(json.loads(path.read_text()))
    registry = Registry().with_resources(resources.items())
    out = {}
    for kind in RECORD_TYPES:
        schema = resources[f"{kind}.json"].contents
        cls = jsonschema.validators.validator_for(schema)
        out[kind] = cls(schema, registry=registry)
    return out


def validate_record(record: dict[str, Any]) -> None:
    kind = record.get("record_type")
    if kind not in RECORD_TYPES:
        raise RecordSchemaError(f"record has unknown record_type {kind!r}; known: {', '.join(RECORD_TYPES)}")
    errors = sorted(_validators()[kind].iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        raise RecordSchemaError(f"{kind} record {record.get('record_id', '?')[:12]}: field {where}: {e.message}",
                                hint=f"schema: datasets/schema/{kind}.json")
