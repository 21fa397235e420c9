"""Routing after each step: its success criteria, then the success actions in order; on
failure, the failure actions, retries, and the Fail states that end the workflow. Called by
the steps pass for each step, and by the calls for a step that runs a workflow."""

from __future__ import annotations

import math
from typing import Any

from arazzo_sfn.lower import loops
from arazzo_sfn.lower.common import STEP_FAILED_ERROR, format_literal
from arazzo_sfn.lower.context import Context, called_workflow, operation
from arazzo_sfn.lower.criteria import criteria_rule, status_2xx
from arazzo_sfn.lower.fail import failure_states
from arazzo_sfn.lower.tasks import place_task
from arazzo_sfn.model import Action, Step


def operation_step(ctx: Context, step: Step) -> None:
    """The step's Task, then its routing."""
    place_task(ctx, step, step.step_id, route_name(step))
    route_step(ctx, step)


def route_name(step: Step) -> str:
    return f"{step.step_id}.Route"


def failure_route_name(step: Step) -> str:
    return f"{step.step_id}.OnFailure"


def route_step(ctx: Context, step: Step) -> None:
    """One Choice after the task: success criteria first, then the success actions in
    order (the first whose criteria hold wins), then the spec's default (next step)."""
    name = route_name(step)
    ctx.reserve(name, step.location)  # right after the task, for reading order
    # An inlined workflow has no answer to judge: its own failures end the execution. A child
    # execution that failed is caught; one that succeeded is judged by the step's criteria.
    judged = step.target_kind != "workflowId" or (ctx.is_child_step(step) and step.success_criteria)
    rules: list[dict[str, Any]] = [{"Not": success_rule(ctx, step), "Next": failure_routing(ctx, step)}] if judged else []
    retry_actions = [action for action in ctx.failure_actions(step) if action.type == "retry"]
    if retry_actions:
        # A success gives the step's retry budget back, for the next time it runs.
        names = [f"{step.step_id}.{action.name}.Reset" for action in retry_actions] + [f"{step.step_id}.Actions"]
        ctx.fill(name, {"Type": "Choice", "Choices": rules, "Default": names[0]})
        for action, reset, following in zip(retry_actions, names, names[1:], strict=False):
            ctx.add(reset, {
                "Type": "Pass",
                "Parameters": {"iterations": 0},
                "ResultPath": f"{ctx.root}.loops.{ctx.counter(step, action, 'retry')}",
                "Next": following,
            }, action.location)
        name = names[-1]
        ctx.reserve(name, step.location)
        rules = []
    default = None
    for action in ctx.success_actions(step):
        condition = criteria_rule(ctx, action.criteria, step) if action.criteria else None
        target = goto_or_end(ctx, step, action, rules, condition)
        if condition is None:
            default = target
            break  # the actions after one without criteria can never be chosen
        rules.append({**condition, "Next": target})
    if default is None:
        default = next_after(ctx, step)
    if rules:
        ctx.fill(name, {"Type": "Choice", "Choices": rules, "Default": default})
    else:
        ctx.fill(name, {"Type": "Pass", "Next": default})


def success_rule(ctx: Context, step: Step) -> dict[str, Any]:
    """The step's successCriteria as one Choice rule; without any, an HTTP 2xx."""
    if step.success_criteria:
        return criteria_rule(ctx, step.success_criteria, step)
    return status_2xx(ctx.step_path(step.step_id))


def goto_or_end(ctx: Context, step: Step, action: Action, rules: list[dict[str, Any]], condition: dict[str, Any] | None) -> str:
    """The state an end or goto action leads to; a backward goto also adds its bound rule.
    Where each action and its x-loop / x-fail may stand, validation has checked."""
    if action.type == "end":
        if action.fail is None:
            return "WorkflowOutputs"
        name = f"{step.step_id}.{action.name}"
        if ctx.first_time(("fail", step.step_id, action.name)):
            failure_states(ctx, name, action.fail.error, action.fail.cause, step, action.fail.location)
        return name
    if action.workflow_id is not None:
        from arazzo_sfn.lower.calls import run_action_workflow  # calls builds on this module

        # Control transfers to the workflow: once it has run, this one ends with its outcome.
        return run_action_workflow(ctx, step, action, f"{step.step_id}.{action.name}", "WorkflowOutputs")
    if not ctx.is_backward(step, action):
        return ctx.enter(action.step_id or "")
    return loops.lower_loop(ctx, step, action, rules, condition)


def next_after(ctx: Context, step: Step) -> str:
    following = step.index + 1
    return ctx.enter(ctx.workflow.steps[following].step_id) if following < len(ctx.workflow.steps) else "WorkflowOutputs"


def failure_routing(ctx: Context, step: Step) -> str:
    """Where a failed step goes: its failure actions in order, or the end of the workflow."""
    actions = ctx.failure_actions(step)
    if not actions:
        return step_failed(ctx, step)
    name = failure_route_name(step)
    if not ctx.first_time(("on failure", step.step_id)):
        return name
    ctx.reserve(name, step.location)
    rules: list[dict[str, Any]] = []
    default = None
    for action in actions:
        condition = criteria_rule(ctx, action.criteria, step) if action.criteria else None
        if action.type == "retry":
            counter = f"{ctx.root}.loops.{ctx.counter(step, action, 'retry')}.iterations"
            limit = 1 if action.retry_limit is None else action.retry_limit  # the spec: one retry when absent
            budget = {"Variable": counter, "NumericLessThan": limit}
            rules.append({**({"And": [condition, budget]} if condition else budget), "Next": _retry_states(ctx, step, action, counter)})
            continue  # once the budget is spent, the later actions apply
        if action.type == "end" and action.fail is None:
            target = step_failed(ctx, step)  # ending on failure ends the workflow failed
        else:
            target = goto_or_end(ctx, step, action, rules, condition)
        if condition is None:
            default = target
            break
        rules.append({**condition, "Next": target})
    if rules:
        ctx.fill(name, {"Type": "Choice", "Choices": rules, "Default": default or step_failed(ctx, step)})
    else:
        ctx.fill(name, {"Type": "Pass", "Next": default or step_failed(ctx, step)})
    return name


def _retry_states(ctx: Context, step: Step, action: Action, counter: str) -> str:
    """Count, wait (Retry-After wins over retryAfter), run the action's target if it has
    one (a step's operation, or a workflow as a child execution), then run the step again."""
    base = f"{step.step_id}.{action.name}"
    at = ctx.step_path(step.step_id)
    seconds = math.ceil(action.retry_after or 0)
    again = ctx.enter(step.step_id)
    if action.step_id is not None:
        target = ctx.workflow.step(action.step_id)
        again = f"{base}.{target.step_id}"
        _retry_target_task(ctx, target, again, ctx.enter(step.step_id))
    elif action.workflow_id is not None:
        from arazzo_sfn.lower.calls import run_action_workflow  # calls builds on this module

        again = run_action_workflow(ctx, step, action, f"{base}.{action.workflow_id}", ctx.enter(step.step_id))
    ctx.add(f"{base}.Count", {
        "Type": "Pass",
        "Parameters": {"iterations.$": f"States.MathAdd({counter}, 1)"},
        "ResultPath": counter.rsplit(".", 1)[0],
        "Next": f"{base}.Delay",
    }, action.location)
    ctx.add(f"{base}.Delay", {
        "Type": "Choice",
        "Choices": [{
            "And": [{"Variable": f"{at}.retryAfterSeconds", "IsPresent": True}, {"Variable": f"{at}.retryAfterSeconds", "IsNumeric": True}],
            "Next": f"{base}.WaitRetryAfter",
        }],
        "Default": f"{base}.Wait",
    }, action.location)
    ctx.add(f"{base}.WaitRetryAfter", {"Type": "Wait", "SecondsPath": f"{at}.retryAfterSeconds", "Next": again}, action.location)
    ctx.add(f"{base}.Wait", {"Type": "Wait", "Seconds": seconds, "Next": again}, action.location)
    return f"{base}.Count"


def _retry_target_task(ctx: Context, target: Step, name: str, then: str) -> None:
    """A retry naming a step runs that step's operation first; when its success criteria
    hold, the failed step is retried, otherwise the workflow fails on the target."""
    check = f"{name}.Check"
    place_task(ctx, target, name, check)
    ctx.add(check, {"Type": "Choice", "Choices": [{"Not": success_rule(ctx, target), "Next": step_failed(ctx, target)}], "Default": then}, target.location)


def step_failed(ctx: Context, step: Step) -> str:
    """Where a failed step ends the workflow: StepFailed naming the step and the HTTP answer,
    or, when the function itself failed, that error and cause unchanged."""
    name = f"{step.step_id}.Failed"
    if not ctx.first_time(("failed", step.step_id)):
        return name
    at = ctx.step_path(step.step_id)
    if ctx.is_child_step(step):
        _child_step_failed(ctx, step, name, at)
        return name
    op = operation(step)
    described = op.operation_id or f"{op.method} {op.path}"
    cause_state = name
    if ctx.failure_actions(step):
        # With failure actions the task catches errors, so there may be no HTTP answer.
        cause_state = f"{name}.Cause"
        ctx.add(name, {
            "Type": "Choice",
            "Choices": [{"Variable": f"{at}.statusCode", "IsPresent": True, "Next": cause_state}],
            "Default": f"{name}.Error",
        }, step.location)
    ctx.add(cause_state, {
        "Type": "Pass",
        "Comment": "The step's successCriteria do not hold: say which step, and what the server answered.",
        "Parameters": {
            "message.$": f"States.Format('Step {format_literal(step.step_id)} ({format_literal(described)}) failed its success criteria: HTTP {{}}', {at}.statusCode)",
            "step": step.step_id,
            "operationId": op.operation_id,
            "statusCode.$": f"{at}.statusCode",
            "response.$": f"{at}.body",
        },
        "ResultPath": "$.failure",
        "Next": f"{name}.Fail",
    }, step.location)
    ctx.add(f"{name}.Fail", {"Type": "Fail", "Error": STEP_FAILED_ERROR, "CausePath": "States.JsonToString($.failure)"}, step.location)
    if ctx.failure_actions(step):
        # The function's own error and cause, unchanged.
        ctx.add(f"{name}.Error", {"Type": "Fail", "ErrorPath": f"{at}.Error", "CausePath": f"{at}.Cause"}, step.location)
    return name


def _child_step_failed(ctx: Context, step: Step, name: str, at: str) -> None:
    """A child execution that failed ends the workflow with the child's error and cause;
    one that succeeded but not by the step's criteria, with StepFailed and its outputs."""
    choices = [{"Variable": f"{at}.child", "IsPresent": True, "Next": f"{name}.Child"}]
    if ctx.failure_actions(step):
        choices.append({"Variable": f"{at}.Error", "IsPresent": True, "Next": f"{name}.Error"})
    ctx.add(name, {"Type": "Choice", "Choices": choices, "Default": f"{name}.Cause"}, step.location)
    ctx.add(f"{name}.Child", {"Type": "Fail", "ErrorPath": f"{at}.child.Error", "CausePath": f"{at}.child.Cause"}, step.location)
    if ctx.failure_actions(step):
        ctx.add(f"{name}.Error", {"Type": "Fail", "ErrorPath": f"{at}.Error", "CausePath": f"{at}.Cause"}, step.location)
    ctx.add(f"{name}.Cause", {
        "Type": "Pass",
        "Comment": "The child execution succeeded, but not by the step's successCriteria.",
        "Parameters": {
            "message": f"Step {step.step_id} (workflow {called_workflow(step)}) failed its success criteria",
            "step": step.step_id,
            "workflowId": called_workflow(step),
            "executionArn.$": f"{at}.executionArn",
            "outputs.$": f"{at}.outputs",
        },
        "ResultPath": "$.failure",
        "Next": f"{name}.Fail",
    }, step.location)
    ctx.add(f"{name}.Fail", {"Type": "Fail", "Error": STEP_FAILED_ERROR, "CausePath": "States.JsonToString($.failure)"}, step.location)
