"""Runtime expressions: each one where the specification puts one is read by the grammar
(`arazzo_runtime.expressions`), and what it names exists. Output values are expressions, not
text; criteria contexts are expressions; the conditions of simple criteria parse, and a
regex criterion compiles as Python's `re` compiles it (the step functions evaluate it with
`re.search`). A parameter's `name` is never read as an expression: it is a name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from arazzo_runtime import conditions, criteria_1_1, select
from arazzo_runtime.expressions import (
    ComponentRef,
    Expression,
    ExpressionSyntaxError,
    InputRef,
    OutputRef,
    SourceDescriptionRef,
    StepOutputRef,
    WorkflowRef,
    has_embedded_expression,
    is_expression,
    parse_expression,
    parse_pointer,
    parse_template,
)
from arazzo_runtime.jsonpath_versions import RFC6901, RFC9535
from arazzo_runtime.payload import ANSWER_EXPRESSION_KINDS, RESPONSE_EXPRESSION_KINDS
from arazzo_sfn.errors import ArazzoError, ExpressionError
from arazzo_sfn.validation.document import Document, pointer
from arazzo_sfn.validation.extensions import FOR_EACH_OUTPUTS

# Output names (Arazzo 1.0.1, Step and Workflow Object `outputs`). The schema checks the
# names of components; its `patternProperties` lets other output names through.
KEY_PATTERN = re.compile(r"[a-zA-Z0-9.\-_]+")


@dataclass(frozen=True)
class _Scope:
    """What the expressions of one workflow may name."""

    steps: dict[str, dict[str, Any]] | None  # None: a component, whose steps are its users'
    declared_inputs: frozenset[str] | None  # None: the inputs schema allows any name
    # In a step that calls a workflow of this document: that workflow's id and outputs, which
    # `$outputs.<name>` reads.
    called: tuple[str, frozenset[str]] | None = None
    for_each: bool = False  # the step runs that workflow once per item (x-for-each)
    # Where the expressions are read: in a step that performs an operation ("operation"), in
    # one that calls a workflow ("call"), in the workflow's outputs ("workflow"); a workflow's
    # parameters, which apply to every step, in each of its steps; empty: a component, whose
    # places are its users'. `$response`/`$statusCode` need a current step in every place,
    # `$outputs` a called workflow.
    places: frozenset[str] = frozenset()
    # The workflows of other documents the workflow's dependsOn names, by the entry that names
    # them: `$workflows.<workflowId>` reads one (a workflow of this document first), and so does
    # `$sourceDescriptions.<name>.<workflowId>.outputs.<output>`.
    dependencies: dict[str, dict[str, Any]] = field(default_factory=dict)


def expression_problems(document: Document) -> Iterator[ArazzoError]:
    seen: set[tuple[str, str]] = set()
    for problem in _problems(document):
        key = (problem.location.pointer if problem.location else "", problem.message)
        if key not in seen:  # a workflow-level action is checked once for each of its steps
            seen.add(key)
            yield problem


def _problems(document: Document) -> Iterator[ArazzoError]:
    for w_index, workflow in document.workflows():
        base = f"/workflows/{w_index}"
        scope = _scope(document, workflow)
        yield from _outputs(document, workflow.get("outputs"), pointer(base, "outputs"), replace(scope, places=frozenset({"workflow"})))
        every_step = frozenset(_place(step) for step in document.steps(workflow))
        yield from _parameters(document, workflow, base, replace(scope, places=every_step))
        for s_index, step in enumerate(workflow.get("steps") or []):
            if not isinstance(step, dict):
                continue
            at = pointer(base, "steps", s_index)
            step_scope = _calling(document, step, scope)
            yield from _outputs(document, step.get("outputs"), pointer(at, "outputs"), step_scope)
            yield from _parameters(document, step, at, step_scope)
            body = step.get("requestBody")
            if isinstance(body, dict):
                yield from _values(document, body.get("payload"), pointer(at, "requestBody", "payload"), step_scope)
                for r_index, replacement in enumerate(body.get("replacements") or []):
                    if isinstance(replacement, dict):
                        yield from _replacement(document, replacement, pointer(at, "requestBody", "replacements", r_index), step_scope)
            yield from _criteria(document, step.get("successCriteria"), pointer(at, "successCriteria"), step_scope)
    for use in document.actions():
        workflow = document.data["workflows"][use.workflow_index]
        scope = _calling(document, workflow["steps"][use.step_index], _scope(document, workflow))
        yield from _criteria(document, use.action.get("criteria"), pointer(use.at, "criteria"), scope)
        fail = use.action.get("x-fail")
        if isinstance(fail, dict):
            yield from _values(document, fail.get("cause"), pointer(use.at, "x-fail", "cause"), scope)
        loop = use.action.get("x-loop")
        if isinstance(loop, dict):
            yield from _values(document, loop.get("cause"), pointer(use.at, "x-loop", "cause"), scope)
    yield from _components(document)
    yield from _output_cycles(document)


def _scope(document: Document, workflow: dict[str, Any]) -> _Scope:
    inputs = document.input_schema(workflow)
    # Only a schema that forbids other properties makes an undeclared input an error: an
    # allowed one that is absent at run time reads as null.
    closed = inputs.get("additionalProperties") is False
    declared = frozenset((inputs.get("properties") or {}).keys()) if closed else None
    steps = {step["stepId"]: step for step in document.steps(workflow) if isinstance(step.get("stepId"), str)}
    dependencies: dict[str, dict[str, Any]] = {}
    for target in workflow.get("dependsOn") or []:
        other = _other_document_workflow(document, target) if isinstance(target, str) and target.startswith("$") else None
        if other is not None:
            dependencies[target] = other
    return _Scope(steps, declared, dependencies=dependencies)


def _place(step: dict[str, Any]) -> str:
    return "call" if "workflowId" in step else "operation"


def _calling(document: Document, step: dict[str, Any], scope: _Scope) -> _Scope:
    """The scope of a step: one that calls a workflow (of this document, or of another one,
    `$sourceDescriptions.<name>.<workflowId>`) reads its outputs; one that runs it once per
    item (x-for-each) offers the items' results and counts instead."""
    scope = replace(scope, places=frozenset({_place(step)}))
    if "workflowId" in step and isinstance(step.get("x-for-each"), dict):
        return replace(scope, called=(step["workflowId"], frozenset(FOR_EACH_OUTPUTS)), for_each=True)
    target = step.get("workflowId")
    workflows = {w.get("workflowId"): w for _, w in document.workflows()}
    called = workflows.get(target)
    if called is None and isinstance(target, str) and target.startswith("$"):
        called = _other_document_workflow(document, target)
    if not isinstance(called, dict):
        return scope
    outputs = called.get("outputs")
    return replace(scope, called=(str(target), frozenset(outputs if isinstance(outputs, dict) else {})))


def _other_document_workflow(document: Document, target: str) -> dict[str, Any] | None:
    """The workflow `$sourceDescriptions.<name>.<workflowId>` names, when its document is loaded."""
    try:
        expression = parse_expression(target, document.grammar)
    except ExpressionSyntaxError:
        return None  # reported with the step's workflowId
    if not isinstance(expression, SourceDescriptionRef):
        return None
    other = document.loaded.documents.get(expression.source_name)
    workflows = other.arazzo.data.get("workflows") if other is not None else None
    for workflow in workflows if isinstance(workflows, list) else []:
        if isinstance(workflow, dict) and workflow.get("workflowId") == expression.reference:
            return workflow
    return None


# --- where expressions are ---------------------------------------------------------------------


def _outputs(document: Document, outputs: Any, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    """Each output: a name of letters, digits, '.', '-', '_', and a runtime expression."""
    if not isinstance(outputs, dict):
        return
    for name, value in outputs.items():
        where = pointer(at, name)
        if not KEY_PATTERN.fullmatch(str(name)):
            yield document.problem(ExpressionError, f"output name {name!r}: names are letters, digits, '.', '-' and '_'", where)
        if _is_selector(document, value):
            yield from _selector(document, value, where, scope)
            continue
        if not is_expression(value):
            yield document.problem(ExpressionError, f"output {name!r} is {value!r}: an output value is a runtime expression, such as $response.body#/id", where)
            continue
        yield from _expression(document, value, where, scope)


def _parameters(document: Document, owner: dict[str, Any], at: str, scope: _Scope) -> Iterator[ArazzoError]:
    for where, target, entry in document.parameters(owner, at):
        if "reference" in entry:
            if "value" in entry:
                yield from _values(document, entry["value"], pointer(where, "value"), scope)
            elif target is not None:
                # The component's value, as this step reads it; the problem is in the component.
                yield from _values(document, target.get("value"), pointer(document.component_at(entry["reference"], "parameters"), "value"), scope)
        else:
            yield from _values(document, entry.get("value"), pointer(where, "value"), scope)


def _replacement(document: Document, replacement: dict[str, Any], at: str, scope: _Scope) -> Iterator[ArazzoError]:
    target = replacement.get("target")
    # '' or '/...': a JSON Pointer ('' is the whole body, RFC 6901); anything else is XPath.
    kind = select.selector_type(replacement.get("targetSelectorType", select.JSONPOINTER))[0]
    if kind == select.JSONPATH:
        yield from _selector_syntax(document, target, replacement["targetSelectorType"], pointer(at, "target"))
    elif kind == select.JSONPOINTER and isinstance(target, str) and (target == "" or target.startswith("/")):
        try:
            parse_pointer(target)
        except ExpressionSyntaxError as error:
            yield document.problem(ExpressionError, f"replacement target: {error}", pointer(at, "target"))
    yield from _values(document, replacement.get("value"), pointer(at, "value"), scope)


def _values(document: Document, value: Any, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    """Expressions in a value: a string starting with `$` is one, `{$...}` embeds one; of a
    Selector Object (1.1), its context is one (its selector is JSONPath, XPath or a pointer)."""
    if _is_selector(document, value):
        yield from _selector(document, value, at, scope)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _values(document, item, pointer(at, key), scope)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values(document, item, pointer(at, index), scope)
    elif has_embedded_expression(value):
        try:
            template = parse_template(value, document.grammar)
        except ExpressionSyntaxError as error:
            yield document.problem(ExpressionError, str(error), at)
            return
        for expression in template.expressions:
            yield from _names(document, expression, at, scope)
    elif is_expression(value):
        yield from _expression(document, value, at, scope)


def _selector(document: Document, value: dict[str, Any], at: str, scope: _Scope) -> Iterator[ArazzoError]:
    """A Selector Object: its context an expression, its selector one of its type (a JSON
    Pointer, an RFC 9535 JSONPath query). Goessner's JSONPath and XPath are not read here:
    the compiler says which it cannot evaluate."""
    yield from _expression(document, value["context"], pointer(at, "context"), scope)
    yield from _selector_syntax(document, value.get("selector"), value.get("type"), pointer(at, "selector"))


def _selector_syntax(document: Document, text: Any, written_type: Any, at: str) -> Iterator[ArazzoError]:
    kind, version = select.selector_type(written_type)
    if kind not in select.SELECTOR_TYPES or (version or select.default_version(kind)) not in (RFC9535, RFC6901):
        return
    try:
        select.compile_selector(text, kind, version)
    except select.SelectorError as error:
        yield document.problem(ExpressionError, f"selector: {error}", at)


def _is_selector(document: Document, value: Any) -> bool:
    """A Selector Object (Arazzo 1.1): an object with a context and a selector, as the 1.1
    schema (mended) reads one where a value may be a constant or a selector."""
    return document.version == "1.1" and isinstance(value, dict) and "context" in value and "selector" in value


def _criteria(document: Document, criteria: Any, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    for index, criterion in enumerate(criteria or []):
        if not isinstance(criterion, dict):
            continue
        where = pointer(at, index)
        kind, version = select.selector_type(criterion.get("type", "simple"))  # a string, or an Expression Type Object
        context = criterion.get("context")
        if context is not None:
            yield from _expression(document, context, pointer(where, "context"), scope)
        condition = criterion.get("condition")
        if not isinstance(condition, str):
            continue
        if document.version == "1.1" and kind in ("regex", "jsonpath", "jsonpointer"):
            yield from _condition_1_1(document, kind, version, condition, pointer(where, "condition"), scope)
        elif kind == "simple":
            yield from _simple_condition(document, condition, pointer(where, "condition"), scope)
        elif kind == "regex":
            try:
                re.compile(condition)
            except re.error as error:
                yield document.problem(ExpressionError, f"regex {condition!r} does not compile (Python's re): {error}", pointer(where, "condition"))


def _condition_1_1(document: Document, kind: str, version: Any, condition: str, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    """Arazzo 1.1 embeds runtime expressions in a regex, jsonpath or jsonpointer condition as
    `{$...}`, substituted before it is read; a condition without any is checked as it is: a
    pattern (Python's re), an RFC 9535 query, a JSON Pointer. A Goessner query has no
    grammar to be invalid by; what cannot be evaluated of it is refused when it is lowered."""
    try:
        template = criteria_1_1.condition_template(condition)
    except ExpressionSyntaxError as error:
        yield document.problem(ExpressionError, str(error), at)
        return
    for expression in template.expressions:
        yield from _names(document, expression, at, scope)
    if template.expressions or (kind == "jsonpath" and version not in (None, RFC9535)):
        return
    try:
        criteria_1_1.matcher(kind, version, condition)
    except criteria_1_1.QueryError as error:
        yield document.problem(ExpressionError, f"invalid {kind} condition: {error}", at)


def _simple_condition(document: Document, condition: str, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    try:
        tree = conditions.parse_condition(condition, document.grammar)
    except conditions.ConditionSyntaxError as error:
        yield document.problem(ExpressionError, str(error), at)
        return
    for operand in _operands(tree):
        try:
            expression = parse_expression(operand.text, document.grammar)
        except ExpressionSyntaxError:
            continue  # a JSONPath operand (`$.a`, `@`), not a runtime expression
        yield from _names(document, expression, at, scope)


def _operands(tree: conditions.Condition) -> Iterator[conditions.Operand]:
    if isinstance(tree, conditions.Operand):
        yield tree
    elif isinstance(tree, conditions.Comparison):
        for side in (tree.left, tree.right):
            if isinstance(side, conditions.Operand):
                yield side
    elif isinstance(tree, conditions.Not):
        yield from _operands(tree.term)
    elif isinstance(tree, (conditions.And, conditions.Or)):
        for term in tree.terms:
            yield from _operands(term)


# --- one expression ------------------------------------------------------------------------------


def _expression(document: Document, text: Any, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    try:
        expression = parse_expression(text, document.grammar)
    except ExpressionSyntaxError as error:
        yield document.problem(ExpressionError, str(error), at)
        return
    yield from _names(document, expression, at, scope)


def _names(document: Document, expression: Expression, at: str, scope: _Scope) -> Iterator[ArazzoError]:
    """What the expression names exists: the input, the step and its output, the workflow and
    its output, the source description, the component."""
    text = expression.text
    # In the workflow's outputs no step is current. A step that calls a workflow is one, and
    # the specification's own examples judge it by `$statusCode`: valid, and refused by the
    # lowering as not supported (such a step sends and receives nothing itself).
    if expression.kind in ANSWER_EXPRESSION_KINDS and "workflow" in scope.places:
        what = "HTTP response" if expression.kind in RESPONSE_EXPRESSION_KINDS else "HTTP request"
        yield document.problem(ExpressionError, f"{text!r} means the current step's {what}; there is none in the workflow's outputs", at)
    if isinstance(expression, OutputRef) and scope.places & {"workflow", "operation"}:
        yield document.problem(ExpressionError, f"{text!r}: $outputs means a called workflow's outputs, in a step that calls a workflow", at)
    if isinstance(expression, InputRef):
        if scope.declared_inputs is not None and expression.name not in scope.declared_inputs:
            yield document.problem(ExpressionError, f"{text!r}: the workflow has no input {expression.name!r}", at)
    elif isinstance(expression, OutputRef) and scope.called is not None:
        workflow_id, outputs = scope.called
        if expression.name not in outputs and scope.for_each:
            offered = ", ".join(f"$outputs.{name}" for name in FOR_EACH_OUTPUTS)
            yield document.problem(ExpressionError, f"{text!r}: a step with x-for-each offers {offered} (each item's result, and the counts by outcome)", at)
        elif expression.name not in outputs:
            yield document.problem(ExpressionError, f"{text!r}: workflow {workflow_id!r}, which the step calls, has no output {expression.name!r}", at)
    elif isinstance(expression, StepOutputRef) and scope.steps is not None:
        step = scope.steps.get(expression.step)
        if step is None:
            yield document.problem(ExpressionError, f"{text!r}: there is no step {expression.step!r}", at)
        elif expression.name not in (step.get("outputs") or {}):
            yield document.problem(ExpressionError, f"{text!r}: step {expression.step!r} has no output {expression.name!r}", at)
        elif expression.pointer:
            inner = _parsed(step["outputs"][expression.name], document.grammar)
            if inner is not None and (inner.kind in ("status_code", "response_header", "url", "method") or (inner.kind == "request" and inner.name is not None)):
                message = f"{text!r}: output {expression.name!r} of step {expression.step!r} is {inner.text}, which has no members to point into"
                yield document.problem(ExpressionError, message, at)
    elif isinstance(expression, WorkflowRef):
        workflows = {w.get("workflowId"): w for _, w in document.workflows()}
        target = workflows.get(expression.workflow)
        other = next((w for w in scope.dependencies.values() if w.get("workflowId") == expression.workflow), None) if target is None else None
        if other is not None:
            # Its inputs schema is its own document's, and what it ran with is not read (the lowering says so).
            if expression.field == "outputs" and expression.name not in (other.get("outputs") or {}):
                yield document.problem(ExpressionError, f"{text!r}: workflow {expression.workflow!r}, which dependsOn names, has no output {expression.name!r}", at)
        elif target is None:
            yield document.problem(ExpressionError, f"{text!r}: there is no workflow {expression.workflow!r}", at)
        elif expression.field == "outputs" and expression.name not in (target.get("outputs") or {}):
            yield document.problem(ExpressionError, f"{text!r}: workflow {expression.workflow!r} has no output {expression.name!r}", at)
        elif expression.field == "inputs":
            inputs = document.input_schema(target)
            if inputs.get("additionalProperties") is False and expression.name not in (inputs.get("properties") or {}):
                yield document.problem(ExpressionError, f"{text!r}: workflow {expression.workflow!r} has no input {expression.name!r}", at)
    elif isinstance(expression, SourceDescriptionRef):
        if expression.source_name not in document.source_types():
            yield document.problem(ExpressionError, f"{text!r}: there is no source description {expression.source_name!r}", at)
        entry, output = expression.workflow_output or ("", "")
        other = scope.dependencies.get(entry)
        name = output.partition("#")[0]
        if other is not None and name not in (other.get("outputs") or {}):
            yield document.problem(ExpressionError, f"{text!r}: workflow {other.get('workflowId')!r}, which dependsOn names, has no output {name!r}", at)
    elif isinstance(expression, ComponentRef):
        if document.component(text, expression.component_type) is None and not (
            expression.component_type == "inputs" and document.input_ref_target(f"#/components/inputs/{expression.name}")
        ):
            yield document.problem(ExpressionError, f"{text!r} is not in components.{expression.component_type}", at)


def _output_cycles(document: Document) -> Iterator[ArazzoError]:
    """Step outputs that are each other's value, round in a cycle, have none: each output on
    the cycle is refused, naming the cycle."""
    for w_index, workflow in document.workflows():
        steps = workflow.get("steps") or []
        ids = {step.get("stepId") for step in steps if isinstance(step, dict)}
        follows: dict[tuple[str, str], tuple[str, str]] = {}  # an output -> the output it is
        where: dict[tuple[str, str], str] = {}
        for s_index, step in enumerate(steps):
            outputs = step.get("outputs") if isinstance(step, dict) else None
            for name, value in (outputs.items() if isinstance(outputs, dict) else ()):
                # A Selector Object's (1.1) value is its context's, selected.
                inner = _parsed(value["context"] if _is_selector(document, value) else value, document.grammar)
                if isinstance(inner, StepOutputRef) and inner.step in ids:
                    node = (str(step.get("stepId")), str(name))
                    follows[node] = (inner.step, inner.name)
                    where[node] = pointer(f"/workflows/{w_index}", "steps", s_index, "outputs", name)
        for start in follows:
            path, node = [start], follows[start]
            while node in follows and node not in path:
                path.append(node)
                node = follows[node]
            if node == start:
                cycle = " -> ".join(f"$steps.{step}.outputs.{name}" for step, name in [*path, start])
                yield document.problem(ExpressionError, f"step outputs refer to each other in a cycle: {cycle}", where[start])


def _parsed(text: Any, version: str) -> Expression | None:
    """An expression as the grammar reads it; None when it does not (reported where it is)."""
    try:
        return parse_expression(text, version)
    except ExpressionSyntaxError:
        return None


def _components(document: Document) -> Iterator[ArazzoError]:
    """The expressions of every component are read by the grammar, whether a step uses it
    or not; what they name is checked where a step uses them."""
    components = document.data.get("components")
    if not isinstance(components, dict):
        return
    anywhere = _Scope(None, None)
    for name, component in (components.get("parameters") or {}).items():
        if isinstance(component, dict):
            yield from _values(document, component.get("value"), pointer("/components/parameters", name, "value"), anywhere)
    for kind in ("successActions", "failureActions"):
        for name, component in (components.get(kind) or {}).items():
            if isinstance(component, dict):
                yield from _criteria(document, component.get("criteria"), pointer("/components", kind, name, "criteria"), anywhere)
