"""Values: literals and runtime expressions become Parameters template fields: literal
values, paths into the state data, or intrinsic functions. Resolving an expression registers
what it needs: the inputs read, and what a step's function must keep of its answer."""

from __future__ import annotations

import json
from typing import Any

from arazzo_runtime.expressions import Expression, StepOutputRef, Template, WorkflowRef, is_expression
from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower import selectors
from arazzo_sfn.lower.common import append_pointer, contains_expression, format_literal, member, parse_expression, template
from arazzo_sfn.lower.context import Context
from arazzo_sfn.model import Selector, Step

Guaranteed = frozenset[str] | None
RESPONSE_KINDS = ("status_code", "response_body", "response_header")
# What a step sent: its function resolves these in the step's own outputs and criteria only.
REQUEST_KINDS = ("url", "method", "request")


def template_entry(ctx: Context, key: str, value: Any, step: Step | None, location: Location, guaranteed: Guaranteed = None) -> tuple[str, Any]:
    """One field of a Parameters template: a literal, a path (`key.$`), or an intrinsic."""
    if key.endswith(".$"):
        raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
    if isinstance(value, Selector):
        return key + ".$", _selection_path(ctx, value, step, guaranteed)
    if isinstance(value, str):
        parts = template(value, location)
        if parts.expressions:
            return key + ".$", _format(ctx, parts, step, location, guaranteed)
        if is_expression(value):
            return key + ".$", value_path(ctx, parse_expression(value, location), step, location, guaranteed)
        return key, value
    if isinstance(value, dict):
        return key, dict(template_entry(ctx, k, v, step, location, guaranteed) for k, v in value.items())
    if isinstance(value, list):
        refuse_path_keys(value, location)
        if not any(contains_expression(item) or isinstance(item, Selector) for item in value):
            return key, value
        return key + ".$", f"States.Array({', '.join(_intrinsic_argument(ctx, item, step, location, guaranteed) for item in value)})"
    return key, value


def _format(ctx: Context, parts: Template, step: Step | None, location: Location, guaranteed: Guaranteed) -> str:
    """`"job-{$inputs.id}"` becomes States.Format('job-{}', $.inputs.id): always a string."""
    pieces, arguments = [], []
    for part in parts.parts:
        if isinstance(part, Expression):
            pieces.append("{}")
            arguments.append(value_path(ctx, part, step, location, guaranteed))
        else:
            pieces.append(format_literal(part))
    return f"States.Format('{''.join(pieces)}', {', '.join(arguments)})"


def _intrinsic_argument(ctx: Context, item: Any, step: Step | None, location: Location, guaranteed: Guaranteed) -> str:
    if isinstance(item, Selector):
        return _selection_path(ctx, item, step, guaranteed)
    if isinstance(item, str):
        parts = template(item, location)
        if parts.expressions:
            return _format(ctx, parts, step, location, guaranteed)
        if is_expression(item):
            return value_path(ctx, parse_expression(item, location), step, location, guaranteed)
        return f"'{format_literal(item)}'"
    if item is None:
        raise UnsupportedConstruct("null cannot stand in an array that holds runtime expressions (States.Array has no null literal)", location)
    if isinstance(item, (bool, int, float)):
        return json.dumps(item)
    raise UnsupportedConstruct("runtime expressions in arrays that also hold objects or arrays are not supported yet", location)


def value_path(
    ctx: Context, expression: Expression, step: Step | None, location: Location, guaranteed: Guaranteed = None,
    seen: tuple[tuple[str, str], ...] = (), *, choice: bool = False,
) -> str:
    """The state-data path of an expression's value. A Choice rule (`choice`) may read a
    path that leads nowhere (its rules test IsPresent first); anything else may not, so
    what it reads of a response is resolved by the step's function (null when it does not
    resolve) and read from the step's `outputs` or `reads`."""
    kind = expression.kind
    name = expression.name or ""
    if kind == "inputs":
        ctx.read_inputs.add(name)
        return append_pointer(member(f"{ctx.root}.inputs", name), expression.pointer, location)
    if kind in RESPONSE_KINDS:
        assert step is not None and step.target_kind != "workflowId"  # validation: only a step that performs an operation has a response
        at = ctx.step_path(step.step_id)
        if kind == "status_code":
            return f"{at}.statusCode"
        if not choice:
            return member(f"{at}.reads", ctx.read(step, expression.text))
        keep = ctx.keep(step)
        if kind == "response_header":
            header = name.lower()
            if header not in keep.headers:
                keep.headers.append(header)
            return member(f"{at}.headers", header)
        pointer = "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in expression.pointer)
        if pointer not in keep.body:
            keep.body.append(pointer)
        return append_pointer(f"{at}.body", expression.pointer, location)
    if kind in REQUEST_KINDS and choice:
        # A criterion of the step that sent the request: its function resolves the value.
        assert step is not None and step.target_kind != "workflowId"  # validation: only a step that performs an operation sends a request
        return member(f"{ctx.step_path(step.step_id)}.reads", ctx.read(step, expression.text))
    if kind == "step_output":
        return _step_output_path(ctx, expression, step, location, guaranteed, seen)
    if kind == "outputs":
        # In a workflowId step: the called workflow's outputs.
        assert step is not None and step.target_kind == "workflowId"  # validation: $outputs is read only where a workflow is called
        if step.for_each is not None:
            # Each item's result and the counts by outcome (validation: nothing else).
            return append_pointer(member(ctx.step_path(step.step_id), name), expression.pointer, location)
        if ctx.is_child_step(step):
            return append_pointer(member(f"{ctx.step_path(step.step_id)}.outputs", name), expression.pointer, location)
        return append_pointer(member(f"{ctx.root}.calls.{ctx.step_keys[step.step_id]}.outputs", name), expression.pointer, location)
    if isinstance(expression, WorkflowRef):
        return _workflow_path(ctx, expression, location)
    raise UnsupportedConstruct(f"{expression.text!r}: {_UNSUPPORTED.get(kind, kind.replace('_', ' ') + ' expressions are not supported')}", location)


# Forms of the grammar that no value of the state data stands for.
_UNSUPPORTED = {
    "request": "$request expressions are not supported here: what a step sent is known to its function only, "
               "which resolves them in that step's outputs and criteria (a step's parameters and body are what it is still building)",
    "url": "$url is not supported here: the URL a step called is known to its function only, "
           "which resolves it in that step's outputs and criteria (a step's parameters and body are what it is still building)",
    "method": "$method is not supported here: the method a step used is known to its function only, "
              "which resolves it in that step's outputs and criteria",
    "response_other": "$response.query and $response.path are not supported: a response has neither",
    "components": "$components expressions are not supported as values: they name reusable objects of the document",
    "source_description": "$sourceDescriptions expressions are not supported as values: they name an operation or workflow",
    "self": "$self is not supported as a value",
    "message": "$message expressions are not supported: no step here exchanges messages",
}


def _workflow_path(ctx: Context, expression: WorkflowRef, location: Location) -> str:
    """`$workflows.<id>.outputs.<name>`: what the workflow gave back, where the call that ran
    it last left it ($.calls, or the answer of a child-execution step); `.inputs.<name>`:
    the inputs an inlined workflow ran with (what the step gave it, with its defaults)."""
    workflow_id = expression.workflow
    if workflow_id in ctx.calls:
        data = ctx.calls[workflow_id]
    elif workflow_id in ctx.child_runs and expression.field == "outputs":
        data = ctx.child_runs[workflow_id]  # a child execution's answer holds its outputs
    elif expression.field == "inputs":
        how = "runs as a child execution, whose inputs its answer does not hold" if workflow_id in ctx.child_runs else (
            "is run by no workflowId step or dependsOn before this point")
        raise UnsupportedConstruct(f"{expression.text!r} is not supported here: workflow {workflow_id!r} {how}", location)
    else:
        raise UnsupportedConstruct(
            f"{expression.text!r} is not supported here: workflow {workflow_id!r} has not been called (by a workflowId step or dependsOn) "
            "before this point, and Step Functions fails on a path to data that is not there", location)
    return append_pointer(member(f"{data}.{expression.field}", expression.field_name), expression.pointer, location)


def _step_output_path(ctx: Context, expression: Expression, step: Step | None, location: Location, guaranteed: Guaranteed, seen: tuple[tuple[str, str], ...]) -> str:
    target_id = expression.step or ""
    name = expression.name or ""
    target = ctx.workflow.step(target_id)
    if guaranteed is not None:
        available = guaranteed
    else:
        assert step is not None  # only the workflow's outputs, which give `guaranteed`, have no step
        available = ctx.guaranteed[step.step_id] | {step.step_id}
    if target_id not in available:
        raise UnsupportedConstruct(
            f"{expression.text!r} is not supported here: step {target_id!r} has not always run by this point, and Step Functions "
            "fails on a path to data that is not there", location)
    assert (target_id, name) not in seen  # validation: step outputs do not refer to each other in a cycle
    output = target.outputs[name]
    if isinstance(output, Selector):
        selected = selectors.as_expression(output)
        if selected is None:
            return _selected_output(ctx, target, name, output, expression.pointer)
        inner = selected
    else:
        inner = parse_expression(output, target.location)
    if inner.kind in (*RESPONSE_KINDS, *REQUEST_KINDS) and target.target_kind != "workflowId":
        # The step's function resolves what its outputs read of its answer and of the request
        # it sent: null when it does not resolve.
        at = ctx.step_path(target_id)
        if not expression.pointer:
            ctx.keep(target).outputs[name] = inner.text
            return member(f"{at}.outputs", name)
        # Validation: only a body has members to point into.
        return member(f"{at}.reads", ctx.read(target, inner.with_pointer(expression.pointer).text))
    if inner.kind in (*RESPONSE_KINDS, "inputs", "step_output", "outputs", "workflow_output", "workflow_input"):
        path = value_path(ctx, inner, target, target.location, ctx.guaranteed[target_id] | {target_id}, seen + ((target_id, name),))
        return append_pointer(path, expression.pointer, location)
    raise UnsupportedConstruct(f"output {name!r} of step {target_id!r}: {inner.kind} expressions are not supported yet", target.location)


def _selection_path(ctx: Context, selector: Selector, step: Step | None, guaranteed: Guaranteed) -> str:
    """An Arazzo 1.1 Selector Object where no function applies it (a workflow's outputs, a
    step that calls a workflow, or a step's request once its function's selections are
    taken out): the path of the expression it is (`lower.selectors`), or not supported."""
    expression = selectors.as_expression(selector)
    if expression is not None:
        return value_path(ctx, expression, step, selector.location, guaranteed)
    context = parse_expression(selector.context, selector.location)
    if isinstance(context, StepOutputRef):
        target = ctx.workflow.step(context.step)
        output = target.outputs.get(context.name)
        inner = parse_expression(output, target.location) if isinstance(output, str) else None
        if inner is not None and inner.kind in (*RESPONSE_KINDS, *REQUEST_KINDS) and target.target_kind != "workflowId":
            # The step whose answer the context is applies the selector with its answer.
            _refuse_unless_run(ctx, context, step, guaranteed, selector.location)
            read = {"context": inner.with_pointer(context.pointer).text if context.pointer else inner.text, **selectors.spec(selector)}
            return member(f"{ctx.step_path(target.step_id)}.reads", ctx.read(target, read))
    raise selectors.refuse_without_function(selector, "a workflow's outputs or the parameters of a step that calls a workflow, "
                                            "unless its context is what a step's function read of its answer")


def _refuse_unless_run(ctx: Context, expression: Expression, step: Step | None, guaranteed: Guaranteed, location: Location) -> None:
    """A step's output can be read only where the step has always run."""
    if guaranteed is None:
        assert step is not None  # only the workflow's outputs, which give `guaranteed`, have no step
        guaranteed = ctx.guaranteed[step.step_id] | {step.step_id}
    if (expression.step or "") not in guaranteed:
        raise UnsupportedConstruct(
            f"{expression.text!r} is not supported here: step {expression.step!r} has not always run by this point, and Step Functions "
            "fails on a path to data that is not there", location)


def _selected_output(ctx: Context, target: Step, name: str, selector: Selector, pointer: tuple[str, ...]) -> str:
    """A step output that is a Selector Object its function applies: resolved with the
    step's other outputs (`keep.outputs`), or, read with a pointer into it, as a read."""
    if target.target_kind == "workflowId":
        raise selectors.refuse_without_function(selector, "the outputs of a step that calls a workflow")
    read = selection_read(ctx, selector, target)
    at = ctx.step_path(target.step_id)
    if not pointer:
        ctx.keep(target).outputs[name] = read
        return member(f"{at}.outputs", name)
    read["pointer"] = "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in pointer)
    return member(f"{at}.reads", ctx.read(target, read))


def selection_read(ctx: Context, selector: Selector, step: Step) -> dict[str, Any]:
    """What the step's function is sent to apply a selector to its context: the context an
    expression about its answer, or one whose value it is sent in `values`."""
    context = parse_expression(selector.context, selector.location)
    if context.kind not in (*RESPONSE_KINDS, *REQUEST_KINDS):
        values = ctx.evaluation(step).values
        if not any(value["expression"] == context.text for value in values.values()):
            values[f"v{len(values)}"] = {"expression": context.text, "value.$": value_path(ctx, context, step, selector.location)}
    return {"context": context.text, **selectors.spec(selector)}


def refuse_path_keys(value: Any, location: Location) -> None:
    """A literal that Step Functions would read as paths: a member name ending in `.$`, at any
    depth (arrays included), cannot be written in a Parameters template."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).endswith(".$"):
                raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
            refuse_path_keys(item, location)
    elif isinstance(value, list):
        for item in value:
            refuse_path_keys(item, location)
