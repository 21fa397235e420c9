"""Workflows started as child executions: a workflow marked `x-child-execution: true` is
compiled to a state machine of its own, and a step with `workflowId: <it>` becomes a Task
`arn:aws:states:::states:startExecution.sync:2` whose input is the step's parameters and
whose `$outputs` are the child's workflow outputs. The child's failure reaches the step with
the child's own error and cause, so the step's successCriteria and onFailure actions apply.

Each test compiles the parent and every child (`compile_bundle`), runs them together in
moto against a scripted server with the harness of `test_constructs`, and checks the status,
the outputs or the error and cause, and the exact requests the server received.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.test_constructs import Execution, assert_step_failed, execute, write_document

CLI = Path("/work/main/.venv/bin/arazzo-sfn")
START_CHILD = "arn:aws:states:::states:startExecution.sync:2"
CHILD_NAME = re.compile(r"^look-[0-9a-f]{32}$")

# A parent that looks an item up through a child execution, then reports on it.
# {criteria} and {actions} are filled in by the tests that need them.
RESTOCK = """\
workflows:
- workflowId: restock-item
  inputs:
    type: object
    properties:
      itemId: {{type: string}}
  steps:
  - stepId: look
    workflowId: fetch-item
    parameters:
    - {{name: itemId, value: $inputs.itemId}}
{criteria}    outputs:
      name: $outputs.name
      stock: $outputs.stock
{actions}  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        name: $steps.look.outputs.name
        stock: $steps.look.outputs.stock
    onSuccess:
    - name: reported
      type: end
{recreate}{outputs}- workflowId: fetch-item
  x-child-execution: true
  inputs:
    type: object
    properties:
      itemId: {{type: string}}
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {{name: itemId, in: path, value: $inputs.itemId}}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
      stock: $response.body#/stock
      active: $response.body#/active
      note: $response.body#/note
      state: $response.body#/state
    onFailure:
    - name: gone
      type: end
      criteria:
      - condition: $statusCode == 410
      x-fail:
        error: ItemGone
        cause:
          itemId: $inputs.itemId
          reason: $response.body#/reason
  outputs:
    name: $steps.read.outputs.name
    stock: $steps.read.outputs.stock
    active: $steps.read.outputs.active
    note: $steps.read.outputs.note
    state: $steps.read.outputs.state
"""
RECREATE = """\
  - stepId: recreate
    operationId: createItem
    requestBody:
      payload:
        id: $inputs.itemId
"""
PARENT_OUTPUTS = """\
  outputs:
    name: $steps.look.outputs.name
    stock: $steps.look.outputs.stock
"""
ITEM = {"name": "bolt", "stock": 4, "active": True, "note": None, "state": "ready"}
GOTO_RECREATE = """\
    onFailure:
    - name: recreateIt
      type: goto
      stepId: recreate
"""
END_WITH_X_FAIL = """\
    onFailure:
    - name: lookupFailed
      type: end
      x-fail:
        error: LookupFailed
        cause:
          itemId: $inputs.itemId
          message: The item could not be looked up.
"""


def restock(directory: Path, criteria: str = "", actions: str = "", outputs: str = PARENT_OUTPUTS) -> Path:
    """The parent and its child; `recreate` is there when an action goes to it."""
    recreate = RECREATE if "stepId: recreate" in actions else ""
    return write_document(directory, RESTOCK.format(criteria=criteria, actions=actions, recreate=recreate, outputs=outputs))


def run_restock(document: Path, item: Reply, inputs: dict | None = None) -> Execution:
    return execute(document, {
        "GET /items/{itemId}": item,
        "POST /reports": Reply(201),
        "POST /items": Reply(201),
    }, inputs={"itemId": "it-1"} if inputs is None else inputs, workflow_id="restock-item")


def child_events(execution: Execution, kind: str) -> list[dict]:
    """The details of the parent's `kind` history events (TaskScheduled, TaskSucceeded...)
    about starting a child execution."""
    details = [event[kind[0].lower() + kind[1:] + "EventDetails"] for event in execution.result.history if event["type"] == kind]
    return [detail for detail in details if detail["resource"] == "startExecution.sync:2"]


def child_starts(execution: Execution) -> list[dict]:
    """What each startExecution.sync:2 task of the parent was given."""
    return [json.loads(detail["parameters"]) for detail in child_events(execution, "TaskScheduled")]


def assert_succeeded(execution: Execution) -> None:
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)


# --- success, outputs flowing ---------------------------------------------------------------

def test_the_childs_outputs_flow_into_a_later_parent_step(tmp_path):
    execution = run_restock(restock(tmp_path), Reply(200, ITEM))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /reports"]
    assert execution.server.calls[1].body == {"name": "bolt", "stock": 4}
    assert execution.result.output == {"name": "bolt", "stock": 4}
    # The child is one Task of the parent; its own step ran in its own execution.
    assert execution.tasks == ["look", "report"]
    (start,) = child_starts(execution)
    assert start["Input"]["itemId"] == "it-1"
    assert start["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == execution.result.execution_arn
    assert start["StateMachineArn"].endswith(":stateMachine:fetch-item")
    assert CHILD_NAME.match(start["Name"]), start["Name"]


# --- the child's failure --------------------------------------------------------------------

def test_a_child_step_that_fails_fails_the_parent_with_the_childs_step_failed(tmp_path):
    execution = run_restock(restock(tmp_path), Reply(404, {"error": "no such item"}))

    cause = assert_step_failed(execution, "read", 404)  # the CHILD's step, not `look`
    assert cause["operationId"] == "getItem"
    assert cause["response"] == {"error": "no such item"}
    assert execution.requests == ["GET /items/it-1"]
    assert execution.result.output is None


def test_a_child_ending_with_its_own_x_fail_fails_the_parent_with_that_error(tmp_path):
    execution = run_restock(restock(tmp_path), Reply(410, {"reason": "discontinued"}))

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ItemGone"
    assert execution.failure() == {"itemId": "it-1", "reason": "discontinued"}
    assert execution.requests == ["GET /items/it-1"]


@pytest.mark.parametrize("item", [Reply(404, {"error": "no such item"}), Reply(410, {"reason": "discontinued"})], ids=["StepFailed", "ItemGone"])
def test_the_childs_failure_is_caught_by_the_parent_steps_on_failure_goto(tmp_path, item):
    # The parent's outputs do not read the failed step (see the next test for when they do).
    execution = run_restock(restock(tmp_path, actions=GOTO_RECREATE, outputs=""), item)

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /items"]
    assert execution.server.calls[1].body == {"id": "it-1"}
    assert execution.tasks == ["look", "recreate"]
    assert execution.result.output == {}


def test_outputs_of_a_caught_failed_child_step_are_null(tmp_path):
    execution = run_restock(restock(tmp_path, actions=GOTO_RECREATE), Reply(404, {"error": "no such item"}))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /items"]
    assert execution.result.output == {"name": None, "stock": None}


def test_the_parent_steps_on_failure_goto_is_not_taken_when_the_child_succeeds(tmp_path):
    execution = run_restock(restock(tmp_path, actions=GOTO_RECREATE), Reply(200, ITEM))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /reports"]


@pytest.mark.parametrize("item", [Reply(404, {"error": "no such item"}), Reply(410, {"reason": "discontinued"})], ids=["StepFailed", "ItemGone"])
def test_an_on_failure_end_with_x_fail_on_the_parent_step_names_the_parents_error(tmp_path, item):
    execution = run_restock(restock(tmp_path, actions=END_WITH_X_FAIL), item)

    assert execution.result.status == "FAILED"
    assert execution.result.error == "LookupFailed"
    assert execution.failure() == {"itemId": "it-1", "message": "The item could not be looked up."}
    assert execution.requests == ["GET /items/it-1"]


WHEN_OUT_OF_STOCK = """\
    successCriteria:
    - condition: $outputs.stock > 0
"""
GOTO_WHEN_OUT_OF_STOCK = """\
    onFailure:
    - name: recreateIt
      type: goto
      stepId: recreate
      criteria:
      - condition: $outputs.stock == 0
"""


@pytest.mark.parametrize("item, error, cause", [
    (Reply(404, {"error": "no such item"}), "StepFailed", {
        "message": "Step read (getItem) failed its success criteria: HTTP 404",
        "step": "read", "operationId": "getItem", "statusCode": 404, "response": {"error": "no such item"},
    }),
    (Reply(410, {"reason": "discontinued"}), "ItemGone", {"itemId": "it-1", "reason": "discontinued"}),
], ids=["StepFailed", "ItemGone"])
def test_without_a_failure_action_that_applies_the_parent_fails_with_the_childs_error_and_cause(tmp_path, item, error, cause):
    document = restock(tmp_path, criteria=WHEN_OUT_OF_STOCK, actions=GOTO_WHEN_OUT_OF_STOCK, outputs="")
    execution = run_restock(document, item)

    assert execution.result.status == "FAILED"
    assert execution.result.error == error
    assert execution.failure() == cause
    assert execution.requests == ["GET /items/it-1"]


def test_a_failure_action_whose_criteria_hold_over_outputs_applies_when_the_criteria_fail(tmp_path):
    document = restock(tmp_path, criteria=WHEN_OUT_OF_STOCK, actions=GOTO_WHEN_OUT_OF_STOCK, outputs="")
    execution = run_restock(document, Reply(200, {**ITEM, "stock": 0}))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /items"]
    assert execution.tasks == ["look", "recreate"]


# --- success criteria over $outputs ---------------------------------------------------------

OUTPUT_CRITERIA = [
    ({"condition": "$outputs.stock > 0"}, ITEM, True),
    ({"condition": "$outputs.stock > 0"}, {**ITEM, "stock": 0}, False),
    ({"condition": "$outputs.active == true"}, ITEM, True),
    ({"condition": "$outputs.active == true"}, {**ITEM, "active": False}, False),
    ({"condition": "$outputs.note == null"}, ITEM, True),
    ({"condition": "$outputs.note == null"}, {**ITEM, "note": "check"}, False),
    ({"type": "jsonpath", "context": "$outputs.state", "condition": "$ == 'ready'"}, ITEM, True),
    # Compared exactly, as a Choice rule compares strings.
    ({"type": "jsonpath", "context": "$outputs.state", "condition": "$ == 'ready'"}, {**ITEM, "state": "Ready"}, False),
    ({"type": "jsonpath", "context": "$outputs.state", "condition": "$ == 'ready'"}, {**ITEM, "state": "pending"}, False),
]


@pytest.mark.parametrize("criterion, item, holds", OUTPUT_CRITERIA, ids=[
    "number holds", "number fails", "boolean holds", "boolean fails", "null holds", "null fails",
    "jsonpath string holds", "jsonpath string is case-sensitive", "jsonpath string fails",
])
def test_success_criteria_over_the_childs_outputs(tmp_path, criterion, item, holds):
    criteria = f"    successCriteria:\n    - {json.dumps(criterion)}\n"
    execution = run_restock(restock(tmp_path, criteria=criteria), Reply(200, item))

    if holds:
        assert_succeeded(execution)
        assert execution.requests == ["GET /items/it-1", "POST /reports"]
        return
    assert execution.result.status == "FAILED"
    assert execution.result.error == "StepFailed", (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["step"] == "look" and cause["workflowId"] == "fetch-item"
    assert cause["outputs"] == item
    assert re.search(r":execution:fetch-item:look-[0-9a-f]{32}$", cause["executionArn"]), cause["executionArn"]
    assert execution.requests == ["GET /items/it-1"]


# --- a parent step that goes back to itself -------------------------------------------------

WATCH = """\
workflows:
- workflowId: watch-job
  steps:
  - stepId: watch
    workflowId: check-job
    parameters:
    - {name: jobId, value: j-1}
    outputs:
      done: $outputs.done
    onSuccess:
    - name: notYet
      type: goto
      stepId: watch
      criteria:
      - condition: $outputs.done == false
      x-loop:
        waitSeconds: 0
        maxIterations: 5
        error: JobTimedOut
        cause:
          jobId: j-1
          lastDone: $outputs.done
  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        done: $steps.watch.outputs.done
  outputs:
    done: $steps.watch.outputs.done
- workflowId: check-job
  x-child-execution: true
  inputs:
    type: object
    properties:
      jobId: {type: string}
  steps:
  - stepId: read
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: $inputs.jobId}
    outputs:
      done: $response.body#/done
  outputs:
    done: $steps.read.outputs.done
"""
NOT_DONE, DONE = Reply(200, {"done": False}), Reply(200, {"done": True})


def run_watch(directory: Path, replies: list[Reply] | Reply) -> Execution:
    return execute(write_document(directory, WATCH), {"GET /jobs/{jobId}": replies, "POST /reports": Reply(201)}, workflow_id="watch-job")


def test_a_child_step_that_goes_back_to_itself_starts_a_new_child_each_pass(tmp_path):
    execution = run_watch(tmp_path, [NOT_DONE, NOT_DONE, DONE])

    assert_succeeded(execution)
    assert execution.requests == ["GET /jobs/j-1"] * 3 + ["POST /reports"]
    assert execution.server.calls[3].body == {"done": True}
    assert execution.result.output == {"done": True}
    assert execution.tasks == ["watch", "watch", "watch", "report"]
    names = [start["Name"] for start in child_starts(execution)]
    assert len(names) == 3 and len(set(names)) == 3, names
    assert all(re.match(r"^watch-[0-9a-f]{32}$", name) for name in names), names


def test_a_child_step_loop_is_bounded_by_max_iterations_with_the_x_loop_error(tmp_path):
    execution = run_watch(tmp_path, NOT_DONE)

    assert execution.result.status == "FAILED"
    assert execution.result.error == "JobTimedOut", (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["step"] == "watch" and cause["iterations"] == 5
    assert cause["jobId"] == "j-1" and cause["lastDone"] is False
    # maxIterations bounds the gotos taken: the first child and five more.
    assert execution.requests == ["GET /jobs/j-1"] * 6
    assert len(child_starts(execution)) == 6


# --- three levels -----------------------------------------------------------------------------

THREE_LEVELS = """\
workflows:
- workflowId: top
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: middle
    workflowId: middle-flow
    parameters:
    - {name: itemId, value: $inputs.itemId}
    outputs:
      name: $outputs.name
      reportId: $outputs.reportId
  outputs:
    name: $steps.middle.outputs.name
    reportId: $steps.middle.outputs.reportId
- workflowId: middle-flow
  x-child-execution: true
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: leaf
    workflowId: leaf-flow
    parameters:
    - {name: itemId, value: $inputs.itemId}
    outputs:
      name: $outputs.name
  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        name: $steps.leaf.outputs.name
    outputs:
      reportId: $response.body#/id
  outputs:
    name: $steps.leaf.outputs.name
    reportId: $steps.report.outputs.reportId
- workflowId: leaf-flow
  x-child-execution: true
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $inputs.itemId}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
  outputs:
    name: $steps.read.outputs.name
"""


def test_a_child_of_a_child_runs_three_levels_deep(tmp_path):
    document = write_document(tmp_path, THREE_LEVELS)
    assert list(compile_bundle(document, "top")) == ["top", "middle-flow", "leaf-flow"]

    execution = execute(document, {"GET /items/{itemId}": Reply(200, {"name": "bolt"}), "POST /reports": Reply(201, {"id": "r-1"})}, inputs={"itemId": "it-3"}, workflow_id="top")

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-3", "POST /reports"]
    assert execution.server.calls[1].body == {"name": "bolt"}
    assert execution.result.output == {"name": "bolt", "reportId": "r-1"}


def test_a_failure_three_levels_deep_reaches_the_top_with_the_leafs_error(tmp_path):
    document = write_document(tmp_path, THREE_LEVELS)
    execution = execute(document, {"GET /items/{itemId}": Reply(404, {"error": "no such item"}), "POST /reports": Reply(201, {"id": "r-1"})}, inputs={"itemId": "it-3"}, workflow_id="top")

    assert_step_failed(execution, "read", 404)
    assert execution.requests == ["GET /items/it-3"]


# --- workflow-level parameters ---------------------------------------------------------------

WORKFLOW_PARAMETERS = """\
workflows:
- workflowId: tenant-restock
  inputs:
    type: object
    properties:
      tenant: {type: string}
  parameters:
  - {name: tenant, in: query, value: $inputs.tenant}
  steps:
  - stepId: look
    workflowId: tenant-fetch
    parameters:
    - {name: itemId, value: it-1}
    outputs:
      name: $outputs.name
  - stepId: list
    operationId: listItems
- workflowId: tenant-fetch
  x-child-execution: true
  inputs:
    type: object
    properties:
      itemId: {type: string}
      tenant: {type: string}
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $inputs.itemId}
    - {name: tenant, in: query, value: $inputs.tenant}
    outputs:
      name: $response.body#/name
  outputs:
    name: $steps.read.outputs.name
"""


def test_workflow_level_parameters_of_the_parent_are_inputs_of_the_child_step(tmp_path):
    execution = execute(write_document(tmp_path, WORKFLOW_PARAMETERS), {
        "GET /items/{itemId}": Reply(200, {"name": "bolt"}),
        "GET /items": Reply(200, []),
    }, inputs={"tenant": "acme"}, workflow_id="tenant-restock")

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "GET /items"]
    assert [call.query for call in execution.server.calls] == [{"tenant": ["acme"]}] * 2
    (start,) = child_starts(execution)
    assert {key: start["Input"][key] for key in ("itemId", "tenant")} == {"itemId": "it-1", "tenant": "acme"}


# --- the state machines and the parent's history ---------------------------------------------

def test_the_child_is_not_inlined_and_the_step_starts_its_state_machine(tmp_path):
    document = restock(tmp_path)
    bundle = compile_bundle(document, "restock-item")
    assert list(bundle) == ["restock-item", "fetch-item"]

    execution = run_restock(document, Reply(200, ITEM))

    assert_succeeded(execution)
    states = execution.asl["States"]
    child_steps = {name for name, state in bundle["fetch-item"]["States"].items() if state["Type"] == "Task"}
    assert child_steps == {"read"}
    # None of the child's step states is in the parent, under any prefix.
    assert not [name for name in states if "read" in name.split(".")]
    assert "getItem" not in json.dumps(states)
    assert execution.requests == ["GET /items/it-1", "POST /reports"]
    look = states["look"]
    assert look["Type"] == "Task"
    assert look["Resource"] == START_CHILD
    assert look["Parameters"]["StateMachineArn"] == "${FetchItemStateMachineArn}"


def test_the_parents_history_shows_the_child_submitted_and_succeeded(tmp_path):
    execution = run_restock(restock(tmp_path), Reply(200, ITEM))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/it-1", "POST /reports"]
    (submitted,) = [json.loads(detail["output"]) for detail in child_events(execution, "TaskSubmitted")]
    (succeeded,) = [json.loads(detail["output"]) for detail in child_events(execution, "TaskSucceeded")]
    assert submitted["ExecutionArn"] == succeeded["ExecutionArn"]
    assert re.search(r":execution:fetch-item:look-[0-9a-f]{32}$", succeeded["ExecutionArn"])
    assert succeeded["Status"] == "SUCCEEDED"
    assert succeeded["Output"] == ITEM


# --- the command line -------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SERVER_URL", "POWERTOOLS_"))}
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=environment, timeout=180)


def test_compile_all_writes_one_file_per_workflow(tmp_path):
    document = write_document(tmp_path, THREE_LEVELS)
    out = tmp_path / "asl"

    done = run_cli("compile", document, "--all", "-o", out)

    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["leaf-flow.asl.json", "middle-flow.asl.json", "top.asl.json"]
    written = {path.name.removesuffix(".asl.json"): json.loads(path.read_text(encoding="utf-8")) for path in out.iterdir()}
    assert written == compile_bundle(document, "top")  # each file is the state machine a run uses
    top, middle, leaf = written["top"], written["middle-flow"], written["leaf-flow"]
    assert top["States"]["middle"]["Resource"] == START_CHILD
    assert top["States"]["middle"]["Parameters"]["StateMachineArn"] == "${MiddleFlowStateMachineArn}"
    assert middle["States"]["leaf"]["Parameters"]["StateMachineArn"] == "${LeafFlowStateMachineArn}"
    assert leaf["States"]["read"]["Resource"] == "arn:aws:states:::lambda:invoke"


def test_the_cli_runs_the_parent_and_its_child_together(tmp_path):
    document = restock(tmp_path)
    with ScriptedServer({"GET /items/{itemId}": Reply(200, ITEM), "POST /reports": Reply(201)}) as server:
        done = run_cli("run", document, "--workflow", "restock-item", "--input", '{"itemId": "it-1"}', "--server-url", server.url, "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one JSON object, the whole of stdout
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == {"name": "bolt", "stock": 4}
    assert result["error"] is None and result["cause"] is None
    assert server.sequence() == ["GET /items/it-1", "POST /reports"]
    assert server.calls[1].body == {"name": "bolt", "stock": 4}
