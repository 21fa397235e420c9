"""Values: literals and runtime expressions become Parameters template fields: literal
values, paths into the state data, or intrinsic functions. Resolving an expression registers
what it needs: the inputs read, and what a step's function must keep of its answer."""

from __future__ import annotations

import json
from typing import Any

from arazzo_runtime.expressions import (
    Expression,
    ExpressionSyntaxError,
    Self,
    SourceDescriptionRef,
    StepOutputRef,
    Template,
    WorkflowRef,
    embedded_expressions,
    embedded_text,
    format_pointer,
    is_expression,
)
from arazzo_runtime.payload import ANSWER_EXPRESSION_KINDS, REQUEST_EXPRESSION_KINDS, RESPONSE_EXPRESSION_KINDS
from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower import selectors
from arazzo_sfn.lower.common import append_pointer, contains_expression, format_literal, member, parse_expression, template
from arazzo_sfn.lower.context import Context
from arazzo_sfn.model import Selector, SourceDescription, Step

Guaranteed = frozenset[str] | None
RESPONSE_KINDS = RESPONSE_EXPRESSION_KINDS
# What a step sent: its function resolves these in the step's own outputs and criteria only.
REQUEST_KINDS = REQUEST_EXPRESSION_KINDS


def template_entry(ctx: Context, key: str, value: Any, step: Step | None, location: Location, guaranteed: Guaranteed = None) -> tuple[str, Any]:
    """One field of a Parameters template: a literal, a path (`key.$`), or an intrinsic."""
    if key.endswith(".$"):
        raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
    if isinstance(value, Selector):
        return key + ".$", _selection_path(ctx, value, step, guaranteed)
    if isinstance(value, str):
        parts = _template(ctx, value, location)
        known = _constant_text(ctx, parts, location)
        if known is not None:
            return key, known
        if parts.expressions:
            return key + ".$", _format(ctx, parts, step, location, guaranteed)
        if is_expression(value):
            expression = _expression(ctx, value, location)
            if _is_constant(ctx, expression):
                constant = constant_value(ctx, expression, location)
                refuse_path_keys(constant, location)
                return key, constant
            return key + ".$", value_path(ctx, expression, step, location, guaranteed)
        return key, value
    if isinstance(value, dict):
        return key, dict(template_entry(ctx, k, v, step, location, guaranteed) for k, v in value.items())
    if isinstance(value, list):
        refuse_path_keys(value, location)
        if not any(_holds_expression(ctx, item) or isinstance(item, Selector) for item in value):
            return key, value
        return key + ".$", f"States.Array({', '.join(_intrinsic_argument(ctx, item, step, location, guaranteed) for item in value)})"
    return key, value


def _format(ctx: Context, parts: Template, step: Step | None, location: Location, guaranteed: Guaranteed) -> str:
    """`"job-{$inputs.id}"` becomes States.Format('job-{}', $.inputs.id): always a string."""
    pieces, arguments = [], []
    for part in parts.parts:
        if isinstance(part, Expression) and _is_constant(ctx, part):
            pieces.append(format_literal(embedded_text(constant_value(ctx, part, location))))
        elif isinstance(part, Expression):
            pieces.append("{}")
            path = value_path(ctx, part, step, location, guaranteed)
            arguments.append(path if ctx.workflow.version == "1.0" else _embedded_argument(ctx, part, path, step, location))
        else:
            pieces.append(format_literal(part))
    return f"States.Format('{''.join(pieces)}', {', '.join(arguments)})"


def _intrinsic_argument(ctx: Context, item: Any, step: Step | None, location: Location, guaranteed: Guaranteed) -> str:
    if isinstance(item, Selector):
        return _selection_path(ctx, item, step, guaranteed)
    if isinstance(item, str):
        parts = _template(ctx, item, location)
        known = _constant_text(ctx, parts, location)
        if known is not None:
            return f"'{format_literal(known)}'"
        if parts.expressions:
            return _format(ctx, parts, step, location, guaranteed)
        if is_expression(item):
            expression = _expression(ctx, item, location)
            if _is_constant(ctx, expression):
                constant = constant_value(ctx, expression, location)
                if isinstance(constant, str):
                    return f"'{format_literal(constant)}'"
                return _intrinsic_argument(ctx, constant, step, location, guaranteed)
            return value_path(ctx, expression, step, location, guaranteed)
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
    refuse_answer_of_call(expression, step, location)
    kind = expression.kind
    name = expression.name or ""
    if kind == "inputs":
        ctx.read_inputs.add(name)
        return append_pointer(member(f"{ctx.root}.inputs", name), expression.pointer, location)
    if kind in RESPONSE_KINDS:
        assert step is not None  # validation: the workflow's outputs have no current step
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
        pointer = format_pointer(expression.pointer)
        if pointer not in keep.body:
            keep.body.append(pointer)
        return append_pointer(f"{at}.body", expression.pointer, location)
    if kind in REQUEST_KINDS and choice:
        # A criterion of the step that sent the request: its function resolves the value.
        assert step is not None  # validation: the workflow's outputs have no current step
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
    dependency = _dependency_output(ctx, expression, location)
    if dependency is not None:
        return _workflow_path(ctx, dependency, location)
    raise UnsupportedConstruct(f"{expression.text!r}: {_UNSUPPORTED.get(kind, kind.replace('_', ' ') + ' expressions are not supported')}", location)


def refuse_answer_of_call(expression: Expression, step: Step | None, location: Location) -> None:
    """A step that calls a workflow sends no HTTP request and receives no response: the
    called workflow's steps do. The specification's own examples judge such a step by
    `$statusCode == 200`, with no meaning given, so it is refused rather than guessed."""
    if step is not None and step.target_kind == "workflowId" and expression.kind in ANSWER_EXPRESSION_KINDS:
        raise UnsupportedConstruct(
            f"{expression.text!r} in a step that calls a workflow is not supported: the step sends no HTTP request and receives "
            "no response of its own (the called workflow's steps do); judge what the workflow gives back, `$outputs.<name>`",
            location)


def refuse_answers_in_call_outputs(ctx: Context, step: Step) -> None:
    """Every output of a step that calls a workflow, read later or not, is checked so: an
    output is lowered only where it is read."""
    for output in step.outputs.values():
        if isinstance(output, str):
            where = step.field_locations.get("outputs", step.location)
            refuse_answer_of_call(parse_expression(output, where, ctx.workflow.version), step, where)


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


def _dependency_output(ctx: Context, expression: Expression, location: Location | None) -> WorkflowRef | None:
    """`$sourceDescriptions.<name>.<workflowId>.outputs.<output>`, the spelling other tools give
    the outputs of a workflow of another document, read as `$workflows.<workflowId>.outputs.<output>`
    where this workflow's dependsOn names `$sourceDescriptions.<name>.<workflowId>`; None elsewhere."""
    if not isinstance(expression, SourceDescriptionRef) or expression.workflow_output is None:
        return None
    entry, output = expression.workflow_output
    workflow_id = ctx.child_dependencies.get(entry)
    if workflow_id is None:
        return None
    read = parse_expression(f"$workflows.{workflow_id}.outputs.{output}", location, ctx.workflow.version)
    assert isinstance(read, WorkflowRef)  # the grammar reads that text so
    return read


def _workflow_path(ctx: Context, expression: WorkflowRef, location: Location) -> str:
    """`$workflows.<id>.outputs.<name>`: what the workflow gave back, where the call that ran
    it last left it ($.calls, the answer of a child-execution step, or for a workflow a goto or
    retry action runs, $.transfers: null until it has run); `.inputs.<name>`:
    the inputs an inlined workflow ran with (what the step gave it, with its defaults)."""
    workflow_id = expression.workflow
    transferred = workflow_id in ctx.transferred_workflows()
    if transferred and (workflow_id in ctx.calls or workflow_id in ctx.child_runs):
        raise UnsupportedConstruct(
            f"{expression.text!r} is not supported here: workflow {workflow_id!r} is run both by a goto or retry action and by a "
            "workflowId step or dependsOn, which leave its outputs in different places; which ran last is known at run time only", location)
    if workflow_id in ctx.calls:
        data = ctx.calls[workflow_id]
    elif workflow_id in ctx.child_runs and expression.field == "outputs":
        data = ctx.child_runs[workflow_id]  # a child execution's answer holds its outputs
    elif transferred and expression.field == "outputs":
        if expression.pointer:
            raise UnsupportedConstruct(
                f"{expression.text!r} is not supported: a JSON pointer into the outputs of workflow {workflow_id!r}, which a goto or retry "
                "action runs: they are null until it has run, and Step Functions fails on a path into null; read the whole output "
                f"($workflows.{workflow_id}.outputs.{expression.field_name}), or give the workflow an output for that member", location)
        data = ctx.transfer_outputs(workflow_id)  # null until a goto or retry has run it
    elif expression.field == "inputs":
        how = "runs as a child execution, whose inputs its answer does not hold" if workflow_id in ctx.child_runs or transferred else (
            "is run by no workflowId step or dependsOn before this point")
        raise UnsupportedConstruct(f"{expression.text!r} is not supported here: workflow {workflow_id!r} {how}", location)
    else:
        raise UnsupportedConstruct(
            f"{expression.text!r} is not supported here: workflow {workflow_id!r} has not been called (by a workflowId step or dependsOn) "
            "before this point, nor is it run by a goto or retry action, and Step Functions fails on a path to data that is not there", location)
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
        inner = parse_expression(output, target.location, ctx.workflow.version)
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
    context = parse_expression(selector.context, selector.location, ctx.workflow.version)
    if isinstance(context, StepOutputRef):
        target = ctx.workflow.step(context.step)
        output = target.outputs.get(context.name)
        inner = parse_expression(output, target.location, ctx.workflow.version) if isinstance(output, str) else None
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
    read["pointer"] = format_pointer(pointer)
    return member(f"{at}.reads", ctx.read(target, read))


def selection_read(ctx: Context, selector: Selector, step: Step) -> dict[str, Any]:
    """What the step's function is sent to apply a selector to its context: the context an
    expression about its answer, or one whose value it is sent in `values`."""
    context = parse_expression(selector.context, selector.location, ctx.workflow.version)
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


# --- Arazzo 1.1: expressions read by the document's grammar, embedded values by their type ------


def _template(ctx: Context, text: str, location: Location) -> Template:
    """A string's literal text and embedded expressions, read by the document's grammar."""
    return template(text, location, ctx.workflow.version)


def _expression(ctx: Context, text: str, location: Location) -> Expression:
    return parse_expression(text, location, ctx.workflow.version)


def _holds_expression(ctx: Context, value: Any) -> bool:
    """A value with a runtime expression in it, at any depth, read by the document's grammar
    (1.0 reads no `{$self}`: text to it)."""
    if ctx.workflow.version == "1.0":
        return contains_expression(value)
    if isinstance(value, str):
        try:
            return is_expression(value) or bool(embedded_expressions(value, ctx.workflow.version))
        except ExpressionSyntaxError:
            return False
    if isinstance(value, dict):
        return any(_holds_expression(ctx, item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_expression(ctx, item) for item in value)
    return False


def _is_constant(ctx: Context, expression: Expression) -> bool:
    """1.1 forms whose value the document itself gives, known when it is compiled (not the
    outputs of a dependsOn workflow of another document, which it runs)."""
    if ctx.workflow.version == "1.0" or not isinstance(expression, (Self, SourceDescriptionRef)):
        return False
    return _dependency_output(ctx, expression, None) is None


def constant_value(ctx: Context, expression: Expression, location: Location) -> Any:
    """`$self`: the document's `$self`, resolved against the document's own URI.
    `$sourceDescriptions.<name>.<reference>` ("Source Description Expression Resolution"):
    an operationId or workflowId of that source first, which names an operation or a
    workflow and is no value; then a field of the Source Description Object."""
    workflow = ctx.workflow
    if isinstance(expression, Self):
        if workflow.self_uri is None:
            raise UnsupportedConstruct(f"{expression.text!r}: the document has no `$self` field, so `$self` has no value", location)
        return workflow.self_uri
    assert isinstance(expression, SourceDescriptionRef)
    source = workflow.sources.get(expression.source_name)
    if source is None:
        raise UnsupportedConstruct(f"{expression.text!r} names no source description of the document", location)
    if expression.reference in source.ids:
        what = "workflow" if source.type == "arazzo" else "operation"
        raise UnsupportedConstruct(
            f"{expression.text!r} names the {what} {expression.reference!r} of {source.name!r} (an {what} id comes before a field): "
            f"an {what} as a value is not supported", location)
    if expression.reference not in source.fields:
        raise UnsupportedConstruct(
            f"{expression.text!r}: source description {source.name!r} has no {_id_kind(source)} of that id and no field {expression.reference!r}", location)
    return source.fields[expression.reference]


def _id_kind(source: SourceDescription) -> str:
    return "workflow" if source.type == "arazzo" else "operation"


def _constant_text(ctx: Context, parts: Template, location: Location) -> str | None:
    """The text of a string whose every embedded expression is a constant; None otherwise."""
    if not parts.expressions or not all(_is_constant(ctx, part) for part in parts.expressions):
        return None
    return "".join(part if isinstance(part, str) else embedded_text(constant_value(ctx, part, location)) for part in parts.parts)


# States.Format replaces each `{}` by "the Value of the positionally-corresponding argument"
# (AWS, Intrinsic functions, States.Format): the States Language says how a string, number,
# boolean or null is written there and nothing of an object or array (moto writes
# `{a=1, b=[true, null]}`). So an embedded value that is not a string reaches States.Format
# as States.JsonToString's text, whose JSON is the text Arazzo 1.1 asks for.
_JSON_TEXT = "States.JsonToString({})"


def _embedded_argument(ctx: Context, expression: Expression, path: str, step: Step | None, location: Location) -> str:
    """The States.Format argument that writes an embedded value as 1.1 says: a string as it
    is, any other value as JSON. Where the value's type is known now, the intrinsic says so;
    where it is known only at run time, a Choice before the Task that sends it
    (`embedded_text_states`) puts its text in the state data, and the Format reads that."""
    kind = json_type(ctx, expression)
    if kind == "string":
        return path
    if kind is not None:
        return _JSON_TEXT.format(path)
    if ctx.embedded_texts is None or step is None:
        raise UnsupportedConstruct(
            f"{expression.text!r} embedded in a string is not supported here: Arazzo 1.1 writes an embedded value by its type "
            "(a string as it is, anything else as JSON), and the type of this one is known only at run time; "
            "it is written so in a step's parameters and request body only (or give the value a type in the workflow's inputs schema)",
            location)
    known = [slot for slot, embedded in ctx.embedded_texts if embedded == path]
    slot = known[0] if known else member(f"{ctx.root}.texts", f"{ctx.step_keys[step.step_id]}_{len(ctx.embedded_texts)}")
    if not known:
        ctx.embedded_texts.append((slot, path))
    return f"{slot}.text"


def json_type(ctx: Context, expression: Expression) -> str | None:
    """The JSON type of an expression's value when the document says it: `$statusCode`, or
    a workflow input (or a part of one) whose schema gives one `type`."""
    if expression.kind == "status_code":
        return "number"
    if expression.kind != "inputs":
        return None
    schema: Any = ctx.properties.get(expression.name or "")
    for token in expression.pointer:
        if not isinstance(schema, dict):
            return None
        properties = schema.get("properties")
        if isinstance(properties, dict) and token in properties:
            schema = properties[token]
        elif isinstance(schema.get("items"), dict) and token.isdigit():
            schema = schema["items"]
        else:
            return None
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind if isinstance(kind, str) else None


def embedded_text_states(ctx: Context, name: str, then: str, texts: list[tuple[str, str]], location: Location) -> None:
    """The states that write each embedded value whose type is known only at run time as
    text, in the state data (`$.texts`), before the state `then` that embeds them: a Choice
    on its type, then a Pass that keeps a string as it is or writes anything else as JSON.
    The first is named `name`, where the transitions into the step go."""
    for index, (slot, path) in enumerate(texts):
        choice = name if index == 0 else f"{name}.Text{index}"
        following = then if index == len(texts) - 1 else f"{name}.Text{index + 1}"
        ctx.add(choice, {
            "Type": "Choice",
            "Comment": "Arazzo 1.1 embeds a string as it is and any other value as JSON.",
            "Choices": [{"Variable": path, "IsString": True, "Next": f"{name}.Text{index}.String"}],
            "Default": f"{name}.Text{index}.Json",
        }, location)
        ctx.add(f"{name}.Text{index}.String", {"Type": "Pass", "Parameters": {"text.$": path}, "ResultPath": slot, "Next": following}, location)
        ctx.add(f"{name}.Text{index}.Json", {"Type": "Pass", "Parameters": {"text.$": _JSON_TEXT.format(path)}, "ResultPath": slot, "Next": following}, location)
