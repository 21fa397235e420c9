"""The official Arazzo 1.0 JSON Schema, its three known defects mended, each problem located
at the node that breaks it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from arazzo_sfn.errors import ArazzoError, SchemaError
from arazzo_sfn.validation.document import Document, pointer

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "arazzo-1.0-schema.yaml"


@functools.lru_cache(maxsize=1)
def arazzo_schema() -> dict[str, Any]:
    """The official schema, with its three known defects mended (each says which)."""
    schema: dict[str, Any] = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["$defs"]

    # Defect 1: the object form of a criterion type ({type: jsonpath, version: ...}) is
    # rejected; the spec allows `type` to be a string or a Criterion Expression Type Object.
    criterion = defs["criterion-object"]
    criterion.pop("anyOf", None)
    criterion["properties"]["type"] = {
        "oneOf": [
            {"enum": ["simple", "regex", "jsonpath", "xpath"]},
            {"$ref": "#/$defs/criterion-expression-type-object"},
        ]
    }

    # Defect 2: every retry action is made to need retryAfter and a target; the spec makes
    # both optional (a retry without a target retries the current step).
    failure = defs["failure-action-object"]
    failure["allOf"] = [
        {
            "if": {"properties": {"type": {"const": "goto"}}},
            "then": {"oneOf": [{"required": ["workflowId"]}, {"required": ["stepId"]}]},
        },
        {"not": {"required": ["workflowId", "stepId"]}},
    ]

    # Defect 3: replacement values are typed as strings only; the spec allows any value.
    replacement = defs["payload-replacement-object"]
    replacement["properties"]["value"] = {}
    return schema


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(arazzo_schema())


def schema_problems(document: Document) -> Iterator[ArazzoError]:
    for error in _validator().iter_errors(document.data):
        yield document.problem(SchemaError, *describe(error))


def describe(error: jsonschema.ValidationError, base: str = "") -> tuple[str, str]:
    """The message of a schema error and the pointer of the node it concerns: the most
    specific cause of a failed anyOf/oneOf, and for repeated items the repeated one."""
    candidates = list(error.context)
    if isinstance(error.instance, dict) and "reference" not in error.instance:
        # Written in full, not as a reference: what the full form lacks, not the reference.
        reusable = {e.relative_schema_path[0] for e in candidates if _requires_reference(e) and e.relative_schema_path}
        candidates = [e for e in candidates if not e.relative_schema_path or e.relative_schema_path[0] not in reusable] or candidates
    leaf = min(candidates, key=lambda e: -len(e.absolute_path)) if candidates else error
    at = pointer(base, *leaf.absolute_path)
    if "propertyNames" in leaf.absolute_schema_path:
        # The name is what is wrong: point at its member.
        return f"name {leaf.instance!r}: {leaf.message}", pointer(at, str(leaf.instance))
    if leaf.validator == "uniqueItems" and isinstance(leaf.instance, list):
        index, earlier = _first_repeat(leaf.instance)
        return f"item {index} repeats item {earlier}: the items must be unique", pointer(at, index)
    return leaf.message, at


def _requires_reference(error: jsonschema.ValidationError) -> bool:
    return error.validator == "required" and isinstance(error.schema, dict) and "reference" in (error.schema.get("required") or [])


def _first_repeat(items: list[Any]) -> tuple[int, int]:
    for index, item in enumerate(items):
        for earlier in range(index):
            if _same(items[earlier], item):
                return index, earlier
    return 0, 0  # pragma: no cover - uniqueItems failed, so some item repeats


def _same(left: Any, right: Any) -> bool:
    """JSON equality, as uniqueItems means it: true is not 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)
