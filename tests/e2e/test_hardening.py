"""Bad input is refused before any call to Airbyte, and no secret ever leaves the functions."""

from __future__ import annotations

import json

from airbyte_resync.local import function_environment as ORIGINAL_ENVIRONMENT
from airbyte_resync.local import run_state_machines
from airbyte_resync.stub import Fault
from tests.e2e.conftest import CLIENT_SECRET, CONNECTION_ID

HUGE = "9" * 100_000
MALFORMED_INPUTS = [
    # (execution input, the field the refusal must name)
    ({}, "connectionId"),
    ({"connectionId": None}, "connectionId"),
    ({"connectionId": ""}, "connectionId"),
    ({"connectionId": 42}, "connectionId"),
    ({"connectionId": 4.2}, "connectionId"),
    ({"connectionId": True}, "connectionId"),
    ({"connectionId": []}, "connectionId"),
    ({"connectionId": [CONNECTION_ID]}, "connectionId"),
    ({"connectionId": {"id": CONNECTION_ID}}, "connectionId"),
    ({"connectionId": "not-a-uuid"}, "connectionId"),
    ({"connectionId": CONNECTION_ID[:-1]}, "connectionId"),
    ({"connectionId": CONNECTION_ID + "0"}, "connectionId"),
    ({"connectionId": CONNECTION_ID + "\n"}, "connectionId"),
    ({"connectionId": " " + CONNECTION_ID}, "connectionId"),
    ({"connectionId": CONNECTION_ID.replace("-", "")}, "connectionId"),
    ({"connectionId": "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"}, "connectionId"),
    ({"connectionId": HUGE}, "connectionId"),
    ({"connectionId": "../../jobs/1"}, "connectionId"),
    ({"connectionId": "..%2F..%2Fjobs"}, "connectionId"),
    ({"connectionId": f"{CONNECTION_ID}/../../applications/token"}, "connectionId"),
    ({"connectionId": f"{CONNECTION_ID}?jobType=sync"}, "connectionId"),
    ({"connectionId": f'{CONNECTION_ID}", "jobType": "sync'}, "connectionId"),
    ({"connectionId": "'; DROP TABLE jobs; --"}, "connectionId"),
    ({"connectionId": "${jndi:ldap://x/a}"}, "connectionId"),
    ({"connectionId": "<script>alert(1)</script>"}, "connectionId"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": -1}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 3601}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": "30"}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": None}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": [30]}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResetSeconds": 59}, "maxResetSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResetSeconds": 31536001}, "maxResetSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResetSeconds": "many"}, "maxResetSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResyncSeconds": False}, "maxResyncSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResyncSeconds": 0}, "maxResyncSeconds"),
    ({"connectionId": CONNECTION_ID, "waitForResync": "false"}, "waitForResync"),
    ({"connectionId": CONNECTION_ID, "waitForResync": 0}, "waitForResync"),
    ({"connectionId": CONNECTION_ID, "waitForResync": None}, "waitForResync"),
]


def test_malformed_inputs_are_refused_before_any_call_naming_the_field(harness):
    # All at once, on one deployment: each execution is refused by its own first state.
    results = run_state_machines([execution_input for execution_input, _ in MALFORMED_INPUTS], harness.stub.url, harness.credentials,
                                 retry_sleep=harness.clock.sleep if harness.clock else None)
    refused = 0
    for (execution_input, field), result in zip(MALFORMED_INPUTS, results, strict=True):
        label = json.dumps(execution_input)[:80]
        assert result.status == "FAILED", label
        assert result.error == "InvalidInput", f"{label}: {result.error} {result.cause}"
        cause = json.loads(result.cause)
        message = cause.get("message") or cause.get("errorMessage")
        assert field in message, f"{label}: {message}"
        assert harness.stub.calls == [], f"{label} reached Airbyte"
        refused += 1
    assert refused == len(MALFORMED_INPUTS) >= 30


def test_no_secret_or_token_appears_in_logs_outputs_errors_or_history(harness):
    # A run that exercises every path that handles credentials: token exchange, a 401
    # with renewal, transient retries, then a failure whose cause carries Airbyte's answer.
    harness.stub.inject("getJob", Fault.status(401), Fault.status(503))
    harness.stub.inject("createJob", Fault.delay(0), Fault.status(403))
    result = harness.run()

    assert result.error == "ResyncNotStarted"
    tokens = harness.stub.issued_tokens()
    assert len(tokens) == 2  # the first, and the one renewed after the 401
    captured = "\n".join([
        result.function_logs,
        json.dumps(result.history, default=str),
        json.dumps(result.to_json()),
        json.dumps([call.__dict__ for call in harness.stub.calls], default=str),
    ])
    assert "Airbyte answered" in captured and "step failed" in captured  # the functions' logs were captured
    for secret in [CLIENT_SECRET, *tokens]:
        assert secret not in captured
    assert "Bearer " + tokens[0][:8] not in captured


# ---------------------------------------------------------------- exactly one job per step

LambdaServiceException = type("Lambda.ServiceException", (Exception,), {})


def answer_lost_once(functions: set[str]):
    """The function runs, but its answer is lost once (as when Lambda or Step Functions
    fails between the two): the state machine retries the invocation."""
    lost: set[str] = set()

    def wrap(logical_id, handler):
        if logical_id not in functions:
            return handler

        def invoke(event, context):
            result = handler(event, context)
            if logical_id not in lost:
                lost.add(logical_id)
                raise LambdaServiceException("the answer was lost on the way back")
            return result

        return invoke

    return wrap


def test_a_trigger_retried_after_its_job_was_created_creates_no_second_job(harness):
    execution_input = {"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}

    result = harness.run_raw(execution_input, wrap_function=answer_lost_once({"TriggerResetFunction", "TriggerResyncFunction"}))

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["resetJobId"], result.output["resyncJobId"], result.output["resyncStatus"]) == (1001, 1002, "succeeded")
    # Each trigger ran twice (the Lambda service retrier), Airbyte saw each job created once.
    assert [job["jobType"] for job in harness.stub.jobs.values()] == ["reset", "sync"]
    assert [call.operation_id for call in harness.stub.calls].count("createJob") == 2
    task_failures = [event for event in result.history if event["type"] == "TaskFailed"]
    assert len(task_failures) == 2


def test_without_the_idempotency_record_the_retry_still_finds_the_job_it_created(harness, monkeypatch):
    # The same fault with the table switched off: the second line of defence, the retry's
    # look for a job newer than every job the run had seen, still keeps Airbyte at one reset.
    from airbyte_resync import local

    monkeypatch.setattr(local, "function_environment", lambda url, secret: {**ORIGINAL_ENVIRONMENT(url, secret), "IDEMPOTENCY_TABLE": ""})
    result = harness.run_raw({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}, wrap_function=answer_lost_once({"TriggerResetFunction"}))

    assert result.status == "SUCCEEDED", result.cause
    assert [job["jobType"] for job in harness.stub.jobs.values()] == ["reset", "sync"]
    reset_phase = [call.operation_id for call in harness.stub.calls][:6]
    assert reset_phase == ["createAccessToken", "getConnection", "listJobs", "createJob", "listJobs", "getJob"]  # looked, found, adopted
