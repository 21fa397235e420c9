"""The rules of the specification a schema cannot state: ids unique, every id and reference
names something that exists, each step's operation found with the path parameters it needs,
parameters unique by `name` and `in`, no loop without a way out, and no workflow that
depends on itself."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from arazzo_runtime.expressions import ExpressionSyntaxError, SourceDescriptionRef, is_expression, parse_expression, parse_pointer
from arazzo_runtime.select import JSONPOINTER, selector_type
from arazzo_sfn.errors import ArazzoError, SemanticError
from arazzo_sfn.openapi import Operation, index_operations, resolve_operation_path
from arazzo_sfn.validation.document import Document, pointer


def semantic_problems(document: Document) -> Iterator[ArazzoError]:
    yield from _unique(document, [s.get("name") for s in document.data.get("sourceDescriptions") or [] if isinstance(s, dict)], "/sourceDescriptions/{}/name", "source description name")
    yield from _unique(document, document.workflow_ids(), "/workflows/{}/workflowId", "workflowId")
    operations = {name: index_operations(name, source) for name, source in document.loaded.sources.items()}
    for w_index, workflow in document.workflows():
        base = f"/workflows/{w_index}"
        steps = workflow.get("steps") or []
        # Step ids are compared as written: getPet and GetPet are two steps.
        yield from _unique(document, [s.get("stepId") for s in steps if isinstance(s, dict)], base + "/steps/{}/stepId", "stepId")
        yield from _input_refs(document, workflow, pointer(base, "inputs"))
        for d_index, target in enumerate(workflow.get("dependsOn") or []):
            yield from _workflow_target(document, target, pointer(base, "dependsOn", d_index), "dependsOn names")
        yield from _parameters(document, workflow, base, None)
        shared_paths = {target.get("name") if target else entry.get("name") for _, target, entry in document.parameters(workflow, base) if (target or entry).get("in") == "path"}
        for s_index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            where = pointer(base, "steps", s_index)
            kind = next((k for k in ("operationId", "operationPath", "workflowId") if k in step), None)
            yield from _parameters(document, step, where, kind)
            yield from _replacement_targets(document, step.get("requestBody"), pointer(where, "requestBody"))
            if kind == "workflowId":
                yield from _workflow_target(document, step["workflowId"], pointer(where, "workflowId"), f"step {step.get('stepId')!r} calls")
            elif kind is not None and not _asyncapi_operation(document, step):
                operation = yield from _operation(document, step, kind, where, operations)
                if operation is not None:
                    yield from _path_parameters(document, step, where, operation, shared_paths)
                yield from _querystring(document, workflow, base, step, where, operation)
        yield from _action_references(document, workflow, base)
    yield from _action_targets(document)
    yield from _endless_loops(document)
    yield from _dependency_cycles(document)


def _unique(document: Document, ids: list[Any], at: str, what: str) -> Iterator[ArazzoError]:
    seen: set[Any] = set()
    for index, value in enumerate(ids):
        if value in seen:
            yield document.problem(SemanticError, f"duplicate {what} {value!r}", at.format(index))
        if isinstance(value, str):
            seen.add(value)


def _input_refs(document: Document, workflow: dict[str, Any], at: str) -> Iterator[ArazzoError]:
    inputs = workflow.get("inputs")
    if not isinstance(inputs, dict):
        return
    refs = [(pointer(at, "$ref"), inputs.get("$ref"))] if "$ref" in inputs else []
    for name, schema in (inputs.get("properties") or {}).items():
        if isinstance(schema, dict) and "$ref" in schema:
            refs.append((pointer(at, "properties", name, "$ref"), schema["$ref"]))
    for where, reference in refs:
        # Only references into the document's own components are followed; a JSON Schema $ref elsewhere is the schema's own business.
        if isinstance(reference, str) and reference.startswith("#/components/") and document.input_ref_target(reference) is None:
            yield document.problem(SemanticError, f"inputs $ref {reference!r} is not in components.inputs", where)


def _workflow_target(document: Document, target: Any, at: str, what: str) -> Iterator[ArazzoError]:
    """A workflowId: one of this document's workflows, or `$sourceDescriptions.<name>.<id>`
    where <name> is a source description of type arazzo."""
    if not isinstance(target, str):
        return
    if not target.startswith("$"):
        if target not in document.workflow_ids():
            yield document.problem(SemanticError, f"{what} unknown workflow {target!r}", at)
        return
    try:
        expression = parse_expression(target, document.grammar)
    except ExpressionSyntaxError as error:
        yield document.problem(SemanticError, f"{what} {target!r}: {error}", at)
        return
    if not isinstance(expression, SourceDescriptionRef):
        yield document.problem(SemanticError, f"{what} {target!r}: a workflow of another document is named $sourceDescriptions.<name>.<workflowId>", at)
        return
    kind = document.source_types().get(expression.source_name)
    if kind is None:
        yield document.problem(SemanticError, f"{what} {target!r}: there is no source description {expression.source_name!r}", at)
    elif kind != "arazzo":
        yield document.problem(SemanticError, f"{what} {target!r}: source description {expression.source_name!r} is {kind}, which has no workflows", at)
    else:
        other = document.loaded.documents.get(expression.source_name)
        workflows = other.arazzo.data.get("workflows") if other is not None else None
        known = {w.get("workflowId") for w in workflows if isinstance(w, dict)} if isinstance(workflows, list) else set()
        if other is not None and expression.reference not in known:
            yield document.problem(SemanticError, f"{what} {target!r}: {other.arazzo.path.name} has no workflow {expression.reference!r}", at)


def _parameters(document: Document, owner: dict[str, Any], at: str, step_kind: str | None) -> Iterator[ArazzoError]:
    """A parameter list (a step's or a workflow's own): unique by `name` and `in`, a
    reference counting as the parameter it names. A step that performs an operation says
    where each parameter goes (`in`); a step that calls a workflow passes inputs, which have
    no `in`."""
    seen: dict[tuple[Any, Any], str] = {}
    for where, target, entry in document.parameters(owner, at):
        if "reference" in entry:
            if target is None:
                yield document.problem(SemanticError, f"{entry['reference']!r} is not in components.parameters", pointer(where, "reference"))
                continue
            parameter = target
        else:
            parameter = entry
        key = (parameter.get("name"), parameter.get("in"))
        if key in seen:
            place = f" in {key[1]}" if key[1] is not None else ""
            yield document.problem(SemanticError, f"parameter {key[0]!r}{place} is given twice (first at {seen[key]})", where)
        else:
            seen[key] = where
        if step_kind in ("operationId", "operationPath") and parameter.get("in") is None:
            yield document.problem(SemanticError, f"parameter {key[0]!r} needs `in` (path, query, header or cookie): the step performs an operation", where)
        elif step_kind == "workflowId" and parameter.get("in") is not None:
            yield document.problem(SemanticError, f"a workflowId step passes inputs: parameter {key[0]!r} must not have `in`", where)


def _asyncapi_operation(document: Document, step: dict[str, Any]) -> bool:
    """A 1.1 step whose operationId may be an AsyncAPI operation: AsyncAPI descriptions are not
    read, so it is not looked for (the model refuses AsyncAPI steps as not supported)."""
    types = document.source_types()
    if "asyncapi" not in types.values():
        return False
    operation_id = step.get("operationId")
    if not isinstance(operation_id, str) or not operation_id.startswith("$sourceDescriptions."):
        return True
    return types.get(operation_id[len("$sourceDescriptions.") :].partition(".")[0]) == "asyncapi"


def _operation(document: Document, step: dict[str, Any], kind: str, where: str, operations: dict[str, dict[str, Operation]]) -> Generator[ArazzoError, None, Operation | None]:
    """The step's operation (the generator's return value), or None with the problem."""
    if kind == "operationPath":
        try:
            return resolve_operation_path(step["operationPath"], document.loaded.sources)
        except ValueError as error:
            yield document.problem(SemanticError, str(error), pointer(where, "operationPath"))
            return None
    operation_id = step["operationId"]
    at = pointer(where, "operationId")
    name = operation_id
    if operation_id.startswith("$sourceDescriptions."):
        source, _, name = operation_id[len("$sourceDescriptions.") :].partition(".")
        if source not in operations:
            yield document.problem(SemanticError, f"operationId {operation_id!r} names unknown source description {source!r}", at)
            return None
        candidates = [source] if name in operations[source] else []
    else:
        candidates = [s for s, ops in operations.items() if name in ops]
    if not candidates:
        yield document.problem(SemanticError, f"operationId {name!r} is not in any OpenAPI source description", at)
        return None
    if len(candidates) > 1:
        yield document.problem(SemanticError, f"operationId {name!r} is in several source descriptions ({', '.join(candidates)}); write $sourceDescriptions.<name>.{name}", at)
        return None
    return operations[candidates[0]][name]


def _path_parameters(document: Document, step: dict[str, Any], where: str, operation: Operation, shared: set[Any]) -> Iterator[ArazzoError]:
    supplied = {(target or entry).get("name") for _, target, entry in document.parameters(step, where) if (target or entry).get("in") == "path"}
    # The workflow's own path parameters go to the steps whose path has them.
    supplied |= shared & set(operation.path_parameters)
    name = step.get("operationId") or step.get("operationPath")
    for missing in sorted(set(operation.path_parameters) - supplied):
        yield document.problem(SemanticError, f"step {step.get('stepId')!r} does not supply path parameter {missing!r} of {name}", pointer(where, "parameters"))
    for unknown in sorted(str(p) for p in supplied - set(operation.path_parameters)):
        message = f"step {step.get('stepId')!r} supplies path parameter {unknown!r}, which {name} ({operation.method} {operation.path}) does not have"
        yield document.problem(SemanticError, message, pointer(where, "parameters"))


def _querystring(document: Document, workflow: dict[str, Any], base: str, step: dict[str, Any], where: str, operation: Operation | None) -> Iterator[ArazzoError]:
    """Arazzo 1.1, Parameter Object: a parameter `in: querystring` is the whole query string,
    so a step has at most one and "cannot coexist with `query` parameters" (the workflow's own,
    which apply to each step, count). When the operation declares its `querystring`
    parameter (OpenAPI 3.2), the step's names it."""
    given = [(at, target or entry) for at, target, entry in document.parameters(step, where)]
    own = {(parameter.get("name"), parameter.get("in")) for _, parameter in given}
    given += [(at, target or entry) for at, target, entry in document.parameters(workflow, base)
              if ((target or entry).get("name"), (target or entry).get("in")) not in own]
    strings = [(at, parameter) for at, parameter in given if parameter.get("in") == "querystring"]
    if not strings:
        return
    at, first = strings[0]
    step_id = step.get("stepId")
    for other_at, _ in strings[1:]:
        yield document.problem(SemanticError, f"step {step_id!r} gives a parameter `in: querystring` twice (first at {at}): it is the whole query string", other_at)
    for query_at, parameter in given:
        if parameter.get("in") == "query":
            yield document.problem(
                SemanticError,
                f"step {step_id!r} gives the whole query string (`in: querystring` at {at}) and query parameter {parameter.get('name')!r}: "
                "a querystring parameter cannot coexist with query parameters", query_at)
    declared = operation.querystring_parameter if operation is not None else None
    if declared is not None and first.get("name") != declared:
        yield document.problem(SemanticError, f"step {step_id!r}: the operation's querystring parameter is {declared!r}, not {first.get('name')!r}", at)


def _replacement_targets(document: Document, body: Any, at: str) -> Iterator[ArazzoError]:
    """Each JSON Pointer target names a place in the payload as written, one replacement after
    another: an existing member or item, a new member of an object, or the end of an array
    (its length or `-`). '' is the whole payload (RFC 6901); other targets are XPath. Inside a
    runtime expression the payload is known only at run time, and is not checked."""
    if not isinstance(body, dict):
        return
    payload: Any = body.get("payload")
    for index, replacement in enumerate(body.get("replacements") or []):
        target = replacement.get("target") if isinstance(replacement, dict) else None
        if isinstance(replacement, dict) and selector_type(replacement.get("targetSelectorType", JSONPOINTER))[0] != JSONPOINTER:
            continue  # Arazzo 1.1: a JSONPath or XPath target, not a pointer
        if not isinstance(target, str) or not target.startswith("/"):
            if target == "":
                payload = replacement.get("value")
            continue
        try:
            tokens = parse_pointer(target)
        except ExpressionSyntaxError:
            continue  # reported with the expressions
        parent: Any = payload
        try:
            for token in tokens[:-1]:
                if is_expression(parent):
                    break
                parent = parent[int(token)] if isinstance(parent, list) else parent[token]
            if is_expression(parent):
                continue  # a value known at run time: its members are not known here
            last = tokens[-1]
            if isinstance(parent, list):
                position = len(parent) if last == "-" else int(last)
                if not 0 <= position <= len(parent):
                    raise IndexError(position)
            elif not isinstance(parent, dict):
                raise TypeError(type(parent).__name__)
        except (KeyError, IndexError, ValueError, TypeError):
            yield document.problem(SemanticError, f"replacement target {target!r} is not a place in the payload", pointer(at, "replacements", index, "target"))
            continue
        payload = _replaced(payload, tokens, replacement.get("value"))


def _replaced(payload: Any, tokens: tuple[str, ...], value: Any) -> Any:
    """`payload` with `value` at `tokens` (a place _replacement_targets found)."""
    if not tokens:
        return value
    head, rest = tokens[0], tokens[1:]
    if is_expression(payload):
        return payload
    if isinstance(payload, list):
        position = len(payload) if head == "-" else int(head)
        items = list(payload)
        if position == len(items):
            items.append(value if not rest else None)
        else:
            items[position] = _replaced(items[position], rest, value)
        return items
    return {**payload, head: _replaced(payload[head], rest, value) if rest else value}


def _action_references(document: Document, workflow: dict[str, Any], base: str) -> Iterator[ArazzoError]:
    lists = [(pointer(base, kind), workflow.get(kind), kind) for kind in ("successActions", "failureActions")]
    for s_index, step in enumerate(workflow.get("steps") or []):
        if isinstance(step, dict):
            lists += [(pointer(base, "steps", s_index, own), step.get(own), kind) for own, kind in (("onSuccess", "successActions"), ("onFailure", "failureActions"))]
    for at, actions, kind in lists:
        for index, action in enumerate(actions or []):
            if isinstance(action, dict) and "reference" in action and document.component(action["reference"], kind) is None:
                yield document.problem(SemanticError, f"{action['reference']!r} is not in components.{kind}", pointer(at, index, "reference"))


def _action_targets(document: Document) -> Iterator[ArazzoError]:
    """Each action's step is a step of the workflow that applies it; its workflow exists."""
    reported: set[tuple[str, str]] = set()
    workflows = document.data.get("workflows") or []
    for use in document.actions():
        step_ids = {s.get("stepId") for s in document.steps(workflows[use.workflow_index])}
        action, name = use.action, use.action.get("name")
        problems = []
        target = action.get("stepId")
        if target is not None and target not in step_ids:
            problems.append(document.problem(SemanticError, f"on{use.kind.title()} action {name!r} goes to unknown step {target!r}", pointer(use.at, "stepId")))
        if "workflowId" in action:
            problems += _workflow_target(document, action["workflowId"], pointer(use.at, "workflowId"), f"on{use.kind.title()} action {name!r} goes to")
        for problem in problems:
            key = (problem.location.pointer if problem.location else "", problem.message)
            if key not in reported:
                reported.add(key)
                yield problem


def _endless_loops(document: Document) -> Iterator[ArazzoError]:
    """Steps from which no success path ever reaches an end: every way out is a goto back
    into the same set of steps, with nothing to stop it but the loop bound."""
    for w_index, workflow in document.workflows():
        steps = document.steps(workflow)
        ids = [s.get("stepId") for s in steps]
        workflow_actions = [a for a in workflow.get("successActions") or [] if isinstance(a, dict) and "reference" not in a]
        exits: dict[Any, set[Any]] = {}
        for index, step in enumerate(steps):
            targets: set[Any] = set()
            unconditional = False
            for action in list(step.get("onSuccess") or []) + workflow_actions:
                if not isinstance(action, dict) or "reference" in action:
                    continue
                if action.get("type") == "end" or action.get("workflowId"):
                    targets.add(None)
                elif action.get("type") == "goto" and action.get("stepId") in ids:
                    targets.add(action["stepId"])
                    loop = action.get("x-loop")
                    if isinstance(loop, dict) and loop.get("onLimit") == "end":
                        targets.add(None)  # at its bound the loop ends the workflow
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
        reached: set[Any] = set()
        frontier = ids[:1]
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
                yield document.problem(
                    SemanticError,
                    f"step {sid!r} can never reach the end of workflow {workflow.get('workflowId')!r}: every way on is a goto back into the same steps",
                    f"/workflows/{w_index}/steps/{index}",
                )


def _dependency_cycles(document: Document) -> Iterator[ArazzoError]:
    """A workflow whose dependsOn leads back to it can never start: each entry that closes
    such a cycle is reported where it is written."""
    depends: dict[str, list[str]] = {
        workflow["workflowId"]: [target for target in workflow.get("dependsOn") or [] if isinstance(target, str)]
        for _, workflow in document.workflows() if isinstance(workflow.get("workflowId"), str)
    }
    index = {workflow.get("workflowId"): w_index for w_index, workflow in document.workflows()}

    def reaches(start: str, goal: str) -> list[str] | None:
        """The dependsOn path from `start` to `goal`, if there is one."""
        stack, seen = [(start, [start])], {start}
        while stack:
            here, path = stack.pop()
            if here == goal:
                return path
            for target in depends.get(here, []):
                if target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
        return None

    for workflow_id, targets in depends.items():
        for d_index, target in enumerate(targets):
            path = reaches(target, workflow_id) if target in depends else None
            if path is not None:
                yield document.problem(
                    SemanticError,
                    f"workflow {workflow_id!r} depends on itself ({' -> '.join([workflow_id, *path])}): it could never start",
                    pointer(f"/workflows/{index[workflow_id]}", "dependsOn", d_index),
                )
