"""Validation of what we serve against Platform.sh's published OpenAPI schemas."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "openapi-platformsh.json"
URI = "urn:platformsh-openapi"

_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {"href": {"type": "string"}, "meta": {"type": "object"}},
}
_LINKS = {
    "type": "object",
    "additionalProperties": {"anyOf": [_LINK, {"type": "array", "items": _LINK}]},
}
_ID = {"type": "string", "minLength": 1}
_EMBEDDED = {
    "type": "object",
    "properties": {
        "activities": {"type": "array", "items": {"$ref": f"{URI}#/components/schemas/Activity"}},
        "entity": {"type": "object"},
    },
    "required": ["activities"],
    "additionalProperties": False,
}

# The deliberate differences of docs/design.md ("Differences from the published API
# description"): fields every client reads that these schemas, which forbid additional
# properties, do not declare. Exactly these are allowed, each with its own type; any
# other undeclared field still fails.
DELIBERATE_EXTRAS: dict[str, dict[str, Any]] = {
    "Project": {"id": _ID, "_links": _LINKS},
    "Environment": {"id": _ID, "_links": _LINKS},
    "EnvironmentType": {"id": _ID, "_links": _LINKS},
    "Activity": {"id": _ID, "_links": _LINKS},
    "ProjectVariable": {"id": _ID, "_links": _LINKS},
    "EnvironmentVariable": {"id": _ID, "_links": _LINKS},
    "Backup": {"_links": _LINKS},
    "Deployment": {"id": _ID, "_links": _LINKS},
    # A route's `routes.yaml` key, which the CLIs select routes by. The same extra on
    # each member of `Route`'s oneOf, so the other fields still pick exactly one.
    "ProxyRoute": {"original_url": {"type": "string", "minLength": 1}},
    "RedirectRoute": {"original_url": {"type": "string", "minLength": 1}},
    "UpstreamRoute": {"original_url": {"type": "string", "minLength": 1}},
    "AcceptedResponse": {"_embedded": _EMBEDDED},
}

# RFC 3986 section 3: a URI starts with a scheme; jsonschema checks ``uri`` only when
# the optional rfc3987 package is installed, so the check is spelt out here.
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$")
FORMATS = FormatChecker(formats=("date-time",))


def _is_uri(value: object) -> bool:
    """Whether a string is an absolute URI (non-strings are the type check's business)."""
    return not isinstance(value, str) or bool(_URI_RE.match(value))


FORMATS.checks("uri")(_is_uri)


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
def _schemas() -> dict[str, Any]:
    """Every schema as JSON Schema, with the deliberate extras declared."""
    spec = json.loads(SPEC.read_text())
    schemas: dict[str, Any] = _to_json_schema(spec["components"]["schemas"])
    for name, extras in DELIBERATE_EXTRAS.items():
        declared = schemas[name].setdefault("properties", {})
        clash = set(extras) & set(declared)
        assert not clash, f"{name} declares {clash}: drop it from DELIBERATE_EXTRAS"
        declared.update(extras)
    return schemas


@cache
def _registry() -> Registry:
    document = {"components": {"schemas": _schemas()}}
    registry: Registry = Registry().with_resource(URI, DRAFT7.create_resource(document))
    return registry


def validate(schema_name: str, instance: Any, extensions: frozenset[str] = frozenset()) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` fits the named schema.

    Formats ``uri`` and ``date-time`` are checked. Beyond the schema's own fields, only
    its ``DELIBERATE_EXTRAS`` and the named Homeport ``extensions`` (documented per
    schema in tests/web/test_contract.py) may appear.
    """
    schema = copy.deepcopy(_schemas()[schema_name])
    if extensions:
        declared = schema.setdefault("properties", {})
        clash = extensions & set(declared)
        assert not clash, f"{schema_name} declares {clash}: not an extension"
        declared.update({name: {} for name in extensions})
    Draft7Validator(schema, registry=_registry(), format_checker=FORMATS).validate(instance)


def forbids_extras(schema_name: str) -> bool:
    """Whether the published schema says ``additionalProperties: false``."""
    return _schemas()[schema_name].get("additionalProperties") is False


def schema_names() -> set[str]:
    """Every schema name in the published description."""
    return set(json.loads(SPEC.read_text())["components"]["schemas"])
