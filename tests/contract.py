"""Validation of what we serve against Platform.sh's published OpenAPI schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "openapi-platformsh.json"
URI = "urn:platformsh-openapi"


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects → JSON Schema (``nullable`` becomes a null type)."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if not k.startswith("x-")}
    if out.pop("nullable", False):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    if "$ref" in out and out["$ref"].startswith("#/"):
        out["$ref"] = URI + out["$ref"]
    return out


@cache
def _registry() -> Registry:
    spec = json.loads(SPEC.read_text())
    document = {"components": {"schemas": _to_json_schema(spec["components"]["schemas"])}}
    registry: Registry = Registry().with_resource(URI, DRAFT7.create_resource(document))
    return registry


# Keys every client reads although the description omits them (see spec/platform-api.md).
ALWAYS_ALLOWED = frozenset({"id", "_links"})


def validate(schema_name: str, instance: Any, extensions: frozenset[str] = frozenset()) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` fits the named schema.

    ``id`` and ``_links`` and the named Homeport ``extensions`` are set aside first, since
    some schemas forbid additional properties.
    """
    declared = set(_declared(schema_name))
    if isinstance(instance, dict):
        extra = (ALWAYS_ALLOWED | extensions) - declared
        instance = {k: v for k, v in instance.items() if k not in extra}
    schema = {"$ref": f"{URI}#/components/schemas/{schema_name}"}
    Draft7Validator(schema, registry=_registry()).validate(instance)


@cache
def _declared(schema_name: str) -> tuple[str, ...]:
    spec = json.loads(SPEC.read_text())
    return tuple(spec["components"]["schemas"][schema_name].get("properties", {}))


def schema_names() -> set[str]:
    """Every schema name in the published description."""
    return set(json.loads(SPEC.read_text())["components"]["schemas"])
