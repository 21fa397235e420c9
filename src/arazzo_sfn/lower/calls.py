"""Other workflows. A workflowId step either starts the called workflow as a child execution
(`x-child-execution: true`) or inlines it; each dependsOn workflow is inlined before the
first step (a pass of its own). An inlined workflow is lowered by the same passes, under a
prefix, and its data lives under $.calls."""

from __future__ import annotations

import re
from typing import Any

from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower import loops
from arazzo_sfn.lower.common import format_literal, renamed, safe_key, state_machine_placeholder
from arazzo_sfn.lower.context import Context, Resolve, called_workflow
from arazzo_sfn.lower.inputs import input_defaults
from arazzo_sfn.lower.routing import failure_routing, route_name, route_step, step_failed
from arazzo_sfn.lower.tasks import caught
from arazzo_sfn.lower.values import template_entry
from arazzo_sfn.model import Step

# Retry what the Step Functions API may answer to StartExecution for a while; starting a
# child of the same name again is safe (an execution name is used once).
STEP_FUNCTIONS_SERVICE_RETRY = {
    "ErrorEquals": ["StepFunctions.SdkClientException", "StepFunctions.AWSStepFunctionsException", "StepFunctions.ExecutionLimitExceededException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 6,
}


def lower_dependencies(ctx: Context) -> None:
    """Pass: dependsOn workflows run first, in order, each given this workflow's inputs."""
    following = ctx.enter(ctx.workflow.steps[0].step_id)
    for workflow_id in reversed(ctx.workflow.depends_on):
        data = f"{ctx.root}.calls.{safe_key('dependsOn_' + workflow_id)}"
        location = ctx.workflow.field_locations.get("dependsOn", ctx.workflow.location)
        following = _call(ctx, workflow_id, f"dependsOn.{workflow_id}", data, {"inputs.$": f"{ctx.root}.inputs"}, following, location, unwrap="inputs")
        ctx.calls.setdefault(workflow_id, data)
    ctx.start = following


def _step_inputs(ctx: Context, step: Step) -> dict[str, Any]:
    """A workflowId step's parameters: the called workflow's inputs, by name."""
    given: dict[str, Any] = {}
    for parameter in step.parameters:
        if parameter.where is not None:
            raise SemanticError(f"a workflowId step passes inputs: parameter {parameter.name!r} must not have `in`", parameter.location)
        key, value = template_entry(ctx, parameter.name, parameter.value, step, parameter.location)
        given[key] = value
    return given


def child_step(ctx: Context, step: Step) -> None:
    """The step starts the called workflow's own state machine and waits for it
    (`startExecution.sync:2`): its parameters are the child's input, its `$outputs` the
    child's output. The child execution is named after the step and the moment the step
    was entered, so a Task retried after a transient error starts no second child, while
    each pass of a loop starts a new one. A child that fails reaches the step with its own
    error and cause, so the step's criteria and failure actions apply."""
    workflow_id = called_workflow(step)
    resolve = _resolver(ctx, step.location)
    # The child's state machine is named by the called workflow's own id, also when the step
    # names a workflow of another document ($sourceDescriptions.<name>.<id>).
    child_id = resolve(workflow_id).workflow_id
    ctx.children.add(child_id)
    at = ctx.step_path(step.step_id)
    given = _step_inputs(ctx, step)
    # Lets the console link the child to its parent, both ways.
    given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] = "$$.Execution.Id"
    tag = re.sub(r"[^A-Za-z0-9_-]", "-", step.step_id)[:40]
    child_failed_name = f"{step.step_id}.ChildFailed"
    ctx.reserve(step.step_id, step.location)
    ctx.reserve(child_failed_name, step.location)
    route_step(ctx, step)
    # A caught failure takes the place of the step's answer: its outputs (the step's own
    # and the child's) read as null later, as outputs that do not resolve do.
    called_outputs = set(resolve(workflow_id).outputs)
    unresolved = {name: None for name in sorted(set(step.outputs) | called_outputs)}
    # The child's failure arrives as States.TaskFailed with the child described in the cause.
    catch: list[dict[str, Any]] = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": at, "Next": child_failed_name}]
    failure_route = failure_routing(ctx, step) if ctx.failure_actions(step) else None
    if failure_route is not None:
        catch.append({"ErrorEquals": ["States.ALL"], "ResultPath": at, "Next": caught(ctx, step, unresolved, failure_route)})
    task: dict[str, Any] = {"Type": "Task"}
    if step.description:
        task["Comment"] = " ".join(step.description.split())
    task.update({
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {
            "StateMachineArn": "${" + state_machine_placeholder(child_id) + "}",
            "Name.$": f"States.Format('{format_literal(tag)}-{{}}', States.Hash(States.Format('{{}}/{{}}/{{}}', $$.Execution.Id, $$.State.Name, $$.State.EnteredTime), 'MD5'))",
            "Input": given,
        },
        "ResultSelector": {"status.$": "$.Status", "outputs.$": "$.Output", "executionArn.$": "$.ExecutionArn"},
        "ResultPath": at,
        "Retry": [dict(STEP_FUNCTIONS_SERVICE_RETRY)],
        "Catch": catch,
        "Next": route_name(step),
    })
    ctx.fill(step.step_id, task)
    ctx.child_runs[workflow_id] = at
    ctx.fill(child_failed_name, {
        "Type": "Pass",
        "Comment": "The child's own error and cause (the execution's description where it gave none).",
        "Parameters": {"child.$": f"States.JsonMerge({at}, States.StringToJson({at}.Cause), false)", "outputs": unresolved},
        "ResultPath": at,
        "Next": failure_route or step_failed(ctx, step),
    })


def inline_step(ctx: Context, step: Step) -> None:
    """The called workflow's states are inlined under `<step>.`; its inputs are the step's
    parameters, its data lives under $.calls.<step>, and its outputs are the step's
    `$outputs`. A failure inside it fails the execution (an inlined Fail cannot be caught)."""
    at = step.field_locations.get
    if step.success_criteria:
        raise UnsupportedConstruct("successCriteria on a workflowId step are not supported yet", at("successCriteria", step.location))
    if step.on_failure or ctx.workflow.failure_actions:
        raise UnsupportedConstruct("failure actions on a workflowId step are not supported yet (the called workflow's failures end the execution)", at("onFailure", step.location))
    given = _step_inputs(ctx, step)
    data = f"{ctx.root}.calls.{ctx.step_keys[step.step_id]}"
    _call(ctx, called_workflow(step), f"{step.step_id}", data, given, route_name(step), step.location)
    ctx.calls[called_workflow(step)] = data
    route_step(ctx, step)


def _resolver(ctx: Context, location: Location) -> Resolve:
    if ctx.resolve is None:
        raise UnsupportedConstruct("calling another workflow needs the whole document", location)
    return ctx.resolve


def _call(ctx: Context, workflow_id: str, prefix: str, data: str, given: dict[str, Any], then: str, location: Location, unwrap: str | None = None) -> str:
    """Inline a called workflow: a Pass gives it its inputs with its defaults, another sets
    up its data, then its own states, renamed under `prefix.`, return to `then`."""
    from arazzo_sfn.lower import CALLED_WORKFLOW_PASSES, run_passes  # the pipeline lists this module's passes

    resolve = _resolver(ctx, location)
    if workflow_id.startswith("$"):
        raise UnsupportedConstruct(f"workflowId {workflow_id!r}: workflows of other Arazzo documents are not supported yet", location)
    if workflow_id in ctx.call_stack:
        raise SemanticError(f"workflow {workflow_id!r} calls itself (through {' -> '.join(ctx.call_stack)})", location)
    callee = resolve(workflow_id)
    child = Context(callee, resolve, root=data, placeholder_prefix=f"{ctx.placeholder_prefix}{prefix}-", call_stack=ctx.call_stack, called=True)
    run_passes(child, CALLED_WORKFLOW_PASSES)
    ctx.children |= child.children
    defaults = input_defaults(callee, child.read_inputs)
    given_path = f"{data}.given.{unwrap}" if unwrap else f"{data}.given"
    ctx.add(prefix, {
        "Type": "Pass",
        "Comment": f"Call workflow {workflow_id}: its inputs, with its defaults.",
        "Parameters": {"given": given, "defaults": defaults},
        "ResultPath": data,
        "Next": f"{prefix}.Start",
    }, location)
    ctx.add(f"{prefix}.Start", {
        "Type": "Pass",
        "Parameters": {
            "inputs.$": f"States.JsonMerge({data}.defaults, {given_path}, false)",
            "steps": loops.initial_steps(child),
            "loops": loops.initial_counters(child),
            **({"calls": {}} if child.calls else {}),
        },
        "ResultPath": data,
        "Next": f"{prefix}.{child.start}",
    }, location)
    for name, state in child.ordered_states().items():
        ctx.add(f"{prefix}.{name}", renamed(state, prefix, then), location)
    return prefix

