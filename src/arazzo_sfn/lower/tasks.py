"""Pass: tasks. The Task that performs each step's operation, built once every other pass
has said what its function is asked besides the request: the criteria it evaluates, the
values they read, what the workflow keeps of its answer, and the loop it counts or repeats.

The routing places each Task (`place_task`): its request and its Catch are known there, and
its place in the reading order is kept; this pass builds them all."""

from __future__ import annotations

from typing import Any, cast

from arazzo_runtime import payload as contract
from arazzo_runtime import select
from arazzo_runtime.expressions import format_pointer, is_expression, parse_pointer
from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower import selectors
from arazzo_sfn.lower.common import DEFAULT_SUCCESS, LAMBDA_SERVICE_RETRY, apply_replacements, parse_expression, replacement_target, whole_expression
from arazzo_sfn.lower.context import Context, Evaluation, Keep, TaskSlot, operation
from arazzo_sfn.lower.criteria import criterion_spec
from arazzo_sfn.lower.values import embedded_text_states, template_entry, value_path
from arazzo_sfn.model import PagesSpec, RetryPolicy, Selector, Step

# What a step function raises while a retry-form loop goes on (`arazzo_runtime.errors`).
LOOP_AGAIN_ERROR = "LoopAgain"


def place_task(ctx: Context, step: Step, name: str, next_state: str) -> None:
    """Keep a place for the Task that performs the step's operation (its answer lands in
    $.steps.<step>); its request is resolved now, in reading order."""
    request, texts = _request_with_texts(ctx, step)
    if texts:
        embedded_text_states(ctx, name, f"{name}.Request", texts, step.location)
        name = f"{name}.Request"
    catch: tuple[dict[str, Any], ...] = ()
    if ctx.failure_actions(step):
        # Errors that survive the retries are step failures too, so failure actions apply.
        unresolved = {output: None for output in sorted(step.outputs)}
        catch = ({"ErrorEquals": ["States.ALL"], "ResultPath": ctx.step_path(step.step_id),
                  "Next": caught(ctx, step, unresolved, f"{step.step_id}.OnFailure")},)
    ctx.reserve(name, step.location)
    ctx.task_slots.append(TaskSlot(step, name, next_state, request, catch))


def caught(ctx: Context, step: Step, unresolved: dict[str, None], failure_route: str) -> str:
    """Where a caught error goes: it takes the place of the step's answer, so when the step
    has outputs, a Pass first gives them as null (later steps and the workflow's outputs
    read them as outputs that do not resolve), then the failure actions apply."""
    if not unresolved:
        return failure_route
    name = f"{step.step_id}.Caught"
    if ctx.first_time(("caught", step.step_id)):
        ctx.add(name, {
            "Type": "Pass",
            "Comment": "The error took the place of the step's answer: its outputs are null.",
            "Result": unresolved,
            "ResultPath": f"{ctx.step_path(step.step_id)}.outputs",
            "Next": failure_route,
        }, step.location)
    return name


def lower(ctx: Context) -> None:
    """Build every placed Task. The success criteria each function reports (`keep.success`)
    may read values of other steps, so all are resolved before any Task is built."""
    success: dict[str, list[dict[str, Any]]] = {}
    for slot in ctx.task_slots:
        if slot.step.step_id not in success:
            criteria = slot.step.success_criteria or (DEFAULT_SUCCESS,)
            success[slot.step.step_id] = [criterion_spec(ctx, criterion, slot.step) for criterion in criteria]
    for slot in ctx.task_slots:
        step_id = slot.step.step_id
        ctx.fill(slot.name, _task(ctx, slot, success[step_id]))


def _task(ctx: Context, slot: TaskSlot, success: list[dict[str, Any]]) -> dict[str, Any]:
    step = slot.step
    at = ctx.step_path(step.step_id)
    folded = step.step_id in ctx.folded
    retry_loop = ctx.retry_loops.get(step.step_id)
    payload = step_payload(
        ctx, step, slot.request, ctx.evaluations.get(step.step_id, Evaluation()), ctx.keeps.get(step.step_id, Keep()), success,
        loops=f"{at}.loops" if folded else None, loop_again=retry_loop.spec if retry_loop else None,
    )
    result_selector = contract.result_selector(counts_loops=folded or retry_loop is not None)
    retry = [dict(LAMBDA_SERVICE_RETRY)]
    if retry_loop:
        retry.append(dict(retry_loop.retrier))
    retry += [retrier(policy) for policy in (ctx.workflow.retry if step.retry is None else step.retry)]
    catch = list(slot.catch)
    if retry_loop:
        # Never reached while the function counts: the history budget as a last stop.
        catch.insert(0, {"ErrorEquals": [LOOP_AGAIN_ERROR], "ResultPath": f"{at}.loopError", "Next": f"{retry_loop.loop.limit_state}.Budget"})
    task: dict[str, Any] = {"Type": "Task"}
    if step.description and slot.name in (step.step_id, f"{step.step_id}.Request"):
        task["Comment"] = " ".join(step.description.split())
    task.update({
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${" + ctx.placeholder(step) + "}", "Payload": payload},
        "ResultSelector": result_selector,
        "ResultPath": at,
        "Retry": retry,
    })
    if catch:
        task["Catch"] = catch
    task["Next"] = slot.next_state
    return task


def criteria_task(ctx: Context, step: Step, next_state: str) -> dict[str, Any]:
    """A Task that sends the step's function the criteria Choice rules cannot judge, with
    the values they read, as a criteria payload; it answers each verdict, kept where a step
    function's answer keeps them ($.steps.<step>.criteria), so the routing reads them alike.
    For a step that runs a child execution: no request of its own answers it."""
    evaluation = ctx.evaluations[step.step_id]
    template = contract.CriteriaPayloadTemplate(
        step=step.step_id,
        evaluate={cid: cast(contract.Criterion, criterion) for cid, criterion in evaluation.evaluate.items()},
        values={vid: contract.ValueTemplate(value["expression"], contract.StatePath(value["value.$"])) for vid, value in evaluation.values.items()},
    )
    return {
        "Type": "Task",
        "Comment": "The step's criteria that compare strings (ignoring case) or need a query, judged by its function.",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${" + ctx.placeholder(step) + "}", "Payload": template.to_asl()},
        "ResultSelector": template.result_selector(),
        "ResultPath": f"{ctx.step_path(step.step_id)}.criteria",
        "Retry": [dict(LAMBDA_SERVICE_RETRY)],
        "Next": next_state,
    }


def step_payload(
    ctx: Context, step: Step, request: dict[str, Any], evaluation: Evaluation, keep: Keep, success: list[dict[str, Any]],
    *, loops: str | None, loop_again: contract.RetryLoopTemplate | None,
) -> dict[str, Any]:
    """What a step's Task sends its function, written through the runtime's payload contract
    (`arazzo_runtime.payload`, versioned): the request, the criteria it evaluates and the values
    they read, what to keep of the answer, the loop it counts or repeats, and its pages."""
    op = operation(step)
    wanted = keep.wanted()
    template = contract.PayloadTemplate(
        step=step.step_id,
        operation_id=op.operation_id,
        source=op.source,
        request=request,
        evaluate={cid: cast(contract.Criterion, criterion) for cid, criterion in evaluation.evaluate.items()},
        values={vid: contract.ValueTemplate(value["expression"], contract.StatePath(value["value.$"])) for vid, value in evaluation.values.items()},
        keep=contract.Keep(
            body=tuple(wanted.get("body", ())), headers=tuple(wanted.get("headers", ())),
            outputs=wanted.get("outputs", {}), reads=wanted.get("reads", {}),
            success=tuple(cast(contract.Criterion, criterion) for criterion in success),
        ),
        loops=contract.StatePath(loops) if loops is not None else None,
        retry_loop=loop_again,
        pages=_pages(step.pages) if step.pages is not None else None,
    )
    return template.to_asl()


def _pages(spec: PagesSpec) -> contract.Pages:
    """x-pages as the payload carries it: the function follows the pages (arazzo_runtime.pages)."""
    return contract.Pages(items=spec.items, offset=spec.offset, limit=spec.limit, next=spec.next, select=spec.select, max_pages=spec.max_pages)


def _request_with_texts(ctx: Context, step: Step) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The step's request, and the embedded values of unknown type whose text states must
    come before its Task (Arazzo 1.1)."""
    ctx.embedded_texts = []
    try:
        request = _request(ctx, step)
        return request, ctx.embedded_texts
    finally:
        ctx.embedded_texts = None


def _request(ctx: Context, step: Step) -> dict[str, Any]:
    op = operation(step)
    request: dict[str, Any] = {"method": op.method, "path": op.path}
    selections: list[dict[str, Any]] = []  # Arazzo 1.1 selectors the function applies
    groups = {"path": "pathParameters", "query": "query", "header": "headers", "cookie": "cookies"}
    for parameter in step.parameters:
        assert parameter.where is not None  # validation: a parameter of a step that performs an operation has `in`
        if parameter.where == "querystring":
            # 1.1: the whole query string from one value (validation: one, and no `query` beside it).
            value = _selected(ctx, step, parameter.value, "/queryString", selections)
            key, value = template_entry(ctx, "queryString", value, step, parameter.location)
            request[key] = value
            continue
        group = request.setdefault(groups[parameter.where], {})
        value = _selected(ctx, step, parameter.value, f"/{groups[parameter.where]}{format_pointer((parameter.name,))}", selections)
        key, value = template_entry(ctx, parameter.name, value, step, parameter.location)
        group[key] = value
    if step.request_body is not None:
        body = step.request_body
        if body.content_type:
            request["contentType"] = body.content_type
        by_function = bool(body.replacements) and (
            is_expression(body.payload)
            or any(_target_type(r, body.location)[0] == "jsonpath" for r in body.replacements)
            or any(_applied_by_function(value) for value in (body.payload, *(r.get("value") for r in body.replacements)))
        )
        if by_function:
            # The payload is only known at run time, a target is a query on it, or a value is
            # one the function selects: the function applies the replacements, after the selections.
            payload = _selected(ctx, step, body.payload, "/body", selections)
            replacements = []
            for index, replacement in enumerate(body.replacements):
                kind, version = _target_type(replacement, body.location)
                if kind == "jsonpath":
                    target = selectors.compiled_target(replacement["target"], version, body.location)
                    entry = {"target": target.text, "targetType": kind, "targetVersion": target.version}
                else:
                    entry = {"target": replacement_target(replacement.get("target"), body.location)}
                value = _selected(ctx, step, replacement.get("value"), f"/replacements/{index}/value", selections)
                key, value = template_entry(ctx, "value", value, step, body.location)
                entry[key] = value
                replacements.append(entry)
            request["replacements"] = replacements
        else:
            # Every selector here is a fixed path, written as its expression (no selection).
            payload = _selected(ctx, step, body.payload, "/body", selections)
            replaced = tuple({**r, "value": _selected(ctx, step, r.get("value"), None, selections)} if "value" in r else r for r in body.replacements)
            payload = apply_replacements(payload, replaced, body.location)
        key, value = template_entry(ctx, "body", payload, step, body.location)
        request[key] = value
        omitted = expression_members(payload, "") + [
            r["target"] for index, r in enumerate(request.get("replacements", []))
            if "targetType" not in r and ("value.$" in r or f"/replacements/{index}/value" in (s["at"] for s in selections))
        ]
        omitted += [s["at"].removeprefix("/body") for s in selections if s["at"].startswith("/body") and _is_member(payload, s["at"].removeprefix("/body"))]
        if omitted:
            # A member given by a runtime expression (or a selector) that has no value is left out.
            request["omitNull"] = omitted
    if selections:
        request["selections"] = selections
    return request


def _selected(ctx: Context, step: Step, value: Any, at: str | None, selections: list[dict[str, Any]]) -> Any:
    """`value` with each Arazzo 1.1 Selector Object in it that is a fixed path written as the
    runtime expression it is (`lower.selectors`), and each other one left to the function:
    null in the template, and a selection (`request.selections`) at `at`, its place in the
    request, carrying the context's value. With `at` None (a replacement value put into the
    payload at compile time), there is none such (see `_request`)."""
    if isinstance(value, Selector):
        expression = selectors.as_expression(value)
        if expression is not None:
            return expression.text
        if at is None:
            return value
        context = parse_expression(value.context, value.location, "1.1")  # only 1.1 has Selector Objects
        selections.append({"at": at, "value.$": value_path(ctx, context, step, value.location), **selectors.spec(value)})
        return None
    if isinstance(value, dict):
        return {key: _selected(ctx, step, item, None if at is None else f"{at}{format_pointer((str(key),))}", selections) for key, item in value.items()}
    if isinstance(value, list):
        return [_selected(ctx, step, item, None if at is None else f"{at}/{index}", selections) for index, item in enumerate(value)]
    return value


def _is_member(payload: Any, pointer: str) -> bool:
    """Whether a pointer into the payload names the whole payload or an object's member (an
    array's item that is null stays in its place)."""
    if not pointer:
        return True
    *parents, _ = parse_pointer(pointer)
    parent = payload
    for token in parents:
        parent = parent[int(token)] if isinstance(parent, list) else parent[token]
    return isinstance(parent, dict)


def _applied_by_function(value: Any) -> bool:
    """Whether a value holds a Selector Object that is not a fixed path (`lower.selectors`)."""
    if isinstance(value, Selector):
        return selectors.as_expression(value) is None
    if isinstance(value, dict):
        return any(_applied_by_function(item) for item in value.values())
    if isinstance(value, list):
        return any(_applied_by_function(item) for item in value)
    return False


def _target_type(replacement: dict[str, Any], location: Location) -> tuple[str, str | None]:
    """A replacement's `targetSelectorType` (Arazzo 1.1): its type and version; a JSON Pointer
    when it gives none (the target of an application/json payload)."""
    kind, version = select.selector_type(replacement.get("targetSelectorType", select.JSONPOINTER))
    if kind == "xpath":
        raise UnsupportedConstruct("a replacement's xpath target is not supported: there is no XPath 3.1 evaluator", location)
    return str(kind), version


def retrier(policy: RetryPolicy) -> dict[str, Any]:
    result: dict[str, Any] = {"ErrorEquals": list(policy.errors), "IntervalSeconds": policy.interval_seconds, "BackoffRate": policy.backoff_rate, "MaxAttempts": policy.max_attempts}
    if policy.max_delay_seconds is not None:
        result["MaxDelaySeconds"] = policy.max_delay_seconds
    if policy.jitter is not None:
        result["JitterStrategy"] = policy.jitter
    return result


def expression_members(value: Any, pointer: str) -> list[str]:
    """JSON Pointers of the members of a payload template given by a plain runtime expression."""
    if whole_expression(value):
        return [pointer]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in expression_members(item, f"{pointer}{format_pointer((str(key),))}")]
    return []

