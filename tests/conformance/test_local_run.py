"""`run_workflow`: a compiled workflow executed in moto, every step on the operation function."""

from __future__ import annotations

import os

import pytest

from arazzo_sfn import compile_document
from arazzo_sfn.engine import LocalFunctions, function_arn
from arazzo_sfn.local_run import StepTransition, bind_functions, run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.conftest import SHELTER, WORKFLOW


def test_the_run_uses_the_given_server_and_puts_the_environment_back(shelter_workflow, monkeypatch):
    monkeypatch.setenv("SERVER_URL", "http://127.0.0.1:9/elsewhere")
    monkeypatch.setenv("SERVER_URL_SHELTER", "http://127.0.0.1:9/shelter-elsewhere")
    asl = compile_document(shelter_workflow)
    transitions: list[StepTransition] = []
    with ScriptedServer(SHELTER) as server:
        result = run_workflow(asl, {"petId": 7}, server.url, on_transition=transitions.append, timeout_seconds=60)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"name": "Rex", "adoptionId": "adoption-1"}
    assert server.sequence() == ["GET /pets/7", "POST /adoptions"]
    assert os.environ["SERVER_URL"] == "http://127.0.0.1:9/elsewhere"
    assert os.environ["SERVER_URL_SHELTER"] == "http://127.0.0.1:9/shelter-elsewhere"
    tasks = [(t.state, t.status_code) for t in transitions if t.state_type == "Task"]
    assert tasks == [("findPet", 200), ("adopt", 201)]
    # The function's output (its metrics, printed at each call) is kept, not printed.
    assert result.function_logs.count('"OperationCalls":[1.0]') == 2


def test_retries_use_the_given_sleep(shelter_workflow):
    # Every attempt fails to connect, which the function reports as TransientHttpError.
    document = WORKFLOW.replace("  inputs:\n", "  x-task-retry:\n  - errors: [TransientHttpError]\n    intervalSeconds: 3\n    backoffRate: 2.0\n    maxAttempts: 2\n  inputs:\n", 1)
    shelter_workflow.write_text(document, encoding="utf-8")
    with ScriptedServer({}) as closed:
        url = closed.url
    sleeps: list[float] = []

    result = run_workflow(compile_document(shelter_workflow), {"petId": 7}, url, retry_sleep=sleeps.append, timeout_seconds=60)

    assert result.status == "FAILED"
    assert result.error == "TransientHttpError"
    assert sleeps == [3, 6]


def test_a_missing_operation_function_is_reported_before_anything_runs(shelter_workflow, tmp_path):
    with pytest.raises(FileNotFoundError, match="operation function"):
        run_workflow(compile_document(shelter_workflow), {"petId": 7}, "http://127.0.0.1:9", function_path=tmp_path / "app.py")


def test_every_placeholder_is_bound_to_the_handler():
    functions = LocalFunctions()
    handler = object()
    definition = '{"a": "${FindPetFunctionArn}", "b": "${AdoptFunctionArn}", "c": "${FindPetFunctionArn}"}'

    bound = bind_functions(definition, functions, handler)

    assert "${" not in bound
    assert set(functions.handlers) == {function_arn("arazzo-local-FindPetFunctionArn"), function_arn("arazzo-local-AdoptFunctionArn")}
    assert all(registered is handler for _, registered in functions.handlers.values())


def test_a_step_answer_the_server_does_not_have_fails_the_step(shelter_workflow):
    with ScriptedServer({"GET /pets/{petId}": [Reply(200, {"id": 7, "name": "Rex"})]}) as server:
        result = run_workflow(compile_document(shelter_workflow), {"petId": 7}, server.url, timeout_seconds=60)

    assert result.status == "FAILED" and result.error == "StepFailed"
    assert server.sequence() == ["GET /pets/7", "POST /adoptions"]
    assert server.calls[1].route is None and server.calls[1].status == 404
