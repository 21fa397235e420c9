"""The execution input's contract, checked before a run is started: the JSON Schema generated
from the workflow's inputs (each function that needs it carries a copy). Only the keywords
that schema uses are understood, and a schema with any other is refused when loaded, so the
check can never be silently weaker than the contract. (jsonschema would do, at several times
the size of a function.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

UNDERSTOOD = {"$schema", "$id", "title", "description", "type", "required", "properties", "additionalProperties",
              "format", "minLength", "maxLength", "pattern", "minimum", "maximum", "enum", "default",
              "items", "minItems", "maxItems", "uniqueItems", "anyOf"}
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TYPES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false", "object": "an object",
         "array": "a list"}


def _keywords(schema: dict[str, Any]) -> set[str]:
    found = set(schema)
    children = [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    for child in children:
        found |= _keywords(child)
    return found


def load_contract(path: Path) -> dict[str, Any]:
    """The schema at `path`, refused if it uses a keyword this check does not understand."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(schema, dict):
        raise RuntimeError(f"{path.name} is not a JSON Schema object")
    unknown = _keywords(schema) - UNDERSTOOD
    if unknown:
        raise RuntimeError(f"{path.name} uses keywords this check does not understand: {sorted(unknown)}")
    return schema


def problems(value: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Each way `value` breaks the contract, each naming the field (empty when it holds)."""
    name = where or "the input"
    expected = schema.get("type")
    if expected is not None and not _is_type(value, expected):
        return [f"{name} must be {TYPES.get(expected, expected)}"]
    found = []
    if isinstance(value, dict):
        for required in schema.get("required", []):
            if required not in value:
                found.append(f"{_path(where, required)} is required")
        for key, item in value.items():
            if key in schema.get("properties", {}):
                found += problems(item, schema["properties"][key], _path(where, key))
            elif schema.get("additionalProperties") is False:
                found.append(f"{_path(where, key)} is not a field of the input")
    if isinstance(value, str):
        if schema.get("format") == "uuid" and not UUID.match(value):
            found.append(f"{name} must be a UUID, like 9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f")
        if "minLength" in schema and len(value) < schema["minLength"]:
            found.append(f"{name} must be at least {schema['minLength']} characters long")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{name} must be at most {schema['maxLength']} characters long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{name} must match {schema['pattern']}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{name} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{name} must be at most {schema['maximum']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{name} must hold at least {schema['minItems']} item{'s' if schema['minItems'] != 1 else ''}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{name} must hold at most {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(item, sort_keys=True) for item in value}) < len(value):
            found.append(f"{name} must not name an item twice")
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                found += problems(item, schema["items"], f"{name}[{index}]")
    # anyOf is understood in the one form the inputs use: alternatives of required fields.
    alternatives = schema.get("anyOf", [])
    if alternatives and isinstance(value, dict) and not any(not problems(value, option, where) for option in alternatives):
        fields = [field for option in alternatives for field in option.get("required", [])]
        found.append(f"{name} must give at least one of {', '.join(fields)}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{name} must be one of {', '.join(json.dumps(item) for item in schema['enum'])}")
    return found


def _is_type(value: Any, expected: str) -> bool:
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    return True


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
