"""The project's `x-` extensions: each has a JSON Schema (src/arazzo_sfn/schema/extensions,
documented in docs/compiler/extensions.md) that its value must satisfy where it is written, and
rules about where it belongs that a schema of the value alone cannot state."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from arazzo_runtime.expressions import ExpressionSyntaxError, InputRef, ResponseRef, parse_expression, parse_pointer
from arazzo_sfn.errors import ArazzoError, SemanticError
from arazzo_sfn.openapi import Operation, index_operations, resolve_operation_path
from arazzo_sfn.validation.document import ActionUse, Document, pointer
from arazzo_sfn.validation.schema import describe

SCHEMA_DIRECTORY = Path(__file__).resolve().parent.parent / "schema" / "extensions"
ACTION_EXTENSIONS = ("x-loop", "x-fail")
WORKFLOW_EXTENSIONS = ("x-task-retry", "x-child-execution")
STEP_EXTENSIONS = ("x-task-retry", "x-pages", "x-for-each")
EXTENSIONS = ("x-loop", "x-fail", "x-task-retry", "x-child-execution", "x-pages", "x-for-each")
# What a step with x-for-each offers its outputs as `$outputs.<name>`.
FOR_EACH_OUTPUTS = ("results", "counts")
# The members of each result beside the item's input.
FOR_EACH_RESULT_FIELDS = ("outcome", "executionArn", "outputs", "error", "cause")


@functools.cache
def extension_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one extension's value."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIRECTORY / f"{name}.json").read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(extension_schema(name))


def extension_schema_problems(document: Document) -> Iterator[ArazzoError]:
    """Each extension's value against its schema, wherever the document writes it."""
    for at, owner, names in _places(document):
        for name in names:
            if name in owner:
                yield from _check(document, name, owner[name], pointer(at, name))


def _places(document: Document) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """(where, the object, the extensions it may hold) for every object that may hold one."""
    for w_index, workflow in document.workflows():
        base = f"/workflows/{w_index}"
        yield base, workflow, WORKFLOW_EXTENSIONS
        for kind in ("successActions", "failureActions"):
            for index, action in enumerate(workflow.get(kind) or []):
                if isinstance(action, dict):
                    yield pointer(base, kind, index), action, ACTION_EXTENSIONS
        for s_index, step in enumerate(workflow.get("steps") or []):
            if not isinstance(step, dict):
                continue
            at = pointer(base, "steps", s_index)
            yield at, step, STEP_EXTENSIONS
            for kind in ("onSuccess", "onFailure"):
                for index, action in enumerate(step.get(kind) or []):
                    if isinstance(action, dict):
                        yield pointer(at, kind, index), action, ACTION_EXTENSIONS
    components = document.data.get("components")
    if isinstance(components, dict):
        for kind in ("successActions", "failureActions"):
            actions = components.get(kind)
            for name, action in (actions.items() if isinstance(actions, dict) else ()):
                if isinstance(action, dict):
                    yield pointer("/components", kind, name), action, ACTION_EXTENSIONS


def _check(document: Document, name: str, value: Any, at: str) -> Iterator[ArazzoError]:
    for error in _validator(name).iter_errors(value):
        message, where = describe(error, at)
        # A schema may say in its own words what a value must be (`errorMessage`).
        schema = error.schema if isinstance(error.schema, dict) else {}
        if "errorMessage" in schema:
            message = schema["errorMessage"]
        yield document.problem(SemanticError, f"{name}: {message}", where)


# --- where each belongs, and what its expressions may read ----------------------------------------


def extension_problems(document: Document) -> Iterator[ArazzoError]:
    yield from _pages_problems(document)
    yield from _for_each_problems(document)
    reported: set[tuple[str, str]] = set()
    for use in document.actions():
        for problem in _action_problems(document, use):
            key = (problem.location.pointer if problem.location else "", problem.message)
            if key not in reported:  # a workflow-level action is checked for each of its steps
                reported.add(key)
                yield problem


def _action_problems(document: Document, use: ActionUse) -> Iterator[ArazzoError]:
    action = use.action
    workflow = document.data["workflows"][use.workflow_index]
    steps = document.steps(workflow)
    step = workflow["steps"][use.step_index]
    kind = action.get("type")
    if "x-fail" in action and kind != "end":
        yield document.problem(SemanticError, f"x-fail belongs on an end action; {action.get('name')!r} is {kind}", pointer(use.at, "x-fail"))
    loop = action.get("x-loop")
    if loop is None:
        return
    at = pointer(use.at, "x-loop")
    indexes = {s.get("stepId"): index for index, s in enumerate(steps)}
    target = action.get("stepId")
    if kind != "goto" or target not in indexes or indexes[target] > use.step_index:
        yield document.problem(SemanticError, f"x-loop belongs on a goto that goes back to this or an earlier step (applied after step {step.get('stepId')!r})", at)
        return
    if not isinstance(loop, dict):
        return
    if loop.get("mode") == "retry" and (target != step.get("stepId") or "workflowId" in step):
        yield document.problem(SemanticError, f"x-loop mode retry is for a step that performs an operation and goes back to itself (applied after step {step.get('stepId')!r})", at)
    inputs = document.input_schema(workflow)
    for field in ("waitSeconds", "maxIterations"):
        value = loop.get(field)
        if isinstance(value, str):
            yield from _loop_expression(document, loop, field, value, inputs, pointer(at, field))


def _loop_expression(document: Document, loop: dict[str, Any], field: str, text: str, inputs: dict[str, Any], at: str) -> Iterator[ArazzoError]:
    """waitSeconds: an input, or a header or body member of the answer (with a fallback);
    maxIterations: an input. An input read here needs a default or must be required."""
    try:
        expression = parse_expression(text, document.grammar)
    except ExpressionSyntaxError as error:
        yield document.problem(SemanticError, f"x-loop {field}: {error}", at)
        return
    if isinstance(expression, InputRef):
        if not _always_given(inputs, expression.name):
            yield document.problem(SemanticError, f"x-loop {field} uses input {expression.name!r}, which needs a default or must be required", at)
    elif field == "waitSeconds" and isinstance(expression, ResponseRef) and expression.kind in ("response_header", "response_body"):
        if loop.get("fallbackWaitSeconds") is None:
            yield document.problem(
                SemanticError,
                f"x-loop waitSeconds {text} may not resolve (no such header or member): declare fallbackWaitSeconds, the wait when it does not",
                at,
            )
    else:
        what = "an $inputs expression, or one about the response ($response.header.<name>, $response.body#/<pointer>)" if field == "waitSeconds" else "an $inputs expression"
        yield document.problem(SemanticError, f"x-loop {field} {text!r}: an expression here is {what}", at)


def _pages_problems(document: Document) -> Iterator[ArazzoError]:
    """x-pages: on a step that performs an operation; `offset` and `limit` name query parameters
    the step passes (or its workflow passes it) or its operation declares; every pointer parses."""
    operations = {name: index_operations(name, source) for name, source in document.loaded.sources.items()}
    for w_index, workflow in document.workflows():
        base = f"/workflows/{w_index}"
        shared = {name for name, where in _given(document, workflow, base) if where == "query"}
        for s_index, step in enumerate(workflow.get("steps") or []):
            if not isinstance(step, dict) or not isinstance(step.get("x-pages"), dict):
                continue
            where = pointer(base, "steps", s_index)
            at = pointer(where, "x-pages")
            if "workflowId" in step:
                yield document.problem(SemanticError, f"x-pages belongs on a step that performs an operation; step {step.get('stepId')!r} calls a workflow", at)
                continue
            pages = step["x-pages"]
            for field in ("items", "next"):
                if isinstance(pages.get(field), str):
                    yield from _pages_pointer(document, field, pages[field], pointer(at, field))
            for index, member in enumerate(pages.get("select") or []):
                if isinstance(member, str):
                    yield from _pages_pointer(document, "select", member, pointer(at, "select", index))
            operation = _step_operation(step, operations, document)
            passed = shared | {name for name, given_in in _given(document, step, where) if given_in == "query"}
            declared = set(operation.query_parameters) if operation is not None else set()
            for field in ("offset", "limit"):
                name = pages.get(field)
                if isinstance(name, str) and name not in passed | declared:
                    operation_name = step.get("operationId") or step.get("operationPath")
                    yield document.problem(
                        SemanticError,
                        f"x-pages {field} {name!r} is not a query parameter of step {step.get('stepId')!r}: the step does not pass it and {operation_name} does not declare it",
                        pointer(at, field),
                    )


def _pages_pointer(document: Document, field: str, text: str, at: str) -> Iterator[ArazzoError]:
    try:
        parse_pointer(text)
    except ExpressionSyntaxError as error:
        yield document.problem(SemanticError, f"x-pages {field}: {error}", at)


def _given(document: Document, owner: dict[str, Any], at: str) -> Iterator[tuple[Any, Any]]:
    """(name, in) of each parameter a step or workflow gives."""
    for _, target, entry in document.parameters(owner, at):
        given = target or entry
        yield given.get("name"), given.get("in")


def _step_operation(step: dict[str, Any], operations: dict[str, dict[str, Operation]], document: Document) -> Operation | None:
    """The operation the step performs; None where it names none (semantics reports that)."""
    if "operationPath" in step:
        try:
            return resolve_operation_path(step["operationPath"], document.loaded.sources)
        except ValueError:
            return None
    reference = step.get("operationId")
    if not isinstance(reference, str):
        return None
    if reference.startswith("$sourceDescriptions."):
        source, _, name = reference[len("$sourceDescriptions."):].partition(".")
        return operations.get(source, {}).get(name)
    found = [ops[reference] for ops in operations.values() if reference in ops]
    return found[0] if len(found) == 1 else None
def _for_each_problems(document: Document) -> Iterator[ArazzoError]:
    """x-for-each: on a workflowId step, giving each item to an input the called workflow
    declares, reading values that are there when the step runs; the step's outcome is the
    extension's to decide, so no successCriteria or failure actions beside it."""
    workflows = {w.get("workflowId"): w for _, w in document.workflows()}
    for w_index, workflow in document.workflows():
        for s_index, step in enumerate(workflow.get("steps") or []):
            if not isinstance(step, dict) or not isinstance(step.get("x-for-each"), dict):
                continue
            spec = step["x-for-each"]
            at = pointer(f"/workflows/{w_index}/steps/{s_index}", "x-for-each")
            if "workflowId" not in step:
                yield document.problem(SemanticError, f"x-for-each belongs on a step with workflowId (step {step.get('stepId')!r} performs an operation)", at)
                continue
            if spec["input"] in FOR_EACH_RESULT_FIELDS:
                yield document.problem(
                    SemanticError,
                    f"x-for-each input {spec['input']!r}: each result names its item by the input, beside "
                    f"{', '.join(FOR_EACH_RESULT_FIELDS)}, so the input cannot be one of those",
                    pointer(at, "input"),
                )
            called = workflows.get(step["workflowId"])
            if called is not None:  # a workflow of another document is checked where it is written
                declared = (document.input_schema(called).get("properties") or {})
                if spec["input"] not in declared:
                    yield document.problem(SemanticError, f"x-for-each input {spec['input']!r}: workflow {step['workflowId']!r} declares no such input", pointer(at, "input"))
            if "pointer" in spec:
                try:
                    parse_pointer(spec["pointer"])
                except ExpressionSyntaxError as error:
                    yield document.problem(SemanticError, f"x-for-each pointer: {error}", pointer(at, "pointer"))
            inputs = document.input_schema(workflow)
            for field in ("items", "maxConcurrency", "toleratedFailures"):
                if isinstance(spec.get(field), str):
                    yield from _for_each_expression(document, field, spec[field], inputs, pointer(at, field))
            where = "step" if step.get("onFailure") else "workflow" if workflow.get("failureActions") else None
            if step.get("successCriteria") or where:
                what = "successCriteria" if step.get("successCriteria") else f"failure actions (the {where}'s)"
                yield document.problem(
                    SemanticError,
                    f"step {step.get('stepId')!r} has x-for-each and {what}: its outcome is decided by toleratedFailures "
                    "(each item's failure is reported in its results), so neither applies to it",
                    at,
                )


def _always_given(inputs: dict[str, Any], name: str) -> bool:
    """An input the workflow always has: declared with a default, or required."""
    prop = (inputs.get("properties") or {}).get(name)
    return isinstance(prop, dict) and ("default" in prop or name in (inputs.get("required") or []))


def _for_each_expression(document: Document, field: str, text: str, inputs: dict[str, Any], at: str) -> Iterator[ArazzoError]:
    """An expression of x-for-each is read by the grammar; an input it reads must be there
    when the step runs (Step Functions fails on a path that leads nowhere)."""
    try:
        expression = parse_expression(text, document.grammar)
    except ExpressionSyntaxError as error:
        yield document.problem(SemanticError, f"x-for-each {field}: {error}", at)
        return
    if isinstance(expression, InputRef):
        if not _always_given(inputs, expression.name):
            yield document.problem(SemanticError, f"x-for-each {field} uses input {expression.name!r}, which needs a default or must be required", at)
    elif expression.kind != "step_output":
        yield document.problem(SemanticError, f"x-for-each {field} {text!r}: an expression here is $inputs.<name> or $steps.<step>.outputs.<name>", at)
