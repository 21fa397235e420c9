"""The official Arazzo JSON Schema of the document's version (1.0 or 1.1), its known defects
mended, each problem located at the node that breaks it.

The `arazzo` field decides which schema applies: `1.0.x` documents are read by the 1.0 schema,
`1.1.x` documents by the 1.1 schema. A document of any other version is refused with one
problem at `/arazzo`, naming the versions this compiler reads."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from arazzo_sfn.errors import ArazzoError, SchemaError
from arazzo_sfn.validation.document import Document, pointer

SCHEMA_DIRECTORY = Path(__file__).resolve().parent.parent / "schema"
# The Arazzo versions this compiler reads (major.minor), each with its official schema.
SCHEMA_PATHS = {
    "1.0": SCHEMA_DIRECTORY / "arazzo-1.0-schema.yaml",
    "1.1": SCHEMA_DIRECTORY / "arazzo-1.1-schema.yaml",
}
SUPPORTED_VERSIONS = tuple(SCHEMA_PATHS)


def version_problem(document: Document) -> ArazzoError | None:
    """The one problem of a document whose version this compiler does not read."""
    if document.version is not None:
        return None
    supported = " and ".join(f"{version}.x" for version in SUPPORTED_VERSIONS)
    if "arazzo" not in document.data:
        return document.problem(SchemaError, f"the document has no 'arazzo' field: it names the Arazzo version, {supported} are supported", "")
    declared = document.data["arazzo"]
    what = f"Arazzo {declared}" if isinstance(declared, str) else f"{declared!r}, not a version string"
    return document.problem(SchemaError, f"arazzo is {what}: this compiler reads Arazzo {supported}", "/arazzo")


def arazzo_schema(version: str = "1.0") -> dict[str, Any]:
    """The official schema of `version`, with its known defects mended (each says which)."""
    return _mend_1_1(_load(version)) if version == "1.1" else _mend_1_0(_load(version))


def _load(version: str) -> dict[str, Any]:
    schema: dict[str, Any] = yaml.safe_load(SCHEMA_PATHS[version].read_text(encoding="utf-8"))
    return schema


def _mend_1_0(schema: dict[str, Any]) -> dict[str, Any]:
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


# Arazzo 1.1: an object with both `context` and `selector` is read as a Selector Object (and
# must be a whole one); any other value is a constant.
_CONSTANT_OR_SELECTOR = {
    "if": {"type": "object", "required": ["context", "selector"]},
    "then": {"$ref": "#/$defs/selector-object"},
}


def _mend_1_1(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema["$defs"]

    # Defect 1 (1.0's defect 3 again): a replacement value is a string or a Selector Object
    # only; the text (Payload Replacement Object, `value`) allows any value or a Selector Object.
    defs["payload-replacement-object"]["properties"]["value"] = dict(_CONSTANT_OR_SELECTOR)

    # Defect 2: a parameter value may not be an object unless it is a Selector Object; the text
    # (Parameter Object, `value`) allows any value, as 1.0's schema did.
    defs["parameter-object"]["properties"]["value"] = dict(_CONSTANT_OR_SELECTOR)

    # Defect 3: a retry action may name both a workflowId and a stepId; the text (Failure
    # Action Object) makes each "mutually exclusive" of the other, whatever the type.
    defs["failure-action-object"]["allOf"].append({"not": {"required": ["workflowId", "stepId"]}})
    return schema


@functools.cache
def _validator(version: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(arazzo_schema(version))


def schema_problems(document: Document) -> Iterator[ArazzoError]:
    """The document against the schema of its version; a version this compiler does not read
    is the one problem."""
    refused = version_problem(document)
    if refused is not None:
        yield refused
        return
    for error in _validator(str(document.version)).iter_errors(document.data):
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
    if at == "/$self" and leaf.validator == "pattern":
        # 1.1, Arazzo Specification Object: "The `$self` URI MUST NOT contain a fragment identifier".
        return f"$self {leaf.instance!r} must not contain a fragment ('#'): it is the document's URI and its base URI", at
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
