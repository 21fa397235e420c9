"""An execution aborted (or timed out) while its job runs gets that job cancelled: the
cancel-job function reads the execution's history in moto and cancels through the stub."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from airbyte_client import handler as handler_module
from airbyte_client.auth import NoAuth
from airbyte_client.client import AirbyteClient
from airbyte_client.config import Settings
from airbyte_resync.engine import ACCOUNT_ID, REGION, LocalFunctions, local_aws
from airbyte_resync.stub import AirbyteStub
from tests.e2e.conftest import CONNECTION_ID

APP = Path(__file__).resolve().parents[2] / "functions" / "cancel_job" / "app.py"
CONTEXT = SimpleNamespace(
    function_name="cancel-job", function_version="$LATEST", memory_limit_in_mb=256, aws_request_id="r-1",
    invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:cancel-job",
    get_remaining_time_in_millis=lambda: 60_000,
)


def load_cancel_function():
    spec = importlib.util.spec_from_file_location("cancel_job_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def execution_holding(job: dict) -> dict:
    """A machine whose state data holds the job as the real one does, then waits: long
    enough to be stopped while it 'polls'."""
    answer = {"statusCode": 200, "headers": {}, "body": job, "retryAfterSeconds": None, "criteria": {}}
    return {
        "StartAt": "triggerReset",
        "States": {
            "triggerReset": {"Type": "Pass", "Result": answer, "ResultPath": "$.steps.triggerReset", "Next": "pollReset.stillRunning.Wait"},
            "pollReset.stillRunning.Wait": {"Type": "Wait", "Seconds": 30, "End": True},
        },
    }


@pytest.fixture
def airbyte(monkeypatch):
    with AirbyteStub() as stub:
        monkeypatch.setenv("AIRBYTE_API_URL", stub.url)
        monkeypatch.setenv("AIRBYTE_SECRET_ID", "")
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        handler_module.forget_clients()
        yield stub
        handler_module.forget_clients()


def stopped_execution(job: dict, status: str = "ABORTED") -> dict:
    """Run the machine in moto, stop it while it waits, and return the status-change event."""
    client = boto3.client("stepfunctions", region_name=REGION)
    machine = client.create_state_machine(name="ResetAndResync", definition=json.dumps(execution_holding(job)), roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/r")["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=machine, name="to-stop", input=json.dumps({"steps": {}}))["executionArn"]
    for _ in range(200):
        events = client.get_execution_history(executionArn=execution)["events"]
        if any(e["type"] == "WaitStateEntered" for e in events):
            break
        time.sleep(0.02)
    client.stop_execution(executionArn=execution, error="Stopped", cause="by an operator")
    for _ in range(200):
        if client.describe_execution(executionArn=execution)["status"] != "RUNNING":
            break
        time.sleep(0.02)
    assert client.describe_execution(executionArn=execution)["status"] == "ABORTED"
    return {"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "detail": {"executionArn": execution, "stateMachineArn": machine, "status": status}}


def test_an_aborted_execution_has_its_running_job_cancelled(airbyte):
    airbyte.script("reset", ["running"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    airbyte.reset_calls()
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        event = stopped_execution(job)
        result = cancel(event, CONTEXT)

    assert result["cancelled"] == [{"jobId": job["jobId"], "was": "running", "statusCode": 200}]
    assert [(c.operation_id, c.status) for c in airbyte.calls] == [("getJob", 200), ("cancelJob", 200)]
    assert airbyte.jobs[job["jobId"]]["status"] == "cancelled"


def test_a_job_that_already_finished_is_left_alone(airbyte):
    airbyte.script("reset", ["succeeded"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    airbyte.reset_calls()
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(job, status="TIMED_OUT"), CONTEXT)

    assert result["cancelled"] == [] and result["finished"][0]["status"] == "succeeded"
    assert [c.operation_id for c in airbyte.calls] == ["getJob"]


def test_other_status_changes_cancel_nothing(airbyte):
    cancel = load_cancel_function()
    event = {"detail": {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:ResetAndResync:x", "status": "SUCCEEDED"}}

    result = cancel(event, CONTEXT)

    assert result["cancelled"] == [] and "SUCCEEDED" in result["skipped"]
    assert airbyte.calls == []
