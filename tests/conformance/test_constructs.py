"""Arazzo constructs, one at a time, compiled and executed: each test writes a small Arazzo
document (beside a tiny OpenAPI description of a warehouse API), runs it in moto's Step
Functions engine with every step performed by the operation function against a scripted
server, and checks the execution's status, its error and cause or its outputs, and the
exact requests the server received (and, where routing is the point, the states visited).

Wait states are kept at 0 seconds (retryAfter: 0, x-loop waitSeconds: 0) and Task retry
backoffs are recorded instead of slept, so the whole suite runs in seconds.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from arazzo_sfn import ArazzoError, compile_document
from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.history import RunResult
from arazzo_sfn.local_run import StepTransition, run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer

OPENAPI = """\
openapi: 3.1.0
info: {title: Warehouse, version: 1.0.0}
paths:
  /health:
    get:
      operationId: checkHealth
      responses: {'200': {description: Healthy}}
  /login:
    post:
      operationId: login
      responses: {'200': {description: A session token}}
  /items:
    get:
      operationId: listItems
      responses: {'200': {description: Items}}
    post:
      operationId: createItem
      responses: {'201': {description: Created}}
  /items/{itemId}:
    parameters:
    - {name: itemId, in: path, required: true, schema: {type: string}}
    get:
      operationId: getItem
      responses: {'200': {description: The item}}
    put:
      operationId: updateItem
      responses: {'200': {description: Updated}}
    delete:
      operationId: deleteItem
      responses: {'204': {description: Deleted}}
  /jobs:
    post:
      operationId: startJob
      responses: {'202': {description: Started}}
  /jobs/{jobId}:
    parameters:
    - {name: jobId, in: path, required: true, schema: {type: string}}
    get:
      operationId: getJob
      responses: {'200': {description: The job}}
  /reports:
    post:
      operationId: createReport
      responses: {'201': {description: Created}}
"""

HEADER = """\
arazzo: 1.0.1
info: {title: Warehouse constructs, version: 1.0.0}
sourceDescriptions:
- {name: warehouse, url: ./warehouse.openapi.yaml, type: openapi}
"""


def write_document(directory: Path, body: str) -> Path:
    """An Arazzo document: the common header, then `body` (workflows, components)."""
    (directory / "warehouse.openapi.yaml").write_text(OPENAPI, encoding="utf-8")
    path = directory / "warehouse.arazzo.yaml"
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return path


@dataclass
class Execution:
    result: RunResult
    server: ScriptedServer
    transitions: list[StepTransition]
    sleeps: list[float]
    asl: dict

    @property
    def requests(self) -> list[str]:
        return self.server.sequence()

    @property
    def tasks(self) -> list[str]:
        return [t.state for t in self.transitions if t.state_type == "Task"]

    @property
    def states(self) -> list[str]:
        return [t.state for t in self.transitions]

    def failure(self) -> dict:
        return json.loads(self.result.cause)


def execute(document: Path, routes: dict, inputs: dict | None = None, workflow_id: str | None = None, server_url: str | None = None) -> Execution:
    """Compile the workflow and the workflows it starts as child executions, and run them all."""
    bundle = compile_bundle(document, workflow_id)
    root = next(iter(bundle))
    asl = bundle.pop(root)
    transitions: list[StepTransition] = []
    sleeps: list[float] = []
    with ScriptedServer(routes) as server:
        result = run_workflow(
            asl,
            inputs or {},
            server_url or server.url,
            children=bundle,
            retry_sleep=sleeps.append,
            on_transition=transitions.append,
            timeout_seconds=60,
        )
    return Execution(result, server, transitions, sleeps, asl)


def closed_server_url() -> str:
    """The URL of a loopback port nothing listens on any more: connecting is refused."""
    with ScriptedServer({}) as gone:
        return gone.url


def evaluates(asl: dict, step: str) -> bool:
    """Whether the step's function is asked to evaluate criteria (rather than Choice rules)."""
    return "evaluate" in asl["States"][step]["Parameters"]["Payload"]


def assert_step_failed(execution: Execution, step: str, status_code: int) -> dict:
    assert execution.result.status == "FAILED"
    assert execution.result.error == "StepFailed", (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["step"] == step and cause["statusCode"] == status_code
    return cause


# --- steps in order, outputs flowing into every part of a later request ------------------------

OUTPUTS_FLOW = """\
workflows:
- workflowId: create-then-update
  inputs:
    type: object
    properties:
      name: {type: string}
      color: {type: string, default: blue}
      size: {type: integer, default: 3}
  steps:
  - stepId: create
    operationId: createItem
    requestBody:
      contentType: application/json
      payload:
        name: $inputs.name
        color: $inputs.color
    successCriteria:
    - condition: $statusCode == 201
    outputs:
      itemId: $response.body#/id
      revision: $response.body#/revision
      token: $response.header.X-Edit-Token
  - stepId: update
    operationId: updateItem
    parameters:
    - {name: itemId, in: path, value: $steps.create.outputs.itemId}
    - {name: revision, in: query, value: $steps.create.outputs.revision}
    - {name: size, in: query, value: $inputs.size}
    - {name: X-Edit-Token, in: header, value: $steps.create.outputs.token}
    - {name: rev, in: cookie, value: $steps.create.outputs.revision}
    requestBody:
      payload:
        itemId: $steps.create.outputs.itemId
        size: $inputs.size
        color: $inputs.color
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      state: $response.body#/state
  outputs:
    itemId: $steps.create.outputs.itemId
    state: $steps.update.outputs.state
    color: $inputs.color
    size: $inputs.size
"""


def test_outputs_flow_into_path_query_header_cookie_and_body_of_a_later_step(tmp_path):
    execution = execute(write_document(tmp_path, OUTPUTS_FLOW), {
        "POST /items": Reply(201, {"id": "it-9", "revision": 4}, {"X-Edit-Token": "tok-1"}),
        "PUT /items/{itemId}": Reply(200, {"state": "updated"}),
    }, inputs={"name": "bolt", "size": 5})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items", "PUT /items/it-9"]
    assert execution.tasks == ["create", "update"]
    create, update = execution.server.calls
    # color comes from the schema's default; size was given, so its default does not apply.
    assert create.body == {"name": "bolt", "color": "blue"}
    assert update.query == {"revision": ["4"], "size": ["5"]}
    assert update.headers["x-edit-token"] == "tok-1"
    assert update.cookies == {"rev": "4"}
    assert update.body == {"itemId": "it-9", "size": 5, "color": "blue"}
    assert execution.result.output == {"itemId": "it-9", "state": "updated", "color": "blue", "size": 5}


def test_every_default_applies_when_no_input_is_given(tmp_path):
    execution = execute(write_document(tmp_path, OUTPUTS_FLOW), {
        "POST /items": Reply(201, {"id": "it-1", "revision": 1}, {"X-Edit-Token": "tok-2"}),
        "PUT /items/{itemId}": Reply(200, {"state": "updated"}),
    }, inputs={"name": "nut"})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items", "PUT /items/it-1"]
    assert execution.server.calls[1].query == {"revision": ["1"], "size": ["3"]}
    assert execution.result.output == {"itemId": "it-1", "state": "updated", "color": "blue", "size": 3}


# --- successCriteria ------------------------------------------------------------------------

ONE_CHECK = """\
workflows:
- workflowId: check-item
  steps:
  - stepId: check
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
  outputs:
    name: $steps.check.outputs.name
"""


def test_a_status_code_criterion_is_a_choice_rule_and_holds(tmp_path):
    execution = execute(write_document(tmp_path, ONE_CHECK), {"GET /items/{itemId}": Reply(200, {"name": "bolt"})})

    assert not evaluates(execution.asl, "check")  # Step Functions decides it alone
    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output == {"name": "bolt"}
    assert execution.requests == ["GET /items/7"]


def test_a_failing_success_criterion_fails_with_the_step_status_and_body(tmp_path):
    execution = execute(write_document(tmp_path, ONE_CHECK), {"GET /items/{itemId}": Reply(202, {"queued": True})})

    cause = assert_step_failed(execution, "check", 202)
    assert cause["response"] == {"queued": True}
    assert cause["operationId"] == "getItem"
    assert "check" in cause["message"] and "202" in cause["message"]
    assert execution.result.output is None
    assert execution.requests == ["GET /items/7"]


NO_CRITERIA = """\
workflows:
- workflowId: remove-item
  steps:
  - stepId: remove
    operationId: deleteItem
    parameters:
    - {name: itemId, in: path, value: '7'}
"""


@pytest.mark.parametrize("status, succeeds", [(200, True), (204, True), (299, True), (302, False), (404, False), (500, False)])
def test_without_success_criteria_any_2xx_succeeds_and_anything_else_fails(tmp_path, status, succeeds):
    execution = execute(write_document(tmp_path, NO_CRITERIA), {"DELETE /items/{itemId}": Reply(status)})

    if succeeds:
        assert execution.result.status == "SUCCEEDED", execution.result.cause
    else:
        assert_step_failed(execution, "remove", status)
    assert execution.requests == ["DELETE /items/7"]


# --- criteria: simple, regex, jsonpath ---------------------------------------------------

CRITERION_BODY = {
    "count": 3,
    "price": 9.5,
    "ready": True,
    "note": None,
    "status": "done",
    "items": [{"sku": "a-1", "price": 5}, {"sku": "b-2", "price": 12}],
}
CRITERION_REPLY = Reply(200, CRITERION_BODY, {"X-Thing": "Yes", "X-Request-Id": "req-0042"})


def criterion_document(directory: Path, criterion: dict) -> Path:
    """One step whose only success criterion is `criterion` (written as JSON, which YAML reads)."""
    return write_document(directory, f"""\
workflows:
- workflowId: judge
  inputs:
    type: object
    properties:
      max: {{type: number, default: 10}}
  steps:
  - stepId: judge
    operationId: getItem
    parameters:
    - {{name: itemId, in: path, value: '7'}}
    successCriteria:
    - {json.dumps(criterion)}
""")


def assert_criterion(execution: Execution, holds: bool) -> None:
    if holds:
        assert execution.result.status == "SUCCEEDED", execution.result.cause
    else:
        assert_step_failed(execution, "judge", execution.server.calls[0].status)
    assert execution.requests == ["GET /items/7"]


SIMPLE_CONDITIONS = [
    ("$statusCode == 200", True),
    ("$response.body#/count == 3", True),
    ("3 == $response.body#/count", True),
    ("$response.body#/count > 3", False),
    ("$response.body#/price <= 9.5", True),
    ("$response.body#/price < 9.5", False),
    ("$response.body#/ready == true", True),
    ("$response.body#/ready != true", False),
    ("$response.body#/ready", True),
    ("$response.body#/note == null", True),
    ("$response.body#/absent == null", False),  # a missing value is not null
    ("$response.body#/absent != null", True),
    ("$response.body#/count == 3 && $response.body#/ready == false", False),
    ("$response.body#/count == 4 || $response.body#/ready == true", True),
    ("!($response.body#/count == 4)", True),
    ("!$response.body#/ready", False),
    ("($response.body#/count == 4 || $response.body#/count == 3) && $statusCode == 200", True),
    # && binds tighter than ||: read left to right this would be false.
    ("$response.body#/count == 3 || $response.body#/count == 4 && $statusCode == 404", True),
    ("$response.header.X-Thing == 'yes'", True),
    ("$response.header.x-THING == 'YES'", True),
    ("$response.body#/status == 'DONE'", True),
    ("$response.body#/status == 'pending'", False),
    ("$response.body#/status == 'Done' && $response.body#/count == 3", True),
]


@pytest.mark.parametrize("condition, holds", SIMPLE_CONDITIONS, ids=[c for c, _ in SIMPLE_CONDITIONS])
def test_simple_condition(tmp_path, condition, holds):
    execution = execute(criterion_document(tmp_path, {"condition": condition}), {"GET /items/{itemId}": CRITERION_REPLY})

    assert_criterion(execution, holds)


def test_a_case_insensitive_string_comparison_is_evaluated_by_the_function(tmp_path):
    # Choice rules compare strings exactly, so the step's function is asked for the verdict.
    document = criterion_document(tmp_path, {"condition": "$response.body#/status == 'DONE'"})
    execution = execute(document, {"GET /items/{itemId}": Reply(200, {"status": "done"})})

    assert evaluates(execution.asl, "judge")
    assert_criterion(execution, True)


CRITERIA = [
    ("regex on the status code", {"type": "regex", "context": "$statusCode", "condition": "^2\\d\\d$"}, CRITERION_REPLY, True),
    ("regex on a 3xx status code", {"type": "regex", "context": "$statusCode", "condition": "^2\\d\\d$"}, Reply(304), False),
    ("regex on a header", {"type": "regex", "context": "$response.header.x-request-id", "condition": "^req-[0-9]{4}$"}, CRITERION_REPLY, True),
    ("regex on a header that does not match", {"type": "regex", "context": "$response.header.X-Request-Id", "condition": "^req-[0-9]{5}$"}, CRITERION_REPLY, False),
    ("jsonpath comparison form", {"type": "jsonpath", "context": "$response.body", "condition": "$.status == 'done'"}, CRITERION_REPLY, True),
    ("jsonpath comparison form is case-sensitive", {"type": "jsonpath", "context": "$response.body", "condition": "$.status == 'Done'"}, CRITERION_REPLY, False),
    ("jsonpath comparison form with a version",
     {"type": {"type": "jsonpath", "version": "draft-goessner-dispatch-jsonpath-00"}, "context": "$response.body", "condition": "$.count >= 3 && $.ready == true"},
     CRITERION_REPLY, True),
    ("filter on an object context", {"type": "jsonpath", "context": "$response.body", "condition": "$[?@.status == 'done']"}, CRITERION_REPLY, True),
    ("filter on an object context that does not match", {"type": "jsonpath", "context": "$response.body", "condition": "$[?@.status == 'running']"}, CRITERION_REPLY, False),
    ("filter on an array context", {"type": "jsonpath", "context": "$response.body#/items", "condition": "$[?@.price > 10]"}, CRITERION_REPLY, True),
    ("filter on an array context that does not match", {"type": "jsonpath", "context": "$response.body#/items", "condition": "$[?@.price > 20]"}, CRITERION_REPLY, False),
]


@pytest.mark.parametrize("criterion, reply, holds", [c[1:] for c in CRITERIA], ids=[c[0] for c in CRITERIA])
def test_criterion(tmp_path, criterion, reply, holds):
    execution = execute(criterion_document(tmp_path, criterion), {"GET /items/{itemId}": reply})

    assert_criterion(execution, holds)


@pytest.mark.parametrize("maximum, holds", [(10, True), (12, False), (None, True)])
def test_a_filter_compares_with_an_input(tmp_path, maximum, holds):
    # The items cost 5 and 12: some cost more than 10 (the default), none more than 12.
    criterion = {"type": "jsonpath", "context": "$response.body#/items", "condition": "$[?@.price > $inputs.max]"}
    inputs = {} if maximum is None else {"max": maximum}
    execution = execute(criterion_document(tmp_path, criterion), {"GET /items/{itemId}": CRITERION_REPLY}, inputs=inputs)

    assert_criterion(execution, holds)


def test_the_comparison_form_of_jsonpath_is_a_choice_rule(tmp_path):
    document = criterion_document(tmp_path, {"type": "jsonpath", "context": "$response.body", "condition": "$.status == 'done'"})
    execution = execute(document, {"GET /items/{itemId}": CRITERION_REPLY})

    assert not evaluates(execution.asl, "judge")
    assert_criterion(execution, True)


# --- onSuccess ------------------------------------------------------------------------------

JOB = """\
workflows:
- workflowId: run-job
  steps:
  - stepId: start
    operationId: startJob
    outputs:
      jobId: $response.body#/id
    onSuccess:
    - name: alreadyFinished
      type: goto
      stepId: report
      criteria:
      - condition: $response.body#/status == 'finished'
  - stepId: poll
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: $steps.start.outputs.jobId}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      status: $response.body#/status
    onSuccess:
    - name: stillRunning
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/status == 'running'
      x-loop:
        waitSeconds: 0
        maxIterations: 2
        error: JobTimedOut
        cause:
          message: The job was still running.
          jobId: $steps.start.outputs.jobId
          lastStatus: $response.body#/status
  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        jobId: $steps.start.outputs.jobId
  outputs:
    jobId: $steps.start.outputs.jobId
"""
RUNNING = Reply(200, {"status": "running"})
FINISHED = Reply(200, {"status": "finished"})
BUSY_JOB = Reply(503, {"error": "busy"})


def test_goto_forward_skips_the_steps_in_between(tmp_path):
    execution = execute(write_document(tmp_path, JOB), {
        "POST /jobs": Reply(202, {"id": "j-1", "status": "finished"}),
        "POST /reports": Reply(201),
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /jobs", "POST /reports"]
    assert execution.server.calls[1].body == {"jobId": "j-1"}
    assert execution.result.output == {"jobId": "j-1"}


def test_goto_backward_polls_until_the_criteria_stop_holding(tmp_path):
    execution = execute(write_document(tmp_path, JOB), {
        "POST /jobs": Reply(202, {"id": "j-1", "status": "queued"}),
        "GET /jobs/{jobId}": [RUNNING, RUNNING, FINISHED],
        "POST /reports": Reply(201),
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /jobs", "GET /jobs/j-1", "GET /jobs/j-1", "GET /jobs/j-1", "POST /reports"]
    assert execution.tasks == ["start", "poll", "poll", "poll", "report"]
    assert execution.states.count("poll.stillRunning.Wait") == 2


def test_a_poll_loop_stops_at_max_iterations_with_the_x_loop_error(tmp_path):
    execution = execute(write_document(tmp_path, JOB), {
        "POST /jobs": Reply(202, {"id": "j-1", "status": "queued"}),
        "GET /jobs/{jobId}": RUNNING,
        "POST /reports": Reply(201),
    })

    assert execution.result.status == "FAILED"
    assert execution.result.error == "JobTimedOut"
    cause = execution.failure()
    assert cause["step"] == "poll" and cause["iterations"] == 2
    assert cause["message"] == "The job was still running."
    assert cause["jobId"] == "j-1" and cause["lastStatus"] == "running"
    # maxIterations bounds the gotos taken: the first read and two more.
    assert execution.requests == ["POST /jobs"] + ["GET /jobs/j-1"] * 3


BATCHES = """\
workflows:
- workflowId: run-batches
  steps:
  - stepId: start
    operationId: startJob
    outputs:
      jobId: $response.body#/id
  - stepId: poll
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: $steps.start.outputs.jobId}
    onSuccess:
    - name: stillRunning
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/running == true
      x-loop: {waitSeconds: 0, maxIterations: 2, error: JobTimedOut}
  - stepId: next
    operationId: listItems
    onSuccess:
    - name: anotherBatch
      type: goto
      stepId: start
      criteria:
      - condition: $response.body#/more == true
      x-loop: {waitSeconds: 0, maxIterations: 5, error: TooManyBatches}
"""


def test_a_poll_loop_entered_again_gets_its_whole_bound_again(tmp_path):
    running, finished = Reply(200, {"running": True}), Reply(200, {"running": False})
    execution = execute(write_document(tmp_path, BATCHES), {
        "POST /jobs": [Reply(202, {"id": "j-1"}), Reply(202, {"id": "j-2"})],
        # Each job runs for two reads, within maxIterations 2 of its own poll loop.
        "GET /jobs/{jobId}": [running, running, finished, running, running, finished],
        "GET /items": [Reply(200, {"more": True}), Reply(200, {"more": False})],
    })

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["POST /jobs"] + ["GET /jobs/j-1"] * 3 + ["GET /items", "POST /jobs"] + ["GET /jobs/j-2"] * 3 + ["GET /items"]


WATCH = """\
workflows:
- workflowId: watch-job
  steps:
  - stepId: poll
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: j-1}
    successCriteria:
    - condition: $statusCode == 200
    onSuccess:
    - name: stillRunning
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/running == true
      x-loop: {waitSeconds: 0, maxIterations: 5}
    onFailure:
    - name: whenBusy
      type: retry
      retryAfter: 0
      retryLimit: 1
      criteria:
      - condition: $statusCode == 503
"""


def test_a_success_gives_the_retry_budget_back_for_the_next_run_of_the_step(tmp_path):
    execution = execute(write_document(tmp_path, WATCH), {
        "GET /jobs/{jobId}": [BUSY_JOB, Reply(200, {"running": True}), BUSY_JOB, Reply(200, {"running": False})],
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["GET /jobs/j-1"] * 4
    assert execution.states.count("poll.whenBusy.Wait") == 2


EARLY_END = """\
workflows:
- workflowId: ensure-item
  inputs:
    type: object
    properties:
      name: {type: string}
  steps:
  - stepId: find
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $inputs.name}
    outputs:
      exists: $response.body#/exists
    onSuccess:
    - name: alreadyThere
      type: end
      criteria:
      - condition: $response.body#/exists == true
  - stepId: create
    operationId: createItem
    requestBody:
      payload:
        name: $inputs.name
  outputs:
    exists: $steps.find.outputs.exists
"""


@pytest.mark.parametrize("exists, requests", [
    (True, ["GET /items/bolt"]),
    (False, ["GET /items/bolt", "POST /items"]),
])
def test_end_stops_early_with_the_outputs_available(tmp_path, exists, requests):
    execution = execute(write_document(tmp_path, EARLY_END), {
        "GET /items/{itemId}": Reply(200, {"exists": exists}),
        "POST /items": Reply(201, {"id": "it-1"}),
    }, inputs={"name": "bolt"})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output == {"exists": exists}
    assert execution.requests == requests


ORDERED_ACTIONS = """\
workflows:
- workflowId: restock
  steps:
  - stepId: count
    operationId: listItems
    onSuccess:
    - name: plenty
      type: goto
      stepId: report
      criteria:
      - condition: $response.body#/stock > 5
    - name: some
      type: end
      criteria:
      - condition: $response.body#/stock > 0
  - stepId: order
    operationId: startJob
  - stepId: report
    operationId: createReport
"""


@pytest.mark.parametrize("stock, requests", [
    (9, ["GET /items", "POST /reports"]),  # both actions' criteria hold: the first one wins
    (2, ["GET /items"]),  # only the second one holds
    (0, ["GET /items", "POST /jobs", "POST /reports"]),  # none holds: on to the next step
])
def test_the_first_matching_success_action_wins_and_none_means_the_next_step(tmp_path, stock, requests):
    execution = execute(write_document(tmp_path, ORDERED_ACTIONS), {
        "GET /items": Reply(200, {"stock": stock}),
        "POST /jobs": Reply(202),
        "POST /reports": Reply(201),
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == requests


# --- onFailure ------------------------------------------------------------------------------

RESERVE = """\
workflows:
- workflowId: reserve
  steps:
  - stepId: reserve
    operationId: createItem
    successCriteria:
    - condition: $statusCode == 201
    onSuccess:
    - name: reserved
      type: end
    onFailure:
    - name: whileUnavailable
      type: retry
      retryAfter: 0
      retryLimit: 2
      criteria:
      - condition: $statusCode == 503
    - name: queueInstead
      type: goto
      stepId: queue
  - stepId: queue
    operationId: startJob
"""
UNAVAILABLE = Reply(503, {"error": "busy"})


def test_retry_limit_2_retries_twice_then_the_later_actions_apply(tmp_path):
    execution = execute(write_document(tmp_path, RESERVE), {"POST /items": UNAVAILABLE, "POST /jobs": Reply(202)})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items"] * 3 + ["POST /jobs"]
    assert execution.states.count("reserve.whileUnavailable.Wait") == 2
    assert execution.sleeps == []  # retry actions wait in Wait states, not in Task retriers


def test_a_retry_that_succeeds_carries_on_from_the_step(tmp_path):
    execution = execute(write_document(tmp_path, RESERVE), {
        "POST /items": [UNAVAILABLE, UNAVAILABLE, Reply(201, {"id": "it-1"})],
        "POST /jobs": Reply(202),
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items"] * 3


def test_a_failure_the_retry_criteria_do_not_match_goes_straight_to_the_later_actions(tmp_path):
    execution = execute(write_document(tmp_path, RESERVE), {"POST /items": Reply(409, {"error": "exists"}), "POST /jobs": Reply(202)})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items", "POST /jobs"]


RETRY_ONLY = """\
workflows:
- workflowId: reserve
  steps:
  - stepId: reserve
    operationId: createItem
    successCriteria:
    - condition: $statusCode == 201
    onFailure:
    - name: again
      type: retry
      retryAfter: 0
{limit}
"""


@pytest.mark.parametrize("limit, attempts", [("", 2), ("      retryLimit: 2\n", 3), ("      retryLimit: 0\n", 1)], ids=["no retryLimit", "retryLimit 2", "retryLimit 0"])
def test_a_spent_retry_budget_with_nothing_after_it_fails_the_workflow(tmp_path, limit, attempts):
    execution = execute(write_document(tmp_path, RETRY_ONLY.format(limit=limit)), {"POST /items": UNAVAILABLE})

    cause = assert_step_failed(execution, "reserve", 503)
    assert cause["response"] == {"error": "busy"}
    # Without retryLimit the spec allows exactly one retry.
    assert execution.requests == ["POST /items"] * attempts


@pytest.mark.parametrize("headers, wait_state", [
    ({}, "reserve.again.Wait"),
    ({"Retry-After": "0"}, "reserve.again.WaitRetryAfter"),
])
def test_a_retry_after_header_wins_over_retry_after(tmp_path, headers, wait_state):
    execution = execute(write_document(tmp_path, RETRY_ONLY.format(limit="")), {
        "POST /items": [Reply(503, {"error": "busy"}, headers), Reply(201, {"id": "it-1"})],
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /items", "POST /items"]
    waits = [t.state for t in execution.transitions if t.state_type == "Wait"]
    assert waits == [wait_state]


RELOGIN = """\
workflows:
- workflowId: fetch-item
  steps:
  - stepId: login
    operationId: login
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      token: $response.body#/token
  - stepId: fetch
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    - {name: Authorization, in: header, value: 'Bearer {$steps.login.outputs.token}'}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
    onFailure:
    - name: relogin
      type: retry
      stepId: login
      retryAfter: 0
      retryLimit: 1
      criteria:
      - condition: $statusCode == 401
  outputs:
    name: $steps.fetch.outputs.name
"""


def test_a_retry_naming_a_step_runs_that_step_then_the_failing_one(tmp_path):
    execution = execute(write_document(tmp_path, RELOGIN), {
        "POST /login": [Reply(200, {"token": "t-1"}), Reply(200, {"token": "t-2"})],
        "GET /items/{itemId}": [Reply(401, {"error": "expired"}), Reply(200, {"name": "bolt"})],
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /login", "GET /items/7", "POST /login", "GET /items/7"]
    assert execution.tasks == ["login", "fetch", "fetch.relogin.login", "fetch"]
    # The retried request carries the token of the second login.
    assert [call.headers.get("authorization") for call in execution.server.calls[1::2]] == ["Bearer t-1", "Bearer t-2"]
    assert execution.result.output == {"name": "bolt"}


def test_a_retry_target_that_fails_fails_the_workflow_on_the_target(tmp_path):
    execution = execute(write_document(tmp_path, RELOGIN), {
        "POST /login": [Reply(200, {"token": "t-1"}), Reply(403, {"error": "locked"})],
        "GET /items/{itemId}": Reply(401, {"error": "expired"}),
    })

    cause = assert_step_failed(execution, "login", 403)
    assert cause["response"] == {"error": "locked"}
    assert execution.requests == ["POST /login", "GET /items/7", "POST /login"]


FIND_OR_CREATE = """\
workflows:
- workflowId: find-or-create
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: find
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $inputs.itemId}
    onSuccess:
    - name: found
      type: end
    onFailure:
    - name: gone
      type: end
      criteria:
      - condition: $statusCode == 410
      x-fail:
        error: ItemGone
        cause:
          itemId: $inputs.itemId
          status: $statusCode
          reason: $response.body#/reason
    - name: missing
      type: goto
      stepId: create
      criteria:
      - condition: $statusCode == 404
      - condition: $response.body#/error == 'NO SUCH ITEM'
    - name: giveUp
      type: end
  - stepId: create
    operationId: createItem
    requestBody:
      payload:
        id: $inputs.itemId
"""


def test_goto_on_failure_runs_the_named_step(tmp_path):
    execution = execute(write_document(tmp_path, FIND_OR_CREATE), {
        "GET /items/{itemId}": Reply(404, {"error": "no such item"}),
        "POST /items": Reply(201),
    }, inputs={"itemId": "it-7"})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["GET /items/it-7", "POST /items"]
    assert execution.server.calls[1].body == {"id": "it-7"}


def test_a_failure_action_whose_criteria_do_not_all_hold_is_passed_over(tmp_path):
    # A 404 for another reason: `missing` needs both criteria, so `giveUp` ends the workflow.
    execution = execute(write_document(tmp_path, FIND_OR_CREATE), {
        "GET /items/{itemId}": Reply(404, {"error": "no such route"}),
        "POST /items": Reply(201),
    }, inputs={"itemId": "it-7"})

    assert_step_failed(execution, "find", 404)
    assert execution.requests == ["GET /items/it-7"]


def test_end_on_failure_fails_the_workflow_with_step_failed(tmp_path):
    execution = execute(write_document(tmp_path, FIND_OR_CREATE), {
        "GET /items/{itemId}": Reply(500, {"error": "oops"}),
        "POST /items": Reply(201),
    }, inputs={"itemId": "it-7"})

    cause = assert_step_failed(execution, "find", 500)
    assert cause["response"] == {"error": "oops"}
    assert execution.requests == ["GET /items/it-7"]


def test_end_with_x_fail_fails_with_the_named_error_and_cause(tmp_path):
    execution = execute(write_document(tmp_path, FIND_OR_CREATE), {
        "GET /items/{itemId}": Reply(410, {"reason": "discontinued"}),
        "POST /items": Reply(201),
    }, inputs={"itemId": "it-7"})

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ItemGone"
    assert execution.failure() == {"itemId": "it-7", "status": 410, "reason": "discontinued"}
    assert execution.requests == ["GET /items/it-7"]


UNREACHABLE = """\
workflows:
- workflowId: ping
{retry}  steps:
  - stepId: ping
    operationId: checkHealth
{actions}  - stepId: report
    operationId: createReport
"""
END_UNREACHABLE = """\
    onFailure:
    - name: unreachable
      type: end
      x-fail:
        error: ServiceUnreachable
        cause:
          message: The warehouse did not answer.
"""


def test_a_refused_connection_is_caught_and_the_failure_action_applies(tmp_path):
    document = write_document(tmp_path, UNREACHABLE.format(retry="", actions=END_UNREACHABLE))
    execution = execute(document, {}, server_url=closed_server_url())

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ServiceUnreachable"
    assert execution.failure() == {"message": "The warehouse did not answer."}
    assert execution.requests == []
    assert "ping.unreachable.Fail" in execution.states


def test_a_refused_connection_without_failure_actions_fails_with_transient_http_error(tmp_path):
    document = write_document(tmp_path, UNREACHABLE.format(retry="", actions=""))
    execution = execute(document, {}, server_url=closed_server_url())

    assert execution.result.status == "FAILED"
    assert execution.result.error == "TransientHttpError"
    assert "connection failed" in execution.result.cause
    assert execution.requests == []


def test_a_refused_connection_no_failure_action_matches_keeps_transient_http_error(tmp_path):
    # The only failure action is for 503; a connection error has no status code, so it does
    # not apply, and the function's own error ends the workflow.
    actions = """\
    onFailure:
    - name: whenBusy
      type: goto
      stepId: report
      criteria:
      - condition: $statusCode == 503
"""
    execution = execute(write_document(tmp_path, UNREACHABLE.format(retry="", actions=actions)), {}, server_url=closed_server_url())

    assert execution.result.status == "FAILED"
    assert execution.result.error == "TransientHttpError"
    assert "connection failed" in execution.result.cause
    assert execution.states[1:] == ["ping", "ping.OnFailure", "ping.Failed", "ping.Failed.Error"]
    assert execution.requests == []


def test_a_retry_action_retries_a_refused_connection_then_keeps_its_error(tmp_path):
    actions = "    onFailure:\n    - name: again\n      type: retry\n      retryAfter: 0\n"
    execution = execute(write_document(tmp_path, UNREACHABLE.format(retry="", actions=actions)), {}, server_url=closed_server_url())

    assert execution.result.status == "FAILED"
    assert execution.result.error == "TransientHttpError"
    assert execution.tasks == ["ping", "ping"]
    assert execution.states.count("ping.again.Wait") == 1
    assert execution.requests == []


def test_task_retries_come_first_then_the_failure_action_applies(tmp_path):
    retry = """\
  x-task-retry:
  - errors: [TransientHttpError]
    intervalSeconds: 1
    backoffRate: 2.0
    maxAttempts: 2
"""
    execution = execute(write_document(tmp_path, UNREACHABLE.format(retry=retry, actions=END_UNREACHABLE)), {}, server_url=closed_server_url())

    assert execution.result.status == "FAILED"
    assert execution.result.error == "ServiceUnreachable"
    assert execution.sleeps == [1, 2]
    assert execution.requests == []


# --- workflow-level actions, components, request templates -----------------------------------

WORKFLOW_ACTIONS = """\
workflows:
- workflowId: restock
  successActions:
  - name: stopWhenStocked
    type: end
    criteria:
    - condition: $response.body#/stocked == true
  failureActions:
  - name: retryWhenBusy
    type: retry
    retryAfter: 0
    retryLimit: 1
    criteria:
    - condition: $statusCode == 503
  steps:
  - stepId: check
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    onSuccess:
    - name: alreadyOrdered
      type: goto
      stepId: report
      criteria:
      - condition: $response.body#/ordered == true
  - stepId: order
    operationId: startJob
    onFailure:
    - name: orderRejected
      type: end
      criteria:
      - condition: $statusCode == 503
      x-fail:
        error: OrderRejected
  - stepId: report
    operationId: createReport
"""
BUSY = Reply(503, {"error": "busy"})


@pytest.mark.parametrize("check, order, status, requests", [
    # The step's own goto comes before the workflow's end, though both criteria hold.
    ([Reply(200, {"ordered": True, "stocked": True})], [Reply(202)], "SUCCEEDED", ["GET /items/7", "POST /reports"]),
    # No step action holds, so the workflow's end applies.
    ([Reply(200, {"stocked": True})], [Reply(202)], "SUCCEEDED", ["GET /items/7"]),
    # A step without failure actions of its own gets the workflow's retry.
    ([BUSY, Reply(200, {})], [Reply(202)], "SUCCEEDED", ["GET /items/7", "GET /items/7", "POST /jobs", "POST /reports"]),
    # The step's own failure action comes before the workflow's retry.
    ([Reply(200, {})], [BUSY], "FAILED", ["GET /items/7", "POST /jobs"]),
], ids=["step goto first", "workflow end", "workflow retry", "step end first"])
def test_workflow_level_actions_apply_after_the_steps_own(tmp_path, check, order, status, requests):
    execution = execute(write_document(tmp_path, WORKFLOW_ACTIONS), {
        "GET /items/{itemId}": check,
        "POST /jobs": order,
        "POST /reports": Reply(201),
    })

    assert execution.result.status == status, execution.result.cause
    if status == "FAILED":
        assert execution.result.error == "OrderRejected"
    assert execution.requests == requests


COMPONENTS = """\
workflows:
- workflowId: read-item
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: read
    operationPath: '{$sourceDescriptions.warehouse.url}#/paths/~1items~1{itemId}/get'
    parameters:
    - reference: $components.parameters.item
      value: $inputs.itemId
    - reference: $components.parameters.fields
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      name: $response.body#/name
    onFailure:
    - reference: $components.failureActions.retryOnce
  outputs:
    name: $steps.read.outputs.name
components:
  parameters:
    item:
      name: itemId
      in: path
      value: placeholder
    fields:
      name: fields
      in: query
      value: name,price
  failureActions:
    retryOnce:
      name: retryOnce
      type: retry
      retryAfter: 0
      retryLimit: 1
"""


def test_components_supply_parameters_with_a_value_override_and_failure_actions(tmp_path):
    execution = execute(write_document(tmp_path, COMPONENTS), {
        "GET /items/{itemId}": [Reply(500, {"error": "oops"}), Reply(200, {"name": "bolt"})],
    }, inputs={"itemId": "it-3"})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    # The operationPath names GET /items/{itemId}; the reference's value replaces the component's.
    assert execution.requests == ["GET /items/it-3", "GET /items/it-3"]
    assert [call.query for call in execution.server.calls] == [{"fields": ["name,price"]}] * 2
    assert execution.result.output == {"name": "bolt"}


TEMPLATES = """\
workflows:
- workflowId: report
  inputs:
    type: object
    properties:
      name: {type: string}
      first: {type: integer}
  steps:
  - stepId: report
    operationId: createReport
    parameters:
    - {name: q, in: query, value: 'name:{$inputs.name}'}
    requestBody:
      contentType: application/json
      payload:
        title: Report on {$inputs.name} from {$inputs.first}
        ids: [$inputs.first, 2, 'x-{$inputs.name}', true]
        plain: [1, 2]
        nested:
          keep: 1
          drop: 2
      replacements:
      - target: /nested/drop
        value: $inputs.first
      - target: /plain/-
        value: 3
      - target: /extra
        value: added
"""


def test_embedded_expressions_arrays_and_replacements_shape_the_request(tmp_path):
    execution = execute(write_document(tmp_path, TEMPLATES), {"POST /reports": Reply(201)}, inputs={"name": "bolt", "first": 7})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == ["POST /reports"]
    call = execution.server.calls[0]
    assert call.query == {"q": ["name:bolt"]}
    assert call.body == {
        "title": "Report on bolt from 7",
        "ids": [7, 2, "x-bolt", True],
        "plain": [1, 2, 3],
        "nested": {"keep": 1, "drop": 7},
        "extra": "added",
    }


def one_field_report(directory: Path, field: str) -> Path:
    """A step that posts a body of one field, written as YAML (`field` is `name: value`)."""
    return write_document(directory, f"""\
workflows:
- workflowId: report
  inputs:
    type: object
    properties:
      name: {{type: string}}
  steps:
  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        {field}
""")


@pytest.mark.parametrize("title, sent", [
    ("it's for {$inputs.name}", "it's for bolt"),
    ("{draft} for {$inputs.name}", "{draft} for bolt"),
], ids=["quote", "braces"])
def test_quotes_and_braces_around_an_embedded_expression_are_kept(tmp_path, title, sent):
    document = one_field_report(tmp_path, f"title: {json.dumps(title)}")
    execution = execute(document, {"POST /reports": Reply(201)}, inputs={"name": "bolt"})

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.server.calls[0].body == {"title": sent}


def test_a_null_item_in_an_array_holding_expressions_is_refused(tmp_path):
    # States.Array takes no null literal (moto drops one; AWS documents none), so the compiler
    # says so instead of sending a shorter array.
    with pytest.raises(ArazzoError, match="null"):
        compile_document(one_field_report(tmp_path, "ids: [$inputs.name, null]"))


# --- several workflows in one document ------------------------------------------------------

TWO_WORKFLOWS = """\
workflows:
- workflowId: add-item
  steps:
  - stepId: add
    operationId: createItem
    requestBody:
      payload: {name: bolt}
- workflowId: remove-item
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: remove
    operationId: deleteItem
    parameters:
    - {name: itemId, in: path, value: $inputs.itemId}
"""
WAREHOUSE = {"POST /items": Reply(201, {"id": "it-1"}), "DELETE /items/{itemId}": Reply(204)}


@pytest.mark.parametrize("workflow_id, inputs, requests", [
    ("add-item", {}, ["POST /items"]),
    ("remove-item", {"itemId": "it-1"}, ["DELETE /items/it-1"]),
])
def test_each_workflow_of_a_document_is_compiled_on_its_own(tmp_path, workflow_id, inputs, requests):
    execution = execute(write_document(tmp_path, TWO_WORKFLOWS), WAREHOUSE, inputs=inputs, workflow_id=workflow_id)

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.requests == requests


def test_a_document_with_several_workflows_needs_one_chosen(tmp_path):
    with pytest.raises(ArazzoError, match="add-item, remove-item"):
        compile_document(write_document(tmp_path, TWO_WORKFLOWS))


# --- a caught failure: the failed step's outputs read as null -----------------------------------

CAUGHT = """\
workflows:
- workflowId: look-or-report
  steps:
  - stepId: look
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: it-1}
    outputs:
      name: $response.body#/name
    onFailure:
    - name: report
      type: goto
      stepId: report
  - stepId: done
    operationId: checkHealth
    onSuccess:
    - {name: finish, type: end}
  - stepId: report
    operationId: createReport
  outputs:
    name: $steps.look.outputs.name
"""


def test_outputs_of_a_step_whose_error_was_caught_are_null(tmp_path):
    # An answer too large to keep: the step's function raises, the error is caught, and the
    # failure action goes on; the workflow's output reading the step gives null.
    execution = execute(write_document(tmp_path, CAUGHT), {
        "GET /items/{itemId}": Reply(200, {"name": "x" * 300_000}),
        "POST /reports": Reply(201, {}),
    })

    assert execution.result.status == "SUCCEEDED", execution.result.cause
    assert execution.result.output == {"name": None}
    assert execution.tasks == ["look", "report"]
