"""An execution aborted (or timed out) while its job runs gets that job cancelled: the
cancel-job function reads the execution's history in moto and cancels through the stub."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import boto3
import pytest

from airbyte_client import handler as handler_module
from airbyte_client.auth import NoAuth
from airbyte_client.client import AirbyteClient
from airbyte_client.config import Settings
from airbyte_resync.stub import AirbyteStub
from arazzo_sfn.engine import ACCOUNT_ID, REGION, LocalFunctions, local_aws
from tests.e2e.conftest import CONNECTION_ID
from tests.lambda_context import LambdaContext
from tests.support.metrics import emitted_metrics

APP = Path(__file__).resolve().parents[2] / "functions" / "cancel_job" / "app.py"
CONTEXT = LambdaContext("cancel-job", aws_request_id="r-1")


def load_cancel_function():
    spec = importlib.util.spec_from_file_location("cancel_job_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def execution_holding(job: dict, sync: dict | None = None) -> dict:
    """A machine whose state data holds the reset job (and the sync, if given) as the real
    one does, then waits: long enough to be stopped while it 'polls'."""
    steps = {"triggerReset": job, **({"triggerResync": sync} if sync else {})}
    answers = {
        step: {"statusCode": 200, "headers": {}, "body": body, "retryAfterSeconds": None, "criteria": {}}
        for step, body in steps.items()
    }
    return {
        "StartAt": "steps",
        "States": {
            "steps": {"Type": "Pass", "Result": answers, "ResultPath": "$.steps", "Next": "pollReset.stillRunning.Wait"},
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


def stopped_execution(job: dict, status: str = "ABORTED", sync: dict | None = None) -> dict:
    """Run the machine in moto, stop it while it waits, and return the status-change event."""
    client = boto3.client("stepfunctions", region_name=REGION)
    machine = client.create_state_machine(name="ResetAndResync", definition=json.dumps(execution_holding(job, sync)), roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/r")["stateMachineArn"]
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
    # Airbyte cancels the connection's current job, whatever id it is given: the reset must be it.
    assert [(c.operation_id, c.status) for c in airbyte.calls] == [("getJob", 200), ("listJobs", 200), ("cancelJob", 200)]
    assert airbyte.jobs[job["jobId"]]["status"] == "cancelled"
    # It may have cleared part of the destination: the destination's alarm fires.
    assert result["destinationLeftReset"] == [CONNECTION_ID]


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT"])
def test_a_failed_or_timed_out_execution_has_its_running_reset_cancelled_too(airbyte, status):
    airbyte.script("reset", ["running"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(job, status=status), CONTEXT)

    assert [entry["jobId"] for entry in result["cancelled"]] == [job["jobId"]]
    assert result["destinationLeftReset"] == [CONNECTION_ID]


def test_a_reset_that_is_no_longer_the_connections_current_job_is_left_alone(airbyte):
    # DELETE /jobs/{id} would cancel whatever runs now for the connection: someone's new job.
    client = AirbyteClient(Settings(airbyte.url, NoAuth()))
    airbyte.script("reset", ["running"])
    reset = client.create_job(CONNECTION_ID, "reset").body
    airbyte.script("reset", ["running"])
    newer = client.create_job(CONNECTION_ID, "reset").body  # cancels ours, and runs
    _ = airbyte.jobs  # reading the jobs settles the stub
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(reset), CONTEXT)

    assert result["cancelled"] == []
    assert airbyte.jobs[newer["jobId"]]["status"] == "running"


def test_a_job_that_already_finished_is_left_alone(airbyte):
    airbyte.script("reset", ["succeeded"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    airbyte.reset_calls()
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(job, status="TIMED_OUT"), CONTEXT)

    assert result["cancelled"] == [] and result["finished"][0]["status"] == "succeeded"
    assert [c.operation_id for c in airbyte.calls] == ["getJob"]


def test_a_stop_between_a_succeeded_reset_and_its_sync_is_reported_as_an_empty_destination(airbyte, capsys, caplog):
    airbyte.script("reset", ["succeeded"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    airbyte.reset_calls()
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(job), CONTEXT)

    assert result["destinationLeftReset"] == [CONNECTION_ID]
    assert result["cancelled"] == []
    output = capsys.readouterr().out
    # Counted under its own name (the destination's alarm watches it) and logged as an error.
    assert emitted_metrics(output)["DestinationLeftReset"] == [1.0]
    (error,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "destination is empty" in error.getMessage() and error.connectionIds == [CONNECTION_ID]


def test_a_running_sync_is_never_cancelled(airbyte, capsys):
    client = AirbyteClient(Settings(airbyte.url, NoAuth()))
    airbyte.script("reset", ["succeeded"])
    reset = client.create_job(CONNECTION_ID, "reset").body
    airbyte.script("sync", ["running"])
    sync = client.create_job(CONNECTION_ID, "sync").body
    airbyte.reset_calls()
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        result = cancel(stopped_execution(reset, sync=sync), CONTEXT)

    # The sync refills the destination: it runs on, and nothing is reported empty.
    assert result["cancelled"] == [] and [(k["jobId"], k["status"]) for k in result["kept"]] == [(sync["jobId"], "running")]
    assert "runs on" in result["kept"][0]["why"]
    assert result["destinationLeftReset"] == []
    assert "DestinationLeftReset" not in emitted_metrics(capsys.readouterr().out)
    assert "cancelJob" not in [c.operation_id for c in airbyte.calls]
    assert airbyte.jobs[sync["jobId"]]["status"] == "running"


def test_other_status_changes_cancel_nothing(airbyte):
    cancel = load_cancel_function()
    event = {"detail": {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:ResetAndResync:x", "status": "SUCCEEDED"}}

    result = cancel(event, CONTEXT)

    assert result["cancelled"] == [] and "SUCCEEDED" in result["skipped"]
    assert airbyte.calls == []


def test_a_run_that_did_not_succeed_is_counted_by_its_error_name(airbyte, capsys):
    airbyte.script("reset", ["succeeded"])
    job = AirbyteClient(Settings(airbyte.url, NoAuth())).create_job(CONNECTION_ID, "reset").body
    cancel = load_cancel_function()

    with local_aws(LocalFunctions()):
        event = stopped_execution(job, status="FAILED")
        event["detail"]["error"] = "ResyncNotStarted"
        cancel(event, CONTEXT)

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    [ended] = [record for record in records if "RunsEnded" in record]
    assert (ended["Status"], ended["Error"], ended["RunsEnded"]) == ("FAILED", "ResyncNotStarted", [1.0])
    assert ["Error", "Status", "service"] == sorted(ended["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])
