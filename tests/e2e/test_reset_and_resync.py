"""The reset-and-resync state machine, end to end: committed ASL in moto, handlers
in-process, the Airbyte stub over HTTP. Each test checks the execution's status, error,
cause and outputs, and the exact HTTP calls Airbyte received."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from airbyte_resync.stub import Fault
from tests.e2e.conftest import CONNECTION_ID, cause_of

TOKEN = ("createAccessToken", 200)
CONNECTION = ("getConnection", 200)
LIST = ("listJobs", 200)
RESET = ("createJob", 200)
POLL = ("getJob", 200)
SYNC = ("createJob", 200)
# Before anything is reset: the connection read, then its jobs.
CHECKS = [TOKEN, CONNECTION, LIST]
# The default stub scripts: the reset and the sync each read twice to their end.
WATCHED = [RESET, POLL, POLL, SYNC, POLL, POLL]
OUTPUT = {
    "resetJobId": 1001, "resetStatus": "succeeded", "resyncJobId": 1002, "resyncStartedBy": "this-run", "resyncWatched": True,
    "resyncStatus": "succeeded", "rowsSynced": 12_345, "bytesSynced": 6_789_012, "resyncDuration": "PT0S",
}


def test_success_resets_polls_then_resyncs(harness):
    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == OUTPUT
    assert result.error is None and result.cause is None
    # One token for the whole run: warm invocations reuse it.
    assert harness.calls() == CHECKS + WATCHED
    assert [call.path for call in harness.stub.calls][1] == f"/connections/{CONNECTION_ID}"
    bodies = [call.body for call in harness.stub.calls if call.operation_id == "createJob"]
    assert bodies == [{"connectionId": CONNECTION_ID, "jobType": "reset"}, {"connectionId": CONNECTION_ID, "jobType": "sync"}]
    assert [call.path for call in harness.stub.calls if call.operation_id == "getJob"] == ["/jobs/1001"] * 2 + ["/jobs/1002"] * 2
    assert harness.created() == ["reset", "sync"]


def test_pending_queued_and_incomplete_all_mean_keep_polling(harness):
    harness.stub.script("reset", ["pending", "queued", "pending", "incomplete", "running", "succeeded"])

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == OUTPUT
    assert harness.calls() == CHECKS + [RESET] + [POLL] * 5 + [SYNC, POLL, POLL]
    polled = [call.path for call in harness.stub.calls if call.operation_id == "getJob"]
    assert polled == ["/jobs/1001"] * 5 + ["/jobs/1002"] * 2


@pytest.mark.parametrize("final_status", ["failed", "cancelled"])
def test_a_reset_that_did_not_succeed_fails_without_a_sync(harness, final_status):
    harness.stub.script("reset", ["pending", "running", final_status])

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "ResetFailed"
    cause = cause_of(result)
    assert cause["resetJobId"] == 1001 and cause["resetStatus"] == final_status
    assert "no sync was started" in cause["message"]
    assert result.output is None
    assert harness.calls() == CHECKS + [RESET, POLL, POLL]
    assert harness.created() == ["reset"]


def test_an_unknown_status_never_starts_a_sync(harness):
    harness.stub.script("reset", ["pending", "paused_by_operator"], allow_unknown=True)

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "UnexpectedJobStatus"
    assert cause_of(result)["resetStatus"] == "paused_by_operator"
    assert harness.calls() == CHECKS + [RESET, POLL]
    assert harness.created() == ["reset"]


def test_unknown_connection_fails_naming_the_step_and_airbyte_problem(harness):
    harness.stub.forget_connection(CONNECTION_ID)

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "StepFailed"
    cause = cause_of(result)
    assert cause["step"] == "checkConnection" and cause["statusCode"] == 404
    assert cause["response"]["title"] == "resource-not-found"
    assert CONNECTION_ID in json.dumps(cause["response"])
    assert "checkConnection" in cause["message"] and "404" in cause["message"]
    # A 404 is not retried, and nothing was reset.
    assert harness.calls() == [TOKEN, ("getConnection", 404)]
    assert harness.retry_sleeps == []


@pytest.mark.parametrize("status", ["inactive", "deprecated", "locked"])
def test_a_connection_that_is_not_active_is_not_reset(harness, status):
    # Airbyte would reset it, then refuse its sync (409 state-conflict): the destination empty.
    harness.stub.set_connection_status(CONNECTION_ID, status)

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "ConnectionNotActive"
    cause = cause_of(result)
    assert (cause["connectionId"], cause["connectionStatus"]) == (CONNECTION_ID, status)
    assert "nothing was reset" in cause["message"] and "Enable the connection" in cause["message"]
    assert harness.calls() == [TOKEN, CONNECTION]
    assert harness.created() == []


def test_unknown_job_fails_the_poll_step(harness):
    harness.stub.inject("getJob", Fault.status(404))

    result = harness.run()

    assert result.error == "StepFailed"
    cause = cause_of(result)
    # The child watching the reset failed; its own error and cause are the run's.
    assert (cause["step"], cause["statusCode"], cause["response"]["title"]) == ("pollJob", 404, "resource-not-found")
    assert harness.calls() == CHECKS + [RESET, ("getJob", 404)]
    assert harness.created() == ["reset"]


def test_unprocessable_request_is_not_retried(harness):
    harness.stub.inject("createJob", Fault.status(422))

    result = harness.run()

    assert result.error == "StepFailed"
    assert cause_of(result)["response"]["title"] == "unprocessable-entity"
    assert harness.calls() == CHECKS + [("createJob", 422)]
    assert harness.created() == []


def test_a_401_renews_the_token_once_and_carries_on(harness):
    harness.stub.inject("getJob", Fault.status(401))

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert harness.calls() == CHECKS + [RESET, ("getJob", 401), TOKEN, POLL, POLL, SYNC, POLL, POLL]
    tokens = [call.authorization for call in harness.stub.calls if call.operation_id == "getJob"]
    assert tokens == ["Bearer <redacted:1>"] + ["Bearer <redacted:2>"] * 4
    assert harness.retry_sleeps == []  # renewed inside the function, not by a state machine retry


def test_a_token_about_to_expire_is_renewed_before_use(harness):
    from airbyte_resync.stub import AirbyteStub
    from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET

    # Tokens that live 60 s are inside the renewal margin from the start: each call renews.
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=60) as short_lived:
        harness.stub = short_lived
        result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert harness.calls() == [TOKEN, CONNECTION, TOKEN, LIST] + [call for step in WATCHED for call in (TOKEN, step)]  # never a 401


def test_bad_client_credentials_fail_as_configuration_error(harness):
    from airbyte_resync.credentials import Credentials

    harness.credentials = Credentials(client_id="someone", client_secret="wrong-secret-value")

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "AirbyteConfigurationError"
    assert "not accepted" in result.cause
    assert "wrong-secret-value" not in result.cause
    assert harness.calls() == [("createAccessToken", 401)]
    assert harness.created() == []


def test_bursts_of_429_and_5xx_are_retried_with_backoff_then_recover(harness):
    harness.stub.inject("createJob", Fault.status(429), Fault.status(502))
    harness.stub.inject("getJob", Fault.status(500), Fault.status(503), Fault.status(504), Fault.status(429))

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == OUTPUT
    # A retried createJob first looks for a job its failed attempt may have created: one
    # newer than every job the run saw (the connection had none: any job of it).
    assert harness.calls() == CHECKS + [
        ("createJob", 429), LIST, ("createJob", 502), LIST, RESET,
        ("getJob", 500), ("getJob", 503), ("getJob", 504), ("getJob", 429), POLL, POLL,
        SYNC, POLL, POLL,
    ]
    # The faulted requests created nothing: exactly one reset job and one sync job.
    assert harness.created() == ["reset", "sync"]
    # Two retries for the reset; four for the poll, which retries for as long as the sync
    # does (30 s doubling); full jitter keeps each under its cap.
    caps = [5, 10, 30, 60, 120, 240]
    assert len(harness.retry_sleeps) == len(caps)
    assert all(0 <= slept <= cap for slept, cap in zip(harness.retry_sleeps, caps, strict=False))


def test_connection_errors_timeouts_and_try_again_later_are_transient(harness):
    harness.stub.inject("getJob", Fault.disconnect())
    harness.stub.inject("createJob", Fault.delay(0), Fault.status(409))  # the reset goes through; the sync meets a 409

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert ("getJob", 0) in harness.calls()
    assert ("createJob", 409) in harness.calls()
    assert harness.created() == ["reset", "sync"]


def test_retries_run_out_and_the_execution_fails_with_the_transient_error(harness):
    harness.stub.inject("createJob", *[Fault.status(503)] * 7)

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "TransientAirbyteError"
    message = json.loads(result.cause)["errorMessage"]
    assert "createJob" in message and "503" in message
    assert harness.calls() == CHECKS + [("createJob", 503)] + [LIST, ("createJob", 503)] * 6
    assert harness.created() == []
    assert len(harness.retry_sleeps) == 6


@pytest.mark.parametrize(
    "execution_input, field, source",
    [
        ({}, "connectionId", "state machine"),
        ({"connectionId": None}, "connectionId", "state machine"),
        ({"connectionId": 42}, "connectionId", "state machine"),
        ({"connectionId": ""}, "connectionId", "state machine"),
        ({"connectionId": "not-a-uuid"}, "connectionId", "function"),
        ({"connectionId": "../../jobs/1"}, "connectionId", "function"),
        ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": -1}, "pollIntervalSeconds", "state machine"),
        ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": "5"}, "pollIntervalSeconds", "state machine"),
        ({"connectionId": CONNECTION_ID, "maxResetSeconds": 0}, "maxResetSeconds", "state machine"),
        ({"connectionId": CONNECTION_ID, "maxResyncSeconds": "a month"}, "maxResyncSeconds", "state machine"),
        ({"connectionId": CONNECTION_ID, "waitForResync": "yes"}, "waitForResync", "state machine"),
    ],
)
def test_invalid_input_fails_at_once_naming_the_field(harness, execution_input, field, source):
    result = harness.run_raw(execution_input)

    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    cause = json.loads(result.cause)
    if source == "state machine":
        assert cause["field"] == field
        assert field in cause["message"]
    else:
        assert cause["errorType"] == "InvalidInput"
        assert field in cause["errorMessage"]
    assert harness.stub.calls == []  # nothing reached Airbyte, not even the token endpoint


def test_a_reset_past_max_reset_seconds_fails_with_reset_timed_out(clocked_harness):
    harness, clock = clocked_harness
    harness.stub.script_timed("reset", [("pending", 30), ("running", 86400)])

    result = harness.run(maxResetSeconds=120, pollIntervalSeconds=60)

    assert result.status == "FAILED"
    assert result.error == "ResetTimedOut"
    cause = cause_of(result)
    assert cause["resetJobId"] == 1001 and cause["resetStatus"] == "running" and cause["connectionId"] == CONNECTION_ID
    assert "may still be running" in cause["message"]
    # Reads at 0, 60, 120 and 180 s of the reset's age: the last is past 120 s.
    assert harness.calls() == CHECKS + [RESET] + [POLL] * 4
    assert clock.waits == [60, 60, 60]
    assert harness.created() == ["reset"]


def test_a_sync_refused_after_a_successful_reset_fails_as_resync_not_started(harness):
    harness.stub.inject("createJob", Fault.delay(0), Fault.status(403))  # the reset goes through; the sync is forbidden

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "ResyncNotStarted"
    cause = cause_of(result)
    assert cause["connectionId"] == CONNECTION_ID and cause["resetJobId"] == 1001
    assert "destination is empty" in cause["message"]
    assert harness.calls() == CHECKS + [RESET, POLL, POLL, ("createJob", 403)]
    assert harness.created() == ["reset"]


def test_the_sync_is_retried_for_hours_before_resync_not_started(harness):
    harness.stub.inject("createJob", Fault.delay(0), *[Fault.status(503)] * 23)

    result = harness.run()

    assert result.error == "ResyncNotStarted"
    # Each retry first looks for a sync its lost attempt may have created, above the reset.
    assert harness.calls() == CHECKS + [RESET, POLL, POLL, ("createJob", 503)] + [LIST, ("createJob", 503)] * 22
    assert harness.created() == ["reset"]
    # 22 retries of the sync, each waiting up to 30 s doubling to 15 minutes (full jitter):
    # up to about 4.5 hours in all, against 4.5 minutes for the other steps.
    caps = [min(30 * 2**n, 900) for n in range(22)]
    assert len(harness.retry_sleeps) == 22
    assert all(0 <= slept <= cap for slept, cap in zip(harness.retry_sleeps, caps, strict=False))
    assert sum(caps) > 4 * 3600


def test_a_sync_that_succeeds_after_a_long_outage_completes_the_run(harness):
    harness.stub.inject("createJob", Fault.delay(0), *[Fault.status(502)] * 10)

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == OUTPUT
    assert harness.created() == ["reset", "sync"]


# ---------------------------------------------------------------- one run per connection


def start_job_directly(harness, job_type: str, statuses: list[str]) -> int:
    """A job started outside this workflow (Airbyte's scheduler, or another run)."""
    from airbyte_client.auth import ClientCredentials
    from airbyte_client.client import AirbyteClient
    from airbyte_client.config import Settings
    from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET

    harness.stub.script(job_type, statuses)
    client = AirbyteClient(Settings(harness.stub.url, ClientCredentials(CLIENT_ID, CLIENT_SECRET)))
    job_id = client.create_job(CONNECTION_ID, job_type).body["jobId"]
    harness.stub.reset_calls()
    return job_id


@pytest.mark.parametrize("job_type, status", [("sync", "running"), ("reset", "pending"), ("sync", "queued"), ("sync", "incomplete")])
def test_a_connection_with_a_job_in_flight_is_not_reset(harness, job_type, status):
    job_id = start_job_directly(harness, job_type, [status])

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "ConnectionBusy"
    cause = cause_of(result)
    assert cause["connectionId"] == CONNECTION_ID and "no reset was started" in cause["message"]
    # The cause names the job that runs.
    assert (cause["jobId"], cause["jobType"], cause["jobStatus"]) == (job_id, job_type, status)
    assert harness.calls() == CHECKS  # nothing created
    assert [call.query for call in harness.stub.calls if call.operation_id == "listJobs"] == [
        {"connectionId": CONNECTION_ID, "limit": "20", "orderBy": "createdAt|DESC"}
    ]
    assert len(harness.stub.jobs) == 1


def test_a_second_run_while_the_first_one_resets_ends_at_once(harness):
    first_run_reset = start_job_directly(harness, "reset", ["pending", "running"])

    result = harness.run()

    assert result.error == "ConnectionBusy"
    assert harness.calls() == CHECKS
    assert list(harness.stub.jobs) == [first_run_reset]


def test_two_runs_started_together_reset_the_connection_once(harness):
    # The race Airbyte's job list cannot settle: the second run starts after the first one
    # checked the connection and before it created its reset, so Airbyte still shows the
    # connection idle. The first run's claim turns the second one away. The second run has
    # the first one's input: two requests for one connection, or a schedule and a request.
    second = {}

    def start_second_run_in_the_window(logical_id, handler):
        if logical_id != "TriggerResetFunction":  # after the first run's checks
            return handler

        def trigger_reset(event, context):
            if not second:
                client = boto3.client("stepfunctions")
                first = client.describe_execution(executionArn=event["executionId"])
                second["arn"] = client.start_execution(
                    stateMachineArn=first["stateMachineArn"], name="second-run", input=first["input"]
                )["executionArn"]
                second["end"] = wait_for_end(client, second["arn"])
            return handler(event, context)

        return trigger_reset

    result = harness.run_raw({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}, wrap_function=start_second_run_in_the_window)

    assert result.status == "SUCCEEDED", result.cause
    assert second["end"]["status"] == "FAILED" and second["end"]["error"] == "ConnectionBusy"
    message = json.loads(second["end"]["cause"])["errorMessage"]
    assert CONNECTION_ID in message and "execution" in message and "started nothing" in message
    # Airbyte heard from the first run only.
    assert harness.calls() == CHECKS + WATCHED
    assert harness.created() == ["reset", "sync"]


def wait_for_end(client, execution_arn: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        description = client.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still runs after {timeout} s")


def test_finished_jobs_do_not_block_a_reset(harness):
    start_job_directly(harness, "sync", ["succeeded"])
    start_job_directly(harness, "reset", ["failed"])

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert harness.calls() == CHECKS + WATCHED
