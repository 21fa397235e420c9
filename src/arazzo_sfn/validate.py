"""Stage 2, validate: the official Arazzo 1.0 JSON Schema, then the checks a schema cannot
make (unknown targets, duplicate ids, missing operations). Every problem is collected, with
its location, before anything is compiled."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml

from arazzo_sfn.errors import ArazzoError, ProblemList, SchemaError, SemanticError
from arazzo_sfn.loader import LoadedDocument
from arazzo_sfn.openapi import index_operations, resolve_operation_path


@functools.lru_cache(maxsize=1)
def arazzo_schema() -> dict:
    """The official schema, with its three known defects mended (each says which)."""
    text = (Path(__file__).parent / "schema" / "arazzo-1.0-schema.yaml").read_text(encoding="utf-8")
    schema = yaml.safe_load(text)
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


def validate_document(document: LoadedDocument) -> None:
    problems = list(schema_problems(document))
    if not problems:
        problems = list(semantic_problems(document))
    if problems:
        raise ProblemList(problems)


def schema_problems(document: LoadedDocument) -> Iterator[ArazzoError]:
    validator = jsonschema.Draft202012Validator(arazzo_schema())
    locate = document.arazzo.source_map.locate
    for error in validator.iter_errors(document.arazzo.data):
        # Report the most specific cause of a failed anyOf/oneOf, not the whole branch list.
        leaf = min(error.context, key=lambda e: -len(e.absolute_path)) if error.context else error
        pointer = "".join(f"/{part}" for part in leaf.absolute_path)
        yield SchemaError(leaf.message, locate(pointer))


def semantic_problems(document: LoadedDocument) -> Iterator[ArazzoError]:
    data = document.arazzo.data
    locate = document.arazzo.source_map.locate
    operations = {name: index_operations(name, source) for name, source in document.sources.items()}
    workflow_ids = [w.get("workflowId") for w in data.get("workflows", [])]
    yield from _duplicates(workflow_ids, "/workflows/{}/workflowId", "workflowId", locate)
    for w_index, workflow in enumerate(data.get("workflows", [])):
        base = f"/workflows/{w_index}"
        steps = workflow.get("steps", [])
        step_ids = [s.get("stepId") for s in steps]
        yield from _duplicates(step_ids, base + "/steps/{}/stepId", "stepId", locate)
        for s_index, step in enumerate(steps):
            where = f"{base}/steps/{s_index}"
            for p_index, parameter in enumerate(step.get("parameters") or []):
                if isinstance(parameter, dict) and "reference" in parameter:
                    target = _component(data, parameter["reference"], "parameters")
                    if target is None:
                        yield SemanticError(f"{parameter['reference']!r} is not in components.parameters", locate(f"{where}/parameters/{p_index}/reference"))
                    elif target.get("in") == "path":
                        step = {**step, "_referenced_path_parameters": [*step.get("_referenced_path_parameters", ()), target.get("name")]}
            for kind, component_kind in (("onSuccess", "successActions"), ("onFailure", "failureActions")):
                for a_index, action in enumerate(step.get(kind) or []):
                    if "reference" in action and _component(data, action["reference"], component_kind) is None:
                        yield SemanticError(f"{action['reference']!r} is not in components.{component_kind}", locate(f"{where}/{kind}/{a_index}/reference"))
            yield from _operation_problems(step, where, operations, document.sources, locate)
            for kind in ("onSuccess", "onFailure"):
                for a_index, action in enumerate(step.get(kind) or []):
                    if "reference" in action:
                        continue
                    target = action.get("stepId")
                    if target is not None and target not in step_ids:
                        yield SemanticError(f"{kind} action {action.get('name')!r} goes to unknown step {target!r}", locate(f"{where}/{kind}/{a_index}/stepId"))
                    target = action.get("workflowId")
                    if target is not None and not str(target).startswith("$") and target not in workflow_ids:
                        yield SemanticError(f"{kind} action {action.get('name')!r} goes to unknown workflow {target!r}", locate(f"{where}/{kind}/{a_index}/workflowId"))
            target = step.get("workflowId")
            if target is not None and not str(target).startswith("$") and target not in workflow_ids:
                yield SemanticError(f"step {step.get('stepId')!r} calls unknown workflow {target!r}", locate(f"{where}/workflowId"))


def _component(data: dict, reference: Any, kind: str) -> dict | None:
    """The object `$components.<kind>.<name>` names, or None."""
    prefix = f"$components.{kind}."
    if not isinstance(reference, str) or not reference.startswith(prefix):
        return None
    found = ((data.get("components") or {}).get(kind) or {}).get(reference[len(prefix):])
    return found if isinstance(found, dict) else None


def _duplicates(ids: list[Any], pattern: str, what: str, locate) -> Iterator[ArazzoError]:
    seen: set = set()
    for index, value in enumerate(ids):
        if value in seen:
            yield SemanticError(f"duplicate {what} {value!r}", locate(pattern.format(index)))
        seen.add(value)


def _operation_problems(step: dict, where: str, operations: dict, sources: dict, locate) -> Iterator[ArazzoError]:
    operation_id = step.get("operationId")
    if "operationPath" in step:
        try:
            operation = resolve_operation_path(step["operationPath"], sources)
        except ValueError as error:
            yield SemanticError(str(error), locate(f"{where}/operationPath"))
            return
        yield from _path_parameter_problems(step, where, operation, str(step["operationPath"]), locate)
        return
    if operation_id is None:
        return
    name = operation_id
    if operation_id.startswith("$sourceDescriptions."):
        source, _, name = operation_id[len("$sourceDescriptions."):].partition(".")
        if source not in operations:
            yield SemanticError(f"operationId {operation_id!r} names unknown source description {source!r}", locate(f"{where}/operationId"))
            return
        candidates = [source] if name in operations[source] else []
    else:
        candidates = [s for s, ops in operations.items() if name in ops]
    if not candidates:
        yield SemanticError(f"operationId {name!r} is not in any OpenAPI source description", locate(f"{where}/operationId"))
    elif len(candidates) > 1:
        yield SemanticError(
            f"operationId {name!r} is in several source descriptions ({', '.join(candidates)}); "
            f"write $sourceDescriptions.<name>.{name}",
            locate(f"{where}/operationId"),
        )
        return
    else:
        yield from _path_parameter_problems(step, where, operations[candidates[0]][name], name, locate)


def _path_parameter_problems(step: dict, where: str, operation, name: str, locate) -> Iterator[ArazzoError]:
    supplied = {p.get("name") for p in step.get("parameters") or [] if isinstance(p, dict) and p.get("in") == "path"}
    supplied |= set(step.get("_referenced_path_parameters", ()))
    for missing in sorted(set(operation.path_parameters) - supplied):
        yield SemanticError(f"step {step.get('stepId')!r} does not supply path parameter {missing!r} of {name}", locate(f"{where}/parameters"))
    for unknown in sorted(supplied - set(operation.path_parameters)):
        yield SemanticError(f"step {step.get('stepId')!r} supplies path parameter {unknown!r}, which {name} ({operation.method} {operation.path}) does not have", locate(f"{where}/parameters"))
