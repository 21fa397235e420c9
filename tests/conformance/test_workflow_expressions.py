"""Runtime expressions about other workflows and JSON pointers after outputs, compiled and run
in moto's Step Functions engine against a scripted server: `$workflows.<id>.inputs.<name>`
(the inputs the workflow ran with, where a step of this state machine ran it),
`$outputs.<name>#/pointer` in a workflowId step's outputs, and
`$workflows.<id>.outputs.<name>#/pointer`. A form that cannot be lowered is refused as not
supported, at the expression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arazzo_sfn import ArazzoError
from arazzo_sfn.compiler import compile_bundle, compile_document
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.local_run import run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer

DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "workflow-expressions" / "reservations.arazzo.yaml"

ROUTES = {
    "POST /items/{itemId}/reservations": [Reply(201, {"id": "res-7", "expires": "2026-12-08T00:00:00Z"})],
    "POST /reservations/{reservationId}/confirmation": [Reply(200, {"confirmed": True})],
}


def test_a_called_workflows_inputs_and_pointers_into_its_outputs_reach_the_next_step_and_the_outputs():
    bundle = compile_bundle(DOCUMENT, "restock")
    with ScriptedServer(ROUTES) as server:
        result = run_workflow(bundle.pop("restock"), {"itemId": "bolt"}, server.url, children=bundle, retry_sleep=lambda _: None, timeout_seconds=60)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    reserve, confirm = server.calls
    assert (reserve.line, reserve.body) == ("POST /items/bolt/reservations", {"quantity": 1})
    # The called workflow's own input, and its default for the one the step did not give.
    assert confirm.line == "POST /reservations/res-7/confirmation"
    assert confirm.body == {"itemId": "bolt", "quantity": 1, "expires": "2026-12-08T00:00:00Z"}
    output = result.output if isinstance(result.output, dict) else json.loads(result.output)
    assert output == {"reservationId": "res-7", "reservedQuantity": 1, "expires": "2026-12-08T00:00:00Z"}


def test_the_inputs_of_a_workflow_no_step_runs_are_refused_as_not_supported_at_the_expression():
    with pytest.raises(ArazzoError) as caught:
        compile_document(DOCUMENT, "audit")
    error = caught.value
    assert isinstance(error, UnsupportedConstruct)
    assert "not supported" in error.message and "$workflows.reserve-item.inputs.itemId" in error.message
    assert "is run by no workflowId step or dependsOn" in error.message
    assert error.location is not None and error.location.pointer == "/workflows/2/steps/0/parameters/0"


def test_a_pointer_into_the_outputs_of_a_workflow_run_as_a_child_execution_reaches_the_next_step():
    bundle = compile_bundle(DOCUMENT, "hold-and-confirm")
    assert list(bundle) == ["hold-and-confirm", "hold-item"]
    with ScriptedServer(ROUTES) as server:
        result = run_workflow(bundle.pop("hold-and-confirm"), {"itemId": "nut"}, server.url, children=bundle, retry_sleep=lambda _: None, timeout_seconds=60)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [call.line for call in server.calls] == ["POST /items/nut/reservations", "POST /reservations/res-7/confirmation"]
    output = result.output if isinstance(result.output, dict) else json.loads(result.output)
    assert output == {"expires": "2026-12-08T00:00:00Z"}


def test_the_inputs_of_a_workflow_run_as_a_child_execution_are_refused_as_not_supported_at_the_expression():
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_bundle(DOCUMENT, "hold-and-audit")
    error = caught.value
    assert "not supported" in error.message and "runs as a child execution" in error.message
    assert error.location is not None and error.location.pointer == "/workflows/5/steps/1/parameters/0"
