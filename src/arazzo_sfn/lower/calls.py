"""Other workflows. A workflowId step either starts the called workflow as a child execution
(`x-child-execution: true`, or a step that judges the call's outcome or acts on its failure)
or inlines it; the dependsOn workflows run before the first step (a pass of its own), each
inlined, or one of another document started as a child execution. An inlined workflow is
lowered by the same passes, under a prefix, and its data lives under $.calls. A goto or
retry action that names a workflow runs it as a child execution too."""

from __future__ import annotations

import re
from typing import Any

from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower import loops
from arazzo_sfn.lower.common import format_literal, member, renamed, safe_key, state_machine_placeholder
from arazzo_sfn.lower.context import Context, Resolve, called_workflow
from arazzo_sfn.lower.inputs import input_defaults
from arazzo_sfn.lower.routing import failure_routing, route_name, route_step, step_failed
from arazzo_sfn.lower.tasks import caught, criteria_task
from arazzo_sfn.lower.values import template_entry
from arazzo_sfn.model import Action, Step, Workflow

# Retry what the Step Functions API may answer to StartExecution for a while; starting a
# child of the same name again is safe (an execution name is used once).
STEP_FUNCTIONS_SERVICE_RETRY = {
    "ErrorEquals": ["StepFunctions.SdkClientException", "StepFunctions.AWSStepFunctionsException", "StepFunctions.ExecutionLimitExceededException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 6,
}


def lower_dependencies(ctx: Context) -> None:
    """Pass: dependsOn workflows run first, in order. One of this document is inlined, given
    this workflow's inputs (its own defaults under them). One of another document
    (`$sourceDescriptions.<name>.<workflowId>`) runs as a child execution of its own state
    machine, given the inputs of this workflow it declares (as a goto to it is: an input it
    does not declare could fail its input check); its answer lies at
    $.calls.dependsOn_<workflowId>, where `$workflows.<workflowId>.outputs` reads it. Either
    one failing fails this workflow, with its own error and cause, before the first step."""
    entries = list(zip(ctx.workflow.depends_on, _dependency_locations(ctx), strict=True))
    others = _other_document_dependencies(ctx, entries)
    following = ctx.enter(ctx.workflow.steps[0].step_id)
    for entry, location in reversed(entries):
        if entry in others:
            following = _run_dependency(ctx, others[entry], following, location)
            ctx.child_dependencies[entry] = others[entry].workflow_id
            continue
        data = f"{ctx.root}.calls.{safe_key('dependsOn_' + entry)}"
        following = _call(ctx, entry, f"dependsOn.{entry}", data, {"inputs.$": f"{ctx.root}.inputs"}, following, location, unwrap="inputs")
        ctx.calls.setdefault(entry, data)
    ctx.start = following


def _dependency_locations(ctx: Context) -> list[Location]:
    """Where each dependsOn entry is (the list's own place for a workflow built without them)."""
    locations = list(ctx.workflow.depends_on_locations)
    fallback = ctx.workflow.field_locations.get("dependsOn", ctx.workflow.location)
    return locations + [fallback] * (len(ctx.workflow.depends_on) - len(locations))


def _other_document_dependencies(ctx: Context, entries: list[tuple[str, Location]]) -> dict[str, Workflow]:
    """The dependsOn entries that name a workflow of another document, each resolved. Its
    outputs are read as `$workflows.<workflowId>.outputs`, and its state machine is named by
    its workflowId, so the id must name no workflow of this document, nor another entry's."""
    found: dict[str, Workflow] = {}
    by_id: dict[str, str] = {}
    for reference, location in entries:
        if not reference.startswith("$"):
            continue
        target = _resolver(ctx, location)(reference)
        workflow_id = target.workflow_id
        if workflow_id in ctx.workflow.document_workflows:
            raise UnsupportedConstruct(
                f"dependsOn {reference!r} is not supported: workflow {workflow_id!r} of {target.source_file} has the id of a workflow "
                f"of {ctx.workflow.source_file}, and a deployment names each state machine by its workflowId, which the two could not "
                f"share (nor could $workflows.{workflow_id} tell them apart): rename one of them",
                location,
            )
        if by_id.setdefault(workflow_id, reference) != reference:
            raise UnsupportedConstruct(
                f"dependsOn {by_id[workflow_id]!r} and {reference!r} are not supported together: both workflows have the id {workflow_id!r}, "
                f"and a deployment names each state machine by its workflowId, which the two could not share (nor could "
                f"$workflows.{workflow_id} tell them apart): rename one of them",
                location,
            )
        found[reference] = target
    return found


def _run_dependency(ctx: Context, target: Workflow, then: str, location: Location) -> str:
    """A dependsOn workflow of another document, started as a child execution; its answer
    ({status, executionArn, outputs}) is kept where `$workflows.<workflowId>.outputs` reads it."""
    workflow_id = target.workflow_id
    name = f"dependsOn.{workflow_id}"
    answer = f"{ctx.root}.calls.{safe_key('dependsOn_' + workflow_id)}"
    _run_child(ctx, target, name, f"dependsOn-{workflow_id}", answer, then, location)
    ctx.child_runs[workflow_id] = answer
    return name


def _step_inputs(ctx: Context, step: Step) -> dict[str, Any]:
    """A workflowId step's parameters: the called workflow's inputs, by name."""
    given: dict[str, Any] = {}
    for parameter in step.parameters:
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
    if workflow_id in ctx.call_stack and not resolve(workflow_id).child_execution:
        # Valid Arazzo (criteria may end the recursion at run time), but inlined it would not end.
        raise UnsupportedConstruct(
            f"workflow {workflow_id!r} calls itself (through {' -> '.join(ctx.call_stack)}): inlining it is not supported, "
            "it would never end; mark the workflow x-child-execution: true to run each call as its own execution",
            step.location,
        )
    # The child's state machine is named by the called workflow's own id, also when the step
    # names a workflow of another document ($sourceDescriptions.<name>.<id>).
    child_id = resolve(workflow_id).workflow_id
    ctx.children.add(child_id)
    at = ctx.step_path(step.step_id)
    given = _step_inputs(ctx, step)
    # Lets the console link the child to its parent, both ways.
    given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] = "$$.Execution.Id"
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
    after_child = route_name(step)
    if step.step_id in ctx.evaluations:
        # Criteria a function judges (`criteria.evaluated_id`), registered by the routing
        # above: a Task judges them on the child's outputs before the route reads them, on
        # the way to the success route and, when the child failed, to the failure actions.
        after_child = f"{step.step_id}.Criteria"
        ctx.add(after_child, criteria_task(ctx, step, route_name(step)), step.location, before=route_name(step))
        if failure_route is not None:
            judged_failure = f"{step.step_id}.FailureCriteria"
            ctx.add(judged_failure, criteria_task(ctx, step, failure_route), step.location, before=route_name(step))
            failure_route = judged_failure
    if failure_route is not None:
        catch.append({"ErrorEquals": ["States.ALL"], "ResultPath": at, "Next": caught(ctx, step, unresolved, failure_route)})
    task: dict[str, Any] = {"Type": "Task"}
    if step.description:
        task["Comment"] = " ".join(step.description.split())
    task.update({
        **_start_execution(child_id, step.step_id, {"Input": given}),
        "ResultSelector": {"status.$": "$.Status", "outputs.$": "$.Output", "executionArn.$": "$.ExecutionArn"},
        "ResultPath": at,
        "Retry": [dict(STEP_FUNCTIONS_SERVICE_RETRY)],
        "Catch": catch,
        "Next": after_child,
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


def _start_execution(workflow_id: str, tag: str, given: dict[str, Any]) -> dict[str, Any]:
    """The Resource and Parameters of a Task that starts the workflow's own state machine and
    waits for it; `given` is its `Input` (a template, or `Input.$`, a path). The child is
    named after `tag` and the moment the Task was entered, so a Task retried after a
    transient error starts no second child, while each time the Task is entered starts one."""
    tag = re.sub(r"[^A-Za-z0-9_-]", "-", tag)[:40]
    return {
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {
            "StateMachineArn": "${" + state_machine_placeholder(workflow_id) + "}",
            "Name.$": f"States.Format('{format_literal(tag)}-{{}}', States.Hash(States.Format('{{}}/{{}}/{{}}', $$.Execution.Id, $$.State.Name, $$.State.EnteredTime), 'MD5'))",
            **given,
        },
    }


def run_action_workflow(ctx: Context, step: Step, action: Action, name: str, then: str) -> str:
    """A goto or retry action that names a workflow: control transfers to it, so it runs as a
    child execution (its own state machine) from state `name`, and when it succeeds the
    workflow goes on to `then` (a goto ends here, a retry runs the step again). The spec
    gives such an action no parameters: the child is given the inputs of this workflow that
    it declares (`_run_child`). When it fails, this workflow ends with the child's own error
    and cause. Its answer, the child's outputs among it, lands in $.transfers.<workflow>, where
    `$workflows.<workflow>.outputs` reads it: in the steps after a retry, and in this
    workflow's outputs after a goto (a one-way transfer: the workflow ends, with its outputs)."""
    if not ctx.first_time(("run workflow", name)):
        return name
    # Named by the workflow's own id, also a workflow of another document ($sourceDescriptions.<name>.<id>):
    # resolved once, as the id alone names no workflow of this document.
    target = _resolver(ctx, action.location)(action.workflow_id or "")
    workflow_id = target.workflow_id
    if workflow_id in ctx.call_stack:
        raise UnsupportedConstruct(
            f"a {action.type} to workflow {workflow_id!r}, which is running (through {' -> '.join(ctx.call_stack)}), is not supported: "
            "each transfer would start one more execution nested in this one, without bound (a goto to its first step loops within it, bounded by x-loop)",
            action.location,
        )
    _run_child(ctx, target, name, f"{step.step_id}-{action.name}", ctx.transfer_outputs(workflow_id), then, action.location)
    return name


def _run_child(ctx: Context, target: Workflow, name: str, tag: str, answer: str, then: str, location: Location) -> None:
    """States from `name` that run `target` as a child execution (its own state machine),
    given the inputs of this workflow that it declares, those absent here left absent (so its
    own defaults apply); its answer lands at `answer` and the workflow goes on to `then`. When
    it fails, this workflow ends with the child's own error and cause. Its input is built in
    $.transfer, where its error and cause land when it failed."""
    workflow_id = target.workflow_id
    ctx.children.add(workflow_id)
    data = f"{ctx.root}.transfer"
    inputs = f"{ctx.root}.inputs"
    certain, optional = _transferred_inputs(ctx, target)
    run, failed = f"{name}.Run", f"{name}.ChildFailed"
    # The inputs that may be absent (or null, as an absent input the workflow reads is) are
    # copied one by one when they are there: ASL cannot leave a member out of a template.
    checks = [f"{name}.Input{number}" for number in range(1, len(optional) + 1)]
    given: dict[str, Any] = {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}  # links parent and child in the console
    given.update({f"{input_name}.$": member(inputs, input_name) for input_name in certain})
    ctx.add(name, {
        "Type": "Pass",
        "Comment": f"Workflow {workflow_id} runs as a child execution, given the inputs of this workflow it declares.",
        "Parameters": {"input": given},
        "ResultPath": data,
        "Next": checks[0] if checks else run,
    }, location)
    for input_name, check, following in zip(optional, checks, [*checks, run][1:], strict=True):
        value = member(inputs, input_name)
        ctx.add(check, {
            "Type": "Choice",
            "Comment": f"Input {input_name}, when it is given.",
            "Choices": [{"And": [{"Variable": value, "IsPresent": True}, {"Not": {"Variable": value, "IsNull": True}}], "Next": f"{check}.Copy"}],
            "Default": following,
        }, location)
        ctx.add(f"{check}.Copy", {"Type": "Pass", "InputPath": value, "ResultPath": member(f"{data}.input", input_name), "Next": following}, location)
    ctx.add(run, {
        "Type": "Task",
        **_start_execution(workflow_id, tag, {"Input.$": f"{data}.input"}),
        "ResultSelector": {"status.$": "$.Status", "executionArn.$": "$.ExecutionArn", "outputs.$": "$.Output"},
        "ResultPath": answer,
        "Retry": [dict(STEP_FUNCTIONS_SERVICE_RETRY)],
        # The child's failure arrives as States.TaskFailed with the child described in the cause.
        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": data, "Next": failed}],
        "Next": then,
    }, location)
    ctx.add(failed, {
        "Type": "Pass",
        "Comment": "The child's own error and cause (the execution's description where it gave none).",
        "Parameters": {"child.$": f"States.JsonMerge({data}, States.StringToJson({data}.Cause), false)"},
        "ResultPath": data,
        "Next": f"{failed}.Fail",
    }, location)
    ctx.add(f"{failed}.Fail", {"Type": "Fail", "ErrorPath": f"{data}.child.Error", "CausePath": f"{data}.child.Cause"}, location)


def _transferred_inputs(ctx: Context, target: Workflow) -> tuple[list[str], list[str]]:
    """The inputs `target` declares that this workflow may hold: those it certainly holds (a
    default, or required of an execution's input, which the input checks ensure), and the
    others (absent from a closed schema that does not declare them: left out)."""
    schema = ctx.workflow.inputs or {}
    required = set() if ctx.called else set(schema.get("required") or ())
    closed = schema.get("additionalProperties") is False
    certain: list[str] = []
    optional: list[str] = []
    for name in (target.inputs or {}).get("properties") or {}:
        declared = ctx.properties.get(name)
        if name in required or (isinstance(declared, dict) and "default" in declared):
            certain.append(name)
        elif declared is not None or not closed:
            optional.append(name)
    return certain, optional


def inline_step(ctx: Context, step: Step) -> None:
    """The called workflow's states are inlined under `<step>.`; its inputs are the step's
    parameters, its data lives under $.calls.<step>, and its outputs are the step's
    `$outputs`. A failure inside it fails the execution (an inlined Fail cannot be caught),
    which is why a step with failure actions or successCriteria is a child step instead."""
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
    if workflow_id in ctx.call_stack:
        # Through a step that calls it (a dependsOn cycle alone is refused by validation).
        raise UnsupportedConstruct(
            f"workflow {workflow_id!r} calls itself (through {' -> '.join(ctx.call_stack)}): dependsOn inlines its workflows, "
            "and this one would never end; is not supported",
            location,
        )
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
            **({"calls": {}} if child.calls or child.child_dependencies else {}),
            **({"transfers": child.initial_transfers()} if child.transferred_workflows() else {}),
        },
        "ResultPath": data,
        "Next": f"{prefix}.{child.start}",
    }, location)
    for name, state in child.ordered_states().items():
        ctx.add(f"{prefix}.{name}", renamed(state, prefix, then), location)
    return prefix

