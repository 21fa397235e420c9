"""Control transferred to another workflow, run as a child execution
(`arn:aws:states:::states:startExecution.sync:2`, the workflow compiled to a state machine of
its own):

- a `goto` action naming a workflow: the workflow runs, given the inputs of this workflow it
  declares, and this workflow ends with its outcome (its own outputs when the child
  succeeds, the child's error and cause when it fails);
- a `retry` action naming a workflow: the workflow runs first, then the step again;
- a `workflowId` step with failure actions or successCriteria, whose workflow would otherwise
  be inlined: it starts the workflow as a child execution, so its failure can be caught and
  its outputs judged. A step without them still inlines the workflow.

Each test compiles the workflow and its children (`compile_bundle`), runs them together in
moto against a scripted server, and checks the status, the outputs or the error and cause,
and the exact requests the server received. The documents are fixture files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_all, compile_bundle
from arazzo_sfn.errors import ArazzoWarning, SemanticError, UnsupportedConstruct
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.test_child_executions import START_CHILD, assert_succeeded, child_starts
from tests.conformance.test_constructs import Execution, assert_step_failed, execute

FIXTURES = Path(__file__).parents[1] / "fixtures" / "documents" / "workflow-transfers"
DOCUMENT = FIXTURES / "transfers.arazzo.yaml"
CLI = Path(sys.executable).parent / "arazzo-sfn"

RESERVE = "POST /items/{itemId}/reservations"
RESERVED = Reply(201, {"id": "r-1", "quantity": 2})
OUT_OF_STOCK = Reply(409, {"error": "out of stock"})
BACKORDERED = Reply(201, {"id": "b-1"})


def run(workflow_id: str, routes: dict, inputs: dict | None = None) -> Execution:
    return execute(DOCUMENT, routes, inputs={"itemId": "bolt"} if inputs is None else inputs, workflow_id=workflow_id)


def started_input(execution: Execution) -> dict:
    """The input of the one child execution the workflow started, without the console link."""
    (start,) = child_starts(execution)
    given = dict(start["Input"])
    assert given.pop("AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID") == execution.result.execution_arn
    return given


# --- goto a workflow -------------------------------------------------------------------------

def test_a_goto_on_failure_runs_the_workflow_and_ends_with_its_success():
    execution = run("order-item", {RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED, "POST /reports": Reply(201)})

    assert_succeeded(execution)
    # The step after the failed one does not run: control went to the backorder workflow.
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders"]
    # The inputs of this workflow the child declares: the required one, one with this
    # workflow's default; `priority` was not given, so the child's own default applies;
    # `channel` is not the child's.
    assert started_input(execution) == {"itemId": "bolt", "quantity": 2}
    assert execution.server.calls[1].body == {"itemId": "bolt", "quantity": 2, "priority": "normal"}
    # This workflow's own outputs, evaluated as at any end: the failed step's output is null.
    assert execution.result.output == {"reservationId": None}
    (start,) = child_starts(execution)
    assert start["StateMachineArn"].endswith(":stateMachine:backorder-item")
    assert re.match(r"^reserve-handOver-[0-9a-f]{32}$", start["Name"]), start["Name"]


def test_an_optional_input_given_to_the_workflow_reaches_the_workflow_it_goes_to():
    inputs = {"itemId": "bolt", "quantity": 5, "priority": "high", "channel": "phone"}
    execution = run("order-item", {RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED}, inputs)

    assert_succeeded(execution)
    assert started_input(execution) == {"itemId": "bolt", "quantity": 5, "priority": "high"}
    assert execution.server.calls[0].body == {"quantity": 5, "channel": "phone"}
    assert execution.server.calls[1].body == {"itemId": "bolt", "quantity": 5, "priority": "high"}


def test_a_goto_on_failure_ends_with_the_error_and_cause_of_the_workflow_it_went_to():
    execution = run("order-item", {RESERVE: OUT_OF_STOCK, "POST /backorders": Reply(422, {"reason": "discontinued"})})

    assert execution.result.status == "FAILED"
    assert execution.result.error == "BackorderRefused", (execution.result.error, execution.result.cause)
    assert execution.failure() == {"itemId": "bolt", "reason": "discontinued"}
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders"]


def test_a_goto_whose_criteria_do_not_hold_is_passed_over_and_the_step_fails():
    execution = run("order-item", {RESERVE: Reply(500, {"error": "broken"}), "POST /backorders": BACKORDERED})

    assert_step_failed(execution, "reserve", 500)
    assert execution.requests == ["POST /items/bolt/reservations"]
    assert child_starts(execution) == []


def test_the_workflow_goes_on_when_the_step_succeeds():
    execution = run("order-item", {RESERVE: RESERVED, "POST /reports": Reply(201)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /reports"]
    assert execution.result.output == {"reservationId": "r-1"}
    assert child_starts(execution) == []


def test_a_goto_on_success_runs_the_workflow_and_ends_with_this_workflows_outputs():
    # The step after it is left out: the goto is unconditional.
    with pytest.warns(ArazzoWarning, match="step 'never' can never be reached"):
        execution = run("quick-order", {RESERVE: RESERVED, "POST /reports": Reply(201)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /reports"]
    assert execution.server.calls[1].body == {"itemId": "bolt"}
    assert execution.result.output == {"reservationId": "r-1"}
    assert started_input(execution) == {"itemId": "bolt"}


def test_a_goto_inside_an_inlined_workflow_ends_that_workflow_and_its_caller_goes_on():
    execution = run("order-then-report", {RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED, "POST /reports": Reply(201)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders", "POST /reports"]
    assert started_input(execution) == {"itemId": "bolt", "quantity": 2}
    assert execution.server.calls[2].body == {"itemId": "bolt"}


def test_the_child_of_a_goto_inside_an_inlined_workflow_fails_the_whole_execution():
    execution = run("order-then-report", {RESERVE: OUT_OF_STOCK, "POST /backorders": Reply(422, {"reason": "discontinued"})})

    assert execution.result.status == "FAILED"
    assert execution.result.error == "BackorderRefused"
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders"]


# --- a retry that runs a workflow first --------------------------------------------------------

RESTOCK = "POST /items/{itemId}/restock"


def test_a_retry_runs_the_workflow_then_the_step_again_which_succeeds():
    execution = run("restock-then-reserve", {RESERVE: [OUT_OF_STOCK, RESERVED], RESTOCK: Reply(202)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /items/bolt/restock", "POST /items/bolt/reservations"]
    assert execution.result.output == {"reservationId": "r-1"}
    assert started_input(execution) == {"itemId": "bolt"}
    assert execution.tasks == ["reserve", "reserve.restockFirst.restock-item.Run", "reserve"]


def test_a_retry_whose_workflow_fails_ends_with_that_workflows_error():
    execution = run("restock-then-reserve", {RESERVE: OUT_OF_STOCK, RESTOCK: Reply(503, {"error": "closed"})})

    cause = assert_step_failed(execution, "restock", 503)  # the child's step, not `reserve`
    assert cause["operationId"] == "restockItem"
    assert execution.requests == ["POST /items/bolt/reservations", "POST /items/bolt/restock"]


def test_once_the_retry_limit_is_spent_the_step_fails():
    execution = run("restock-then-reserve", {RESERVE: OUT_OF_STOCK, RESTOCK: Reply(202)})

    assert_step_failed(execution, "reserve", 409)
    # retryLimit 1: the workflow ran once, the step twice.
    assert execution.requests == ["POST /items/bolt/reservations", "POST /items/bolt/restock", "POST /items/bolt/reservations"]
    assert len(child_starts(execution)) == 1


# --- a workflowId step with failure actions or successCriteria --------------------------------

def test_a_step_with_failure_actions_starts_its_workflow_as_a_child_execution():
    bundle = compile_bundle(DOCUMENT, "reserve-or-backorder")

    assert list(bundle) == ["reserve-or-backorder", "reserve-item"]
    step = bundle["reserve-or-backorder"]["States"]["reserveIt"]
    assert step["Resource"] == START_CHILD
    assert step["Parameters"]["StateMachineArn"] == "${ReserveItemStateMachineArn}"
    assert "reserveItem" not in json.dumps(bundle["reserve-or-backorder"])  # not inlined


def test_a_step_without_them_still_inlines_its_workflow():
    bundle = compile_bundle(DOCUMENT, "reserve-plainly")

    assert list(bundle) == ["reserve-plainly"]
    states = bundle["reserve-plainly"]["States"]
    assert states["reserveIt.reserve"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert START_CHILD not in json.dumps(states)


def test_the_failure_of_the_called_workflow_is_caught_by_the_steps_on_failure():
    execution = run("reserve-or-backorder", {RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders"]
    assert execution.server.calls[1].body == {"itemId": "bolt"}
    assert execution.tasks == ["reserveIt", "backorder"]
    assert execution.result.output == {"reservationId": None}  # the caught step's output


def test_the_failure_actions_are_not_taken_when_the_called_workflow_succeeds():
    execution = run("reserve-or-backorder", {RESERVE: RESERVED, "POST /reports": Reply(201)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /reports"]
    assert execution.server.calls[1].body == {"reservationId": "r-1"}
    assert execution.result.output == {"reservationId": "r-1"}


@pytest.mark.parametrize("quantity, holds", [(2, True), (0, False)])
def test_success_criteria_over_the_called_workflows_outputs(quantity, holds):
    execution = run("reserve-enough", {RESERVE: Reply(201, {"id": "r-1", "quantity": quantity})})

    assert execution.requests == ["POST /items/bolt/reservations"]
    if holds:
        assert_succeeded(execution)
        assert execution.result.output == {"reservationId": "r-1"}
        return
    assert execution.result.status == "FAILED"
    assert execution.result.error == "StepFailed", (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["step"] == "reserveIt" and cause["workflowId"] == "reserve-item"
    assert cause["outputs"] == {"reservationId": "r-1", "quantity": 0}


def test_a_called_workflow_that_fails_fails_a_step_with_success_criteria_with_its_error():
    execution = run("reserve-enough", {RESERVE: OUT_OF_STOCK})

    assert_step_failed(execution, "reserve", 409)  # the called workflow's step
    assert execution.requests == ["POST /items/bolt/reservations"]


# --- $workflows.<id>.outputs after a goto or retry ran the workflow -------------------------

OUTPUTS_DOCUMENT = FIXTURES / "transfer-outputs.arazzo.yaml"
RESTOCKED = Reply(202, {"id": "k-1", "eta": "tomorrow"})


def test_steps_after_a_retry_and_the_outputs_read_what_the_workflow_it_ran_gave_back():
    routes = {RESERVE: [OUT_OF_STOCK, Reply(201, {"id": "r-2"})], "POST /items/{itemId}/restock": RESTOCKED, "POST /reports": Reply(201)}
    execution = execute(OUTPUTS_DOCUMENT, routes, inputs={"itemId": "bolt"}, workflow_id="restock-then-reserve")

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /items/bolt/restock", "POST /items/bolt/reservations", "POST /reports"]
    # A later step's body and the workflow's outputs read the child's outputs.
    assert execution.server.calls[3].body == {"reservationId": "r-2", "restockId": "k-1"}
    assert execution.result.output == {"reservationId": "r-2", "restockId": "k-1", "restock": {"id": "k-1", "eta": "tomorrow"}}


def test_the_outputs_of_a_workflow_no_retry_ran_read_as_null():
    routes = {RESERVE: Reply(201, {"id": "r-1"}), "POST /reports": Reply(201)}
    execution = execute(OUTPUTS_DOCUMENT, routes, inputs={"itemId": "bolt"}, workflow_id="restock-then-reserve")

    assert_succeeded(execution)
    assert execution.server.calls[1].body == {"reservationId": "r-1"}  # a null member, left out as the body's nulls are
    assert execution.result.output == {"reservationId": "r-1", "restockId": None, "restock": None}
    assert child_starts(execution) == []


def test_after_a_goto_to_a_workflow_this_workflows_outputs_read_the_outputs_it_gave_back():
    # A goto is a one-way transfer: this workflow ends, its own outputs evaluated as at any end.
    execution = execute(OUTPUTS_DOCUMENT, {RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED}, inputs={"itemId": "bolt"}, workflow_id="order-item")

    assert_succeeded(execution)
    assert execution.requests == ["POST /items/bolt/reservations", "POST /backorders"]
    assert execution.result.output == {"reservationId": None, "backorderId": "b-1"}

    reserved = execute(OUTPUTS_DOCUMENT, {RESERVE: RESERVED}, inputs={"itemId": "bolt"}, workflow_id="order-item")
    assert_succeeded(reserved)
    assert reserved.result.output == {"reservationId": "r-1", "backorderId": None}


def test_a_pointer_into_the_outputs_of_a_workflow_a_retry_runs_is_refused_at_the_output():
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_bundle(OUTPUTS_DOCUMENT, "restock-eta")

    error = caught.value
    assert "'$workflows.restock-item.outputs.restock#/eta' is not supported" in error.message
    assert "null until it has run" in error.message
    assert error.location is not None and error.location.pointer.startswith("/workflows/1/outputs")


# --- the bundle, compile --all and `arazzo-sfn run` -------------------------------------------

def test_every_workflow_control_may_transfer_to_is_in_the_bundle():
    assert list(compile_bundle(DOCUMENT, "order-item")) == ["order-item", "backorder-item"]
    assert list(compile_bundle(DOCUMENT, "restock-then-reserve")) == ["restock-then-reserve", "restock-item"]
    assert list(compile_bundle(DOCUMENT, "reserve-enough")) == ["reserve-enough", "reserve-item"]


def test_children_whose_placeholders_clash_are_refused_when_compiling_them_all():
    with pytest.raises(SemanticError, match=r"'restock-item' and 'restock_item' would share the placeholder \$\{RestockItemStateMachineArn\}"):
        compile_all(FIXTURES / "clashing-children.arazzo.yaml")


def test_arazzo_sfn_run_runs_the_workflow_a_goto_transfers_to():
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SERVER_URL", "POWERTOOLS_"))}
    with ScriptedServer({RESERVE: OUT_OF_STOCK, "POST /backorders": BACKORDERED}) as server:
        done = subprocess.run(
            [str(CLI), "run", str(DOCUMENT), "--workflow", "order-item", "--input", '{"itemId": "bolt"}', "--server-url", server.url, "--json"],
            capture_output=True, text=True, env=environment, timeout=180,
        )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED", (result["error"], result["cause"])
    assert result["output"] == {"reservationId": None}
    assert server.sequence() == ["POST /items/bolt/reservations", "POST /backorders"]
