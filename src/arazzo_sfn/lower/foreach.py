"""Pass: x-for-each. A workflowId step with `x-for-each` runs its workflow once per item of an
array, each run a child execution of the workflow's own state machine, from a `Map` state in
DISTRIBUTED mode. The steps pass places the step (`place`: its state names and its routing);
this pass builds its states once every step is placed (`lower`).

In the state data the step's answer is `{counter, results, counts}`: `results` one entry per
item, in the items' order, naming it by what its child was given (`{<input>: value, outcome,
executionArn, outputs}` for a child that succeeded, `{<input>: value, outcome, executionArn,
error, cause}` for one that failed or was skipped, `{<input>: value, outcome}` for one not
started), `counts` the number of items by outcome
(`{succeeded, failed, skipped, notStarted}`).

Why the states are what they are:
- A child's failure is caught inside its iteration and becomes that item's result. The Map
  never fails for an item: a Distributed Map that crosses its own failure threshold stops
  the child executions still running, which would leave their work half done.
- Once more items have failed than tolerated, an iteration starts no child (its item is
  `notStarted`), the children under way finish, and the step fails after the Map. The
  iterations share what has failed through one DynamoDB item (Step Functions' native
  integration, on the table `${ForEachCounterTableName}`, string partition key `id`), whose
  id is the execution's, the step's and the moment the step was entered.
- The counts come from that item too: every iteration adds its outcome to it. Counting the
  results in the state data would need a JSONPath filter that may match nothing, which is
  an error where the Map's results are read (moto) and undocumented on AWS.
- The item does not outlive the Map: once the Map has ended, the counts are read by deleting
  the item (DeleteItem answering with the item as it was), and a Map that fails has its item
  deleted before the step fails with MAP_FAILED_ERROR, the Map's error and cause in its cause
  (a Fail state may not raise a `States.` error, which a Map's are). A date cannot be turned
  into an expiry time in JSONPath mode (no intrinsic reads a date), so the item is deleted
  rather than given a TTL. What no state can catch (the execution stopped or timed out, a
  States.Runtime error) leaves it.
- A child is named after the counter's id (the execution, the step, the moment the step was
  entered) and its item's input, so an iteration retried after a transient error starts no
  second child for its item (StartExecution with the same name and input is idempotent),
  while each time the step runs starts new ones.
"""

from __future__ import annotations

import re
from typing import Any

from arazzo_runtime.expressions import parse_pointer
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.lower.calls import STEP_FUNCTIONS_SERVICE_RETRY
from arazzo_sfn.lower.common import append_pointer, format_literal, member, parse_expression, state_machine_placeholder
from arazzo_sfn.lower.context import Context, called_workflow
from arazzo_sfn.lower.names import MAX_STATE_NAME, fitted
from arazzo_sfn.lower.routing import route_name, route_step
from arazzo_sfn.lower.values import template_entry, value_path
from arazzo_sfn.model import ForEachSpec, Step

# The DefinitionSubstitution naming the table of the counters (string partition key `id`).
COUNTER_TABLE_PLACEHOLDER = "ForEachCounterTableName"
OUTCOMES = ("succeeded", "failed", "skipped", "notStarted")
# What the step fails with when its Map itself fails (not an item: the Map catches those).
MAP_FAILED_ERROR = "ForEachAborted"
# What the step offers its outputs as `$outputs.<name>`.
OUTPUTS = ("results", "counts")
START_CHILD = "arn:aws:states:::states:startExecution.sync:2"
DYNAMODB_RETRY = {
    "ErrorEquals": [
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceeded",
        "DynamoDB.InternalServerErrorException",
        "DynamoDB.AmazonDynamoDBException",
        "DynamoDB.SdkClientException",
    ],
    "IntervalSeconds": 1,
    "BackoffRate": 2,
    "MaxAttempts": 8,
}


def _names(step: Step) -> dict[str, str]:
    """The states of the step, in reading order (the Map's own are apart: `_item_names`)."""
    s = step.step_id
    return {
        "start": s,
        "open": f"{s}.OpenCounter",
        "map": f"{s}.ForEach",
        "counts": f"{s}.Counts",
        "tolerance": f"{s}.Tolerance",
        "failed": f"{s}.ForEachFailed",
        "fail": f"{s}.ForEachFailed.Fail",
        "aborted": f"{s}.ForEach.CloseCounter",
        "abort": f"{s}.ForEach.Fail",
    }


def _item_names(step: Step) -> dict[str, str]:
    """The states of one iteration. Step Functions wants every state name of a machine
    distinct, those inside a Map included: they carry the step's id."""
    parts = ("Check", "Decide", "Run", "Succeeded", "Described", "NotDescribed", "Classify", "Failed", "Skipped", "NotStarted", "Record", "Unrecorded")
    names = {part: f"{step.step_id}.Item.{part}" for part in parts}
    return {part: fitted(name) if len(name) > MAX_STATE_NAME else name for part, name in names.items()}


def place(ctx: Context, step: Step) -> None:
    """The steps pass: keep the step's states their place, and route after it."""
    if ctx.called:
        raise UnsupportedConstruct(
            f"x-for-each on step {step.step_id!r} of workflow {ctx.workflow.workflow_id!r}, whose states are inlined into its caller, is not supported: "
            "mark the workflow x-child-execution: true",
            step.location,
        )
    for name in _names(step).values():
        ctx.reserve(name, step.location)
    ctx.for_each_steps.append(step)
    route_step(ctx, step)


def lower(ctx: Context) -> None:
    """Pass: the states of each step placed with x-for-each."""
    for step in ctx.for_each_steps:
        _build(ctx, step)


def _build(ctx: Context, step: Step) -> None:
    spec = step.for_each
    assert spec is not None  # only x-for-each steps are placed
    if ctx.resolve is None:
        raise UnsupportedConstruct("calling another workflow needs the whole document", step.location)
    # The child's state machine is named by the called workflow's own id, also one of another document.
    child_id = ctx.resolve(called_workflow(step)).workflow_id
    ctx.children.add(child_id)
    names = _names(step)
    at = ctx.step_path(step.step_id)
    counter_key = {"id": {"S.$": f"{at}.counter"}}
    tolerated_key, tolerated = _tolerated(ctx, step, spec)
    ctx.fill(names["start"], {
        "Type": "Pass",
        "Comment": _comment(step, spec),
        "Parameters": {
            "counter.$": f"States.Format('{{}}/{format_literal(step.step_id)}/{{}}', $$.Execution.Id, $$.State.EnteredTime)",
        },
        "ResultPath": at,
        "Next": names["open"],
    })
    ctx.fill(names["open"], {
        "Type": "Task",
        "Comment": "The counts by outcome, shared by the iterations, start at 0.",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": _table(),
            "Key": counter_key,
            "UpdateExpression": "SET " + ", ".join(f"{outcome} = :zero" for outcome in OUTCOMES),
            "ExpressionAttributeValues": {":zero": {"N": "0"}},
        },
        "ResultPath": None,
        "Retry": [dict(DYNAMODB_RETRY)],
        "Next": names["map"],
    })
    item_value = append_pointer("$$.Map.Item.Value", parse_pointer(spec.pointer or ""), spec.location)
    given: dict[str, Any] = {}
    for parameter in step.parameters:
        key, value = template_entry(ctx, parameter.name, parameter.value, step, parameter.location)
        given[key] = value
    given[f"{spec.input}.$"] = item_value
    # Lets the console link each child to the execution the step runs in.
    given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] = "$$.Execution.Id"
    items_path = value_path(ctx, parse_expression(spec.items, spec.location, ctx.workflow.version), step, spec.location)
    concurrency: dict[str, Any]
    if isinstance(spec.max_concurrency, str):
        concurrency = {"MaxConcurrencyPath": value_path(ctx, parse_expression(spec.max_concurrency, spec.location, ctx.workflow.version), step, spec.location)}
    else:
        concurrency = {"MaxConcurrency": spec.max_concurrency}
    ctx.fill(names["map"], {
        "Type": "Map",
        "Comment": f"Workflow {child_id} once per item, each a child execution; an item's failure is its result, never the Map's.",
        "ItemsPath": items_path,
        # Evaluated in this execution: its paths read this execution's state data and context.
        "ItemSelector": {
            "item.$": "$$.Map.Item.Value",
            "input": given,
            "counter.$": f"{at}.counter",
            tolerated_key: tolerated,
        },
        **concurrency,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            **_item_processor(step, spec, child_id),
        },
        "ResultPath": f"{at}.results",
        # The Map's own failure (an iteration failing outright): its item goes, then the step fails.
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": names["aborted"]}],
        "Next": names["counts"],
    })
    ctx.fill(names["counts"], {
        "Type": "Task",
        "Comment": "The counts by outcome, as the iterations left them, read as their item is deleted: it does not outlive the step.",
        "Resource": "arn:aws:states:::dynamodb:deleteItem",
        "Parameters": {"TableName": _table(), "Key": counter_key, "ReturnValues": "ALL_OLD"},
        "ResultSelector": {f"{outcome}.$": f"States.StringToJson($.Attributes.{outcome}.N)" for outcome in OUTCOMES},
        "ResultPath": f"{at}.counts",
        "Retry": [dict(DYNAMODB_RETRY)],
        "Next": names["tolerance"],
    })
    ctx.fill(names["aborted"], {
        "Type": "Task",
        "Comment": "The Map failed: the counts' item goes all the same (and the Map's failure, not this one's, is told).",
        "Resource": "arn:aws:states:::dynamodb:deleteItem",
        "Parameters": {"TableName": _table(), "Key": counter_key},
        "ResultPath": None,
        "Retry": [dict(DYNAMODB_RETRY)],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": names["abort"]}],
        "Next": names["abort"],
    })
    ctx.fill(names["abort"], {"Type": "Fail", "Comment": "The cause is the Map's error and cause: {Error, Cause}.",
                              "Error": MAP_FAILED_ERROR, "CausePath": "States.JsonToString($.failure)"})
    comparison = "NumericGreaterThanPath" if tolerated_key.endswith(".$") else "NumericGreaterThan"
    ctx.fill(names["tolerance"], {
        "Type": "Choice",
        "Choices": [{"Variable": f"{at}.counts.failed", comparison: tolerated, "Next": names["failed"]}],
        "Default": route_name(step),
    })
    tolerated_argument = tolerated if isinstance(tolerated, str) else str(tolerated)
    ctx.fill(names["failed"], {
        "Type": "Pass",
        "Comment": "More items failed than tolerated: say how many, and which.",
        "Parameters": {
            "message.$": (
                f"States.Format('Step {format_literal(step.step_id)} (workflow {format_literal(child_id)} for each item): "
                f"{{}} items failed, {{}} tolerated', {at}.counts.failed, {tolerated_argument})"
            ),
            "step": step.step_id,
            "workflowId": child_id,
            tolerated_key.replace("tolerated", "toleratedFailures"): tolerated,
            "counts.$": f"{at}.counts",
            # At least one item failed here, so the filter matches.
            "failed.$": f"{at}.results[?(@.outcome == 'failed')]",
        },
        "ResultPath": "$.failure",
        "Next": names["fail"],
    })
    ctx.fill(names["fail"], {"Type": "Fail", "Error": spec.error, "CausePath": "States.JsonToString($.failure)"})


def _item_processor(step: Step, spec: ForEachSpec, child_id: str) -> dict[str, Any]:
    """One iteration: look whether more items have failed than tolerated (then start nothing),
    run the child, make its outcome the item's result, add the outcome to the counts."""
    n = _item_names(step)
    counter_key = {"id": {"S.$": "$.counter"}}
    tag = re.sub(r"[^A-Za-z0-9_-]", "-", step.step_id)[:40]
    item_input = member("$.input", spec.input)
    # Each result names its item by what the child was given: {<input>: value, outcome, ...}.
    named = {f"{spec.input}.$": item_input}
    failure_result = {
        **named,
        "executionArn.$": "$.failure.child.ExecutionArn",
        "error.$": "$.failure.child.Error",
        "cause.$": "$.failure.child.Cause",
    }
    states: dict[str, Any] = {
        n["Check"]: {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": _table(), "Key": counter_key, "ConsistentRead": True},
            "ResultSelector": {"failed.$": "States.StringToJson($.Item.failed.N)"},
            "ResultPath": "$.counts",
            "Retry": [dict(DYNAMODB_RETRY)],
            # Unable to tell how many failed: start nothing rather than more than tolerated.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": n["NotStarted"]}],
            "Next": n["Decide"],
        },
        n["Decide"]: {
            "Type": "Choice",
            "Choices": [{"Variable": "$.counts.failed", "NumericGreaterThanPath": "$.tolerated", "Next": n["NotStarted"]}],
            "Default": n["Run"],
        },
        n["Run"]: {
            "Type": "Task",
            "Resource": START_CHILD,
            "Parameters": {
                "StateMachineArn": "${" + state_machine_placeholder(child_id) + "}",
                "Name.$": (
                    f"States.Format('{format_literal(tag)}-{{}}', "
                    f"States.Hash(States.Format('{{}}/{{}}', $.counter, States.JsonToString({item_input})), 'MD5'))"
                ),
                "Input.$": "$.input",
            },
            "ResultSelector": {"executionArn.$": "$.ExecutionArn", "outputs.$": "$.Output"},
            "ResultPath": "$.run",
            "Retry": [dict(STEP_FUNCTIONS_SERVICE_RETRY)],
            # The child's failure arrives as States.TaskFailed, the child described in the cause.
            "Catch": [
                {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failure", "Next": n["Described"]},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": n["NotDescribed"]},
            ],
            "Next": n["Succeeded"],
        },
        n["Succeeded"]: {
            "Type": "Pass",
            "Parameters": {**named, "outcome": "succeeded", "executionArn.$": "$.run.executionArn", "outputs.$": "$.run.outputs"},
            "ResultPath": "$.result",
            "Next": n["Record"],
        },
        n["Described"]: {
            "Type": "Pass",
            "Comment": "The child's own error and cause (the execution's description where it gave none).",
            "Parameters": {"child.$": "States.JsonMerge($.failure, States.StringToJson($.failure.Cause), false)"},
            "ResultPath": "$.failure",
            "Next": n["Classify"] if spec.skip_on else n["Failed"],
        },
        n["NotDescribed"]: {
            "Type": "Pass",
            "Comment": "The child could not be started: the error is the start's.",
            "Parameters": {"child": {"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause", "ExecutionArn": None}},
            "ResultPath": "$.failure",
            "Next": n["Failed"],
        },
        n["Failed"]: {"Type": "Pass", "Parameters": {**failure_result, "outcome": "failed"}, "ResultPath": "$.result", "Next": n["Record"]},
        n["NotStarted"]: {"Type": "Pass", "Parameters": {**named, "outcome": "notStarted"}, "ResultPath": "$.result", "Next": n["Record"]},
        n["Record"]: {
            "Type": "Task",
            "Comment": "The item's outcome is added to the counts (a failure, before any later item looks).",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": _table(),
                "Key": counter_key,
                "UpdateExpression": "ADD #outcome :one",
                "ExpressionAttributeNames": {"#outcome.$": "$.result.outcome"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            },
            "ResultPath": None,
            "OutputPath": "$.result",
            "Retry": [dict(DYNAMODB_RETRY)],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.unrecorded", "Next": n["Unrecorded"]}],
            "End": True,
        },
        n["Unrecorded"]: {"Type": "Pass", "Comment": "The item's result stands, though the counts miss it.", "OutputPath": "$.result", "End": True},
    }
    if spec.skip_on:
        states[n["Classify"]] = {
            "Type": "Choice",
            "Choices": [{"Or": [{"Variable": "$.failure.child.Error", "StringEquals": error} for error in spec.skip_on], "Next": n["Skipped"]}]
            if len(spec.skip_on) > 1 else [{"Variable": "$.failure.child.Error", "StringEquals": spec.skip_on[0], "Next": n["Skipped"]}],
            "Default": n["Failed"],
        }
        states[n["Skipped"]] = {"Type": "Pass", "Parameters": {**failure_result, "outcome": "skipped"}, "ResultPath": "$.result", "Next": n["Record"]}
    order = [n[part] for part in ("Check", "Decide", "Run", "Succeeded", "Described", "NotDescribed", "Classify", "Failed", "Skipped", "NotStarted", "Record", "Unrecorded")]
    return {"StartAt": n["Check"], "States": {name: states[name] for name in order if name in states}}


def _tolerated(ctx: Context, step: Step, spec: ForEachSpec) -> tuple[str, Any]:
    """`tolerated` and its value: an integer, or (`tolerated.$`) the path of an expression."""
    if isinstance(spec.tolerated_failures, str):
        return "tolerated.$", value_path(ctx, parse_expression(spec.tolerated_failures, spec.location, ctx.workflow.version), step, spec.location)
    return "tolerated", spec.tolerated_failures


def _table() -> str:
    return "${" + COUNTER_TABLE_PLACEHOLDER + "}"


def _comment(step: Step, spec: ForEachSpec) -> str:
    described = " ".join(step.description.split()) + " " if step.description else ""
    return f"{described}Workflow {called_workflow(step)} for each item of {spec.items}; the counts by outcome are kept in a DynamoDB item."
