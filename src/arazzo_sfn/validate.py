"""Stage 2, validate: the official Arazzo 1.0 JSON Schema, then the checks a schema cannot
make (unknown targets, duplicate ids, missing operations). Every problem is collected, with
its location, before anything is compiled."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from arazzo_runtime.expressions import EMBEDDED_EXPRESSION, ExpressionSyntaxError, parse_expression
from arazzo_sfn.errors import ArazzoError, ExpressionError, ProblemList, SchemaError, SemanticError
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
        problems = list(semantic_problems(document)) + list(expression_problems(document)) + list(endless_loop_problems(document))
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
            shared_paths = [p.get("name") for p in workflow.get("parameters") or [] if isinstance(p, dict) and p.get("in") == "path"]
            referenced = [_component(data, p["reference"], "parameters") or {} for p in workflow.get("parameters") or [] if isinstance(p, dict) and "reference" in p]
            shared_paths += [p.get("name") for p in referenced if p.get("in") == "path"]
            yield from _operation_problems({**step, "_workflow_path_parameters": shared_paths}, where, operations, document.sources, locate)
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
    # The workflow's own path parameters go to the steps whose path has them.
    supplied |= set(step.get("_workflow_path_parameters", ())) & set(operation.path_parameters)
    for missing in sorted(set(operation.path_parameters) - supplied):
        yield SemanticError(f"step {step.get('stepId')!r} does not supply path parameter {missing!r} of {name}", locate(f"{where}/parameters"))
    for unknown in sorted(supplied - set(operation.path_parameters)):
        yield SemanticError(f"step {step.get('stepId')!r} supplies path parameter {unknown!r}, which {name} ({operation.method} {operation.path}) does not have", locate(f"{where}/parameters"))


# --- runtime expressions: they parse, and what they name exists ---------------------------------



def expression_problems(document: LoadedDocument) -> Iterator[ArazzoError]:
    data = document.arazzo.data
    locate = document.arazzo.source_map.locate
    workflows = {w.get("workflowId"): w for w in data.get("workflows", [])}
    for w_index, workflow in enumerate(data.get("workflows", [])):
        base = f"/workflows/{w_index}"
        inputs = workflow.get("inputs") or {}
        # Only a schema that forbids other properties makes an undeclared input an error: an
        # allowed one that is absent at run time reads as null.
        closed = isinstance(inputs, dict) and "$ref" not in inputs and inputs.get("additionalProperties") is False
        declared = set((inputs.get("properties") or {}).keys()) if closed else None
        steps = {s.get("stepId"): s for s in workflow.get("steps", [])}
        for pointer, text in _expressions(workflow, base):
            try:
                expression = parse_expression(text)
            except ExpressionSyntaxError as error:
                yield ExpressionError(str(error), locate(pointer))
                continue
            if expression.kind == "inputs" and declared is not None and expression.name not in declared:
                yield ExpressionError(f"{text!r}: the workflow has no input {expression.name!r}", locate(pointer))
            elif expression.kind == "step_output":
                step = steps.get(expression.step)
                if step is None:
                    yield ExpressionError(f"{text!r}: there is no step {expression.step!r}", locate(pointer))
                elif expression.name not in (step.get("outputs") or {}):
                    yield ExpressionError(f"{text!r}: step {expression.step!r} has no output {expression.name!r}", locate(pointer))
            elif expression.kind == "workflow_output":
                target = workflows.get(text.split(".")[1])
                if target is None:
                    yield ExpressionError(f"{text!r}: there is no workflow {text.split('.')[1]!r}", locate(pointer))
                elif expression.name not in (target.get("outputs") or {}):
                    yield ExpressionError(f"{text!r}: workflow {text.split('.')[1]!r} has no output {expression.name!r}", locate(pointer))


def _expressions(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, text) of every runtime expression in values, outputs, contexts and payloads;
    conditions are left to the lowering, which parses them with their criterion type."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("condition", "description", "summary", "reference", "operationPath", "workflowId", "stepId", "x-loop"):
                continue
            if key == "criteria" or key == "successCriteria":
                for index, criterion in enumerate(item or []):
                    if isinstance(criterion, dict) and isinstance(criterion.get("context"), str):
                        yield f"{pointer}/{key}/{index}/context", criterion["context"]
                continue
            yield from _expressions(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _expressions(item, f"{pointer}/{index}")
    elif isinstance(value, str):
        if value.startswith("$") and not EMBEDDED_EXPRESSION.search(value):
            yield pointer, value
        for match in EMBEDDED_EXPRESSION.finditer(value):
            yield pointer, match.group(1)


# --- loops that can never end ------------------------------------------------------------------


def endless_loop_problems(document: LoadedDocument) -> Iterator[ArazzoError]:
    """Steps from which no success path ever reaches an end: every way out is a goto back
    into the same set of steps, with nothing to stop it but the loop bound."""
    data = document.arazzo.data
    locate = document.arazzo.source_map.locate
    for w_index, workflow in enumerate(data.get("workflows", [])):
        steps = workflow.get("steps", [])
        ids = [s.get("stepId") for s in steps]
        workflow_actions = [a for a in workflow.get("successActions") or [] if isinstance(a, dict) and "reference" not in a]
        exits: dict[str, set] = {}
        for index, step in enumerate(steps):
            targets: set = set()
            unconditional = False
            for action in list(step.get("onSuccess") or []) + workflow_actions:
                if not isinstance(action, dict) or "reference" in action:
                    unconditional = unconditional or False
                    continue
                if action.get("type") == "end" or action.get("workflowId"):
                    targets.add(None)
                elif action.get("type") == "goto" and action.get("stepId") in ids:
                    targets.add(action["stepId"])
                if not action.get("criteria"):
                    unconditional = True
                    break
            if not unconditional:
                targets.add(ids[index + 1] if index + 1 < len(ids) else None)
            exits[step.get("stepId")] = targets
        can_end = {sid for sid, targets in exits.items() if None in targets}
        changed = True
        while changed:
            changed = False
            for sid, targets in exits.items():
                if sid not in can_end and targets & can_end:
                    can_end.add(sid)
                    changed = True
        # A step no route reaches is left out of the state machine (with a warning), not refused.
        reached, frontier = set(), ids[:1]
        while frontier:
            sid = frontier.pop()
            if sid in reached or sid not in exits:
                continue
            reached.add(sid)
            frontier.extend(target for target in exits[sid] if target)
            step = steps[ids.index(sid)]
            failures = list(step.get("onFailure") or []) + list(workflow.get("failureActions") or [])
            frontier.extend(a.get("stepId") for a in failures if isinstance(a, dict) and a.get("stepId") in ids)
        for index, sid in enumerate(ids):
            if sid not in can_end and sid in reached:
                yield SemanticError(
                    f"step {sid!r} can never reach the end of workflow {workflow.get('workflowId')!r}: "
                    "every way on is a goto back into the same steps",
                    locate(f"/workflows/{w_index}/steps/{index}"),
                )
